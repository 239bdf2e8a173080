import { accessRoutes } from '../pages/access/routes.ts';
import { auditRoutes } from '../pages/audit/routes.ts';
import { dashboardRoutes } from '../pages/dashboard/routes.ts';
import { eventsRoutes } from '../pages/events/routes.ts';
import { filesRoutes } from '../pages/files/routes.ts';
import { notifyRoutes } from '../pages/notify/routes.ts';
import { templatesRoutes } from '../pages/templates/routes.ts';
import type { PanelRoute } from './panel-route.ts';

/** Every screen of the panel, in navigation order. */
export const PANEL_ROUTES: readonly PanelRoute[] = [
  ...dashboardRoutes,
  ...eventsRoutes,
  ...templatesRoutes,
  ...notifyRoutes,
  ...filesRoutes,
  ...accessRoutes,
  ...auditRoutes,
];
