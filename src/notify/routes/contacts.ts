import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** /api/notify/contacts. Being built. */
export async function contactRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
