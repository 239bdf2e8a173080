import type { Platform } from '../../platform/context.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import { serviceAccountDirectory } from './directory.ts';
import { registerServiceAccountRateLimit } from './rate-limit-guard.ts';
import { serviceAccountRoutes } from './routes.ts';

export {
  authenticateClient,
  type ServiceAccountDirectory,
  type ServiceAccountState,
  serviceAccountDirectory,
} from './directory.ts';

/** Identity's route group for service accounts: the API, the rate limit guard and the directory's listener. */
export async function serviceAccountsPart(app: HttpApp, platform: Platform): Promise<void> {
  registerServiceAccountRateLimit(platform);
  // LISTEN from boot: the first token checked needs no wait for the listener.
  serviceAccountDirectory(platform);
  await serviceAccountRoutes(app, platform);
}
