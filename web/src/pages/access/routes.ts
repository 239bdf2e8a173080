import type { PanelRoute } from '../../app/panel-route.ts';

export const accessRoutes: PanelRoute[] = [
  {
    path: 'service-accounts',
    permission: 'service-accounts:manage',
    nav: { label: 'Service accounts', section: 'Access' },
    load: () => import('./ServiceAccountsPage.tsx'),
  },
  {
    path: 'staff',
    permission: 'staff:manage',
    nav: { label: 'Staff', section: 'Access' },
    load: () => import('./StaffPage.tsx'),
  },
];
