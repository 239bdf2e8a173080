import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** /api/notifications/scheduled (FR-002). Being built. */
export async function scheduleRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
