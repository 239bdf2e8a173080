import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { recordFailedSignIn } from '../platform/audit/index.ts';
import { MemoryCache } from '../platform/cache/index.ts';
import type { Platform } from '../platform/context.ts';
import { AppError } from '../platform/http/errors.ts';
import { deriveKey, loadMasterKey } from '../platform/secrets/master-key.ts';
import { textProblem } from '../platform/storable-text.ts';
import { hashPassword, isLegacy, verifyPassword } from './passwords.ts';
import { findUserByEmail, upgradePasswordHash } from './store.ts';

export interface AuthenticatedUser {
  id: number;
  email: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by identity's basicAuth preHandler on routes that use it. */
    user: AuthenticatedUser | undefined;
  }
}

const CHALLENGE = 'Basic realm="boxoffice", charset="UTF-8"';
const MAX_CREDENTIALS_LENGTH = 1024;

// Fatal: bytes that are not UTF-8 are malformed credentials, not a U+FFFD to look up.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `Basic base64(email:password)`; the password may itself contain ':' (split on the first). Credentials that
 * are not UTF-8 text PostgreSQL can store (a NUL: storable-text.ts) are malformed: undefined, a 401.
 */
export function parseBasicAuthorization(
  header: string | undefined,
): { email: string; password: string } | undefined {
  if (!header || header.length > MAX_CREDENTIALS_LENGTH * 2 || !/^basic /i.test(header)) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(header.slice(6).trim(), 'base64'));
  } catch {
    return undefined;
  }
  if (textProblem(decoded)) return undefined;
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * A preHandler that signs the caller in with HTTP Basic and sets `request.user`.
 *
 * A slow salted hash per request would cap the API at a few dozen requests a second per core,
 * so a successful verification is remembered for AUTH_CACHE_TTL_SECONDS under an HMAC of the
 * credentials (no password is kept anywhere): in this process, and with REDIS_URL also in Redis, keyed
 * with a secret derived from the master key, so N API processes pay one slow hash per buyer, not N
 * (a new process joining a busy deployment would otherwise hash for every buyer it meets). Failures are counted
 * per account and per client address in the shared cache and throttled with 429. A legacy
 * unsalted hash from the data release is upgraded to scrypt after the first successful sign-in.
 */
export function basicAuth(platform: Platform): preHandlerAsyncHookHandler {
  // One per platform: every module's routes share the verified-credential cache, so a buyer pays the slow
  // hash once per process, not once per module whose routes they call.
  let hook = hooks.get(platform);
  if (!hook) {
    hook = createBasicAuth(platform);
    hooks.set(platform, hook);
  }
  return hook;
}

const hooks = new WeakMap<Platform, preHandlerAsyncHookHandler>();

function createBasicAuth(platform: Platform): preHandlerAsyncHookHandler {
  const { config, cache, db, logger } = platform;
  const verified = new MemoryCache({ maxEntries: config.AUTH_CACHE_MAX_ENTRIES });
  // Shared: every process must derive the same key. Alone: a random one, gone with the process.
  const shared = platform.redis !== undefined;
  let secret: Buffer | Promise<Buffer> = shared
    ? loadMasterKey(config).then((master) => (secret = deriveKey(master, 'basic-auth-cache')))
    : randomBytes(32);
  const cacheTtlMs = config.AUTH_CACHE_TTL_SECONDS * 1000;
  const windowMs = config.AUTH_FAILURE_WINDOW_SECONDS * 1000;
  const upgrading = new Set<number>();

  const refuse = (reply: FastifyReply, code: string, message: string): never => {
    reply.header('www-authenticate', CHALLENGE);
    throw new AppError(code, 401, message);
  };

  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const credentials = parseBasicAuthorization(request.headers.authorization);
    if (!credentials) {
      const message = request.headers.authorization
        ? 'The Authorization header must be Basic base64(email:password) of UTF-8 text without NUL characters'
        : 'HTTP Basic credentials (email:password) are required';
      return refuse(reply, 'UNAUTHENTICATED', message);
    }
    const email = credentials.email.toLowerCase();
    const key = createHmac('sha256', secret instanceof Buffer ? secret : await secret)
      .update(email)
      .update('\0')
      .update(credentials.password)
      .digest('base64');
    const sharedKey = `auth:verified:${key}`;
    let remembered = await verified.get(key);
    if (!remembered && shared && cacheTtlMs > 0) {
      // `<user id> <expiry ms>`: the local copy expires when the first verification's trust does.
      const [id, until] = (await cache.get(sharedKey))?.split(' ') ?? [];
      const leftMs = Number(until) - Date.now();
      if (id && leftMs > 0) {
        remembered = id;
        await verified.set(key, id, leftMs);
      }
    }
    if (remembered) {
      request.user = { id: Number(remembered), email };
      return;
    }

    const accountKey = `auth:fail:account:${email}`;
    const addressKey = `auth:fail:address:${request.ip}`;
    const [accountFailures, addressFailures] = await cache.getMany([accountKey, addressKey]);
    if (
      Number(accountFailures ?? 0) >= config.AUTH_MAX_FAILURES_PER_ACCOUNT ||
      Number(addressFailures ?? 0) >= config.AUTH_MAX_FAILURES_PER_ADDRESS
    ) {
      reply.header('retry-after', String(config.AUTH_FAILURE_WINDOW_SECONDS));
      throw new AppError('TOO_MANY_FAILED_SIGN_INS', 429, 'Too many failed sign-ins; try again later');
    }

    const user = await findUserByEmail(db, email);
    const valid = user !== undefined && (await verifyPassword(credentials.password, user.passwordHash));
    if (!user || !valid) {
      await Promise.all([cache.increment(accountKey, 1, windowMs), cache.increment(addressKey, 1, windowMs)]);
      // A security event for the audit log, counted in memory and written once a minute per account.
      recordFailedSignIn(platform, {
        kind: 'basic',
        subject: email,
        address: request.ip,
        reason: user ? 'wrong password' : 'unknown email',
      });
      return refuse(reply, 'INVALID_CREDENTIALS', 'Wrong email or password');
    }
    if (!user.isActive) return refuse(reply, 'ACCOUNT_INACTIVE', 'This account is inactive');

    if (cacheTtlMs > 0) {
      await verified.set(key, String(user.id), cacheTtlMs);
      if (shared) await cache.set(sharedKey, `${user.id} ${Date.now() + cacheTtlMs}`, cacheTtlMs);
    }
    request.user = { id: user.id, email };
    if (isLegacy(user.passwordHash) && !upgrading.has(user.id)) {
      // Off the request path: the caller does not wait for the slow hash.
      upgrading.add(user.id);
      hashPassword(credentials.password)
        .then((upgraded) => upgradePasswordHash(db, user.id, user.passwordHash, upgraded))
        .catch((error) => logger.warn({ err: error, userId: user.id }, 'password hash upgrade failed'))
        .finally(() => upgrading.delete(user.id));
    }
  };
}
