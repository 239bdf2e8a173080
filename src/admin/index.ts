import type { Logger } from 'pino';
import type { BoxofficeModule, Platform } from '../platform/context.ts';
import { liveRoutes } from './live-routes.ts';
import { panelBuild, servePanel } from './panel/assets.ts';

/** The build each platform serves, found (or made) by `start` before the HTTP app is built. */
const builds = new WeakMap<Platform, Promise<string>>();
const buildOf = (platform: Platform, logger: Logger) => {
  let build = builds.get(platform);
  if (!build) {
    build = panelBuild(logger);
    builds.set(platform, build);
  }
  return build;
};

/**
 * The admin panel (docs/admin.md): the web app in web/, served by the platform under /admin, and the
 * few routes that exist for it alone (the live dashboard stream). Everything else it shows comes from
 * the documented routes of the other modules.
 */
export const adminModule: BoxofficeModule = {
  name: 'admin',
  async start(platform) {
    await buildOf(platform, platform.logger.child({ module: 'admin' }));
    return { stop: async () => {} };
  },
  async routes(app, platform) {
    await servePanel(app, await buildOf(platform, platform.logger.child({ module: 'admin' })));
    await liveRoutes(app, platform);
  },
};
