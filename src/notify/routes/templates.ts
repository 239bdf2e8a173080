import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** /api/templates (FR-004/005). Being built. */
export async function templateRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
