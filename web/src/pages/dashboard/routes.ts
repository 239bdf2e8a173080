import type { PanelRoute } from '../../app/panel-route.ts';

export const dashboardRoutes: PanelRoute[] = [
  {
    path: '',
    permission: 'sales:read',
    nav: { label: 'Dashboard', section: 'Sales' },
    load: () => import('./DashboardPage.tsx'),
  },
];
