import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** POST /api/notifications, GET /api/notifications/{id}, dead letters. Being built. */
export async function notificationRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
