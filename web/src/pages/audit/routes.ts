import type { PanelRoute } from '../../app/panel-route.ts';

export const auditRoutes: PanelRoute[] = [
  {
    path: 'audit',
    permission: 'audit:read',
    nav: { label: 'Audit log', section: 'Audit' },
    load: () => import('./AuditPage.tsx'),
  },
];
