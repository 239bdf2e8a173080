import type { PanelRoute } from '../../app/panel-route.ts';

export const notifyRoutes: PanelRoute[] = [
  {
    path: 'campaigns',
    permission: 'notify:read',
    nav: { label: 'Campaigns', section: 'Notify' },
    load: () => import('./CampaignsPage.tsx'),
  },
  { path: 'campaigns/:id', permission: 'notify:read', load: () => import('./CampaignPage.tsx') },
  {
    path: 'schedules',
    permission: 'notify:read',
    nav: { label: 'Schedules', section: 'Notify' },
    load: () => import('./SchedulesPage.tsx'),
  },
  {
    path: 'deliveries',
    permission: 'notify:read',
    nav: { label: 'Delivery log', section: 'Notify' },
    load: () => import('./DeliveriesPage.tsx'),
  },
  {
    path: 'dead-letters',
    permission: 'notify:read',
    nav: { label: 'Dead letters', section: 'Notify' },
    load: () => import('./DeadLettersPage.tsx'),
  },
  {
    path: 'notify-analytics',
    permission: 'notify:read',
    nav: { label: 'Analytics', section: 'Notify' },
    load: () => import('./AnalyticsPage.tsx'),
  },
];
