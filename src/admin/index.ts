import type { BoxofficeModule } from '../platform/context.ts';
import { liveRoutes } from './live-routes.ts';
import { servePanel } from './panel/assets.ts';

/**
 * The admin panel (docs/admin.md): the web app in web/, served by the platform under /admin, and the
 * few routes that exist for it alone (the live dashboard stream). Everything else it shows comes from
 * the documented routes of the other modules.
 */
export const adminModule: BoxofficeModule = {
  name: 'admin',
  async routes(app, platform) {
    await servePanel(app, platform.logger.child({ module: 'admin' }));
    await liveRoutes(app, platform);
  },
};
