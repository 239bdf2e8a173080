import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** Open pixel, click redirects, unsubscribe, provider callbacks (FR-006). Being built. */
export async function trackingRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
