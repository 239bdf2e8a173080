import type { PanelRoute } from '../../app/panel-route.ts';

export const eventsRoutes: PanelRoute[] = [
  {
    path: 'events',
    permission: 'sales:read',
    nav: { label: 'Events', section: 'Sales' },
    load: () => import('./EventsPage.tsx'),
  },
  { path: 'events/:id', permission: 'sales:read', load: () => import('./EventPage.tsx') },
];
