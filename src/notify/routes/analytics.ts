import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** GET /api/notify/analytics (FR-007). Being built. */
export async function analyticsRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
