import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';

/** /api/admin/bulk (FR-003). Being built. */
export async function bulkRoutes(_app: HttpApp, _platform: Platform): Promise<void> {}
