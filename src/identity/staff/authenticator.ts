import type { FastifyReply, FastifyRequest } from 'fastify';
import { BEARER_CHALLENGE, registerAuthenticator } from '../../platform/auth/access.ts';
import {
  type Permission,
  STAFF_ROLE_PERMISSIONS,
  STAFF_ROLES,
  type StaffRole,
} from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { staffClock } from './clock.ts';
import { type SessionCookie, sessionCookie } from './cookie.ts';
import { checkCsrfToken, checkOrigin, isMutating, parseTrustedOrigins } from './csrf.ts';
import { type Lifetimes, lifetimes, loadSession, SESSION_END_MESSAGES } from './sessions.ts';

/** The session a request was authenticated by (set by the authenticator, read by the session routes). */
export interface CurrentSession {
  key: Buffer;
  handle: string;
  staffId: string;
  csrfToken: string;
}

const current = new WeakMap<FastifyRequest, CurrentSession>();

export function currentSession(request: FastifyRequest): CurrentSession | undefined {
  return current.get(request);
}

// Built once: a role's permissions as the set every check looks into.
const ROLE_PERMISSIONS = Object.fromEntries(
  STAFF_ROLES.map((role) => [role, new Set<Permission>(STAFF_ROLE_PERMISSIONS[role])]),
) as unknown as Record<StaffRole, ReadonlySet<Permission>>;

/** What the staff part knows per platform: the cookie, the lifetimes, the trusted origins. */
export interface StaffSettings {
  cookie: SessionCookie;
  life: Lifetimes;
  trustedOrigins: ReadonlySet<string>;
}

const settingsOf = new WeakMap<Platform, StaffSettings>();

export function staffSettings(platform: Platform): StaffSettings {
  let settings = settingsOf.get(platform);
  if (!settings) {
    settings = {
      cookie: sessionCookie(platform.config),
      life: lifetimes(platform.config),
      trustedOrigins: parseTrustedOrigins(platform.config.STAFF_TRUSTED_ORIGINS),
    };
    settingsOf.set(platform, settings);
  }
  return settings;
}

const registered = new WeakSet<Platform>();

/**
 * The admin panel's session cookie as a way to authenticate any protected route. It claims only requests
 * with the cookie and without an `Authorization` header (that one is the Bearer authenticator's).
 * A mutating request it authenticates must come from our own origin and carry the session's CSRF token.
 */
export function registerStaffAuthenticator(platform: Platform): void {
  if (registered.has(platform)) return;
  registered.add(platform);
  const { cookie, life, trustedOrigins } = staffSettings(platform);
  registerAuthenticator(platform, {
    name: 'staff-session',
    async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> {
      if (request.headers.authorization !== undefined) return undefined;
      const token = cookie.read(request.headers.cookie);
      if (token === undefined) return undefined;
      const mutating = isMutating(request.method);
      // Cheap and before any query: a cross-site request never reaches the database.
      if (mutating) checkOrigin(request, trustedOrigins);
      const loaded = await loadSession(platform.db, token, staffClock(platform).now(), life);
      if ('end' in loaded) {
        reply.header('set-cookie', cookie.clear());
        reply.header('www-authenticate', BEARER_CHALLENGE);
        throw new AppError('SESSION_ENDED', 401, SESSION_END_MESSAGES[loaded.end]);
      }
      const { session, key } = loaded;
      if (mutating) checkCsrfToken(request, session.csrfToken);
      current.set(request, {
        key,
        handle: session.handle,
        staffId: session.staffId,
        csrfToken: session.csrfToken.toString('base64url'),
      });
      return {
        kind: 'staff',
        id: session.staffId,
        name: session.email,
        role: session.role,
        permissions: ROLE_PERMISSIONS[session.role],
      };
    },
  });
}
