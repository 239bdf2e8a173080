import type { BoxofficeModule } from '../../platform/context.ts';
import { tokenClock } from './clock.ts';
import { keyEncryption } from './key-crypto.ts';
import { keyringOf } from './keyring.ts';
import { rotateIfDue } from './rotation.ts';
import { tokenRoutes } from './routes.ts';

/**
 * Tokens: RS256 signing keys in PostgreSQL with rotation, the token endpoint, JWKS and RFC 8414 metadata,
 * and the Bearer authenticator (docs/identity.md, "Tokens, keys and rotation").
 */
// graphile-worker task names allow letters, digits, _, - and : (no dots).
export const ROTATE_KEYS_TASK = 'identity:rotate-signing-keys';

export const tokensPart = {
  routes: tokenRoutes satisfies NonNullable<BoxofficeModule['routes']>,

  tasks: ((platform) => ({
    [ROTATE_KEYS_TASK]: async () => {
      const outcome = await rotateIfDue({
        db: platform.db,
        settings: platform.config,
        encryption: await keyEncryption(platform.config),
        now: tokenClock(platform).now(),
      });
      if (outcome.outcome === 'rotated') {
        platform.logger.info({ module: 'identity', ...outcome.rotation }, 'signing keys rotated');
      } else if (outcome.outcome === 'waiting_for_next') {
        platform.logger.warn(
          { module: 'identity' },
          'signing key rotation due; the next key is not published long enough yet',
        );
      }
    },
  })) satisfies NonNullable<BoxofficeModule['tasks']>,

  /**
   * Every 5 minutes the job asks "is a rotation due?" (IDENTITY_KEY_ROTATION_HOURS after the current key
   * began signing): any period works, and a missed run (no worker for a while) is caught up at the next.
   */
  cron: { pattern: '*/5 * * * *', task: ROTATE_KEYS_TASK, identifier: 'identity-rotate-signing-keys' },

  /** Loads the keys (creating the first ones) at boot: a wrong MASTER_KEY stops the API with a clear message. */
  start: (async (platform) => {
    const keyring = keyringOf(platform);
    await keyring.start();
    return { stop: () => keyring.stop() };
  }) satisfies NonNullable<BoxofficeModule['start']>,
};

export { issueAccessToken } from './access-token.ts';
export { setTokenClock, tokenClock } from './clock.ts';
