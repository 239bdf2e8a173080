import type { PanelRoute } from '../../app/panel-route.ts';

export const templatesRoutes: PanelRoute[] = [
  {
    path: 'templates',
    permission: 'notify:read',
    nav: { label: 'Templates', section: 'Notify' },
    load: () => import('./TemplatesPage.tsx'),
  },
  { path: 'templates/:id', permission: 'notify:read', load: () => import('./TemplatePage.tsx') },
];
