import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, type JWTPayload, jwtVerify } from 'jose';
import { type Authenticator, BEARER_CHALLENGE } from '../../platform/auth/access.ts';
import { isPermission, type Permission, SERVICE_ROLE_PERMISSIONS } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import {
  isAccountId,
  type ServiceAccountState,
  serviceAccountDirectory,
} from '../service-accounts/directory.ts';
import { ACCESS_TOKEN_TYPE } from './access-token.ts';
import { tokenClock } from './clock.ts';
import { issuerOf } from './issuer.ts';
import { keyringOf } from './keyring.ts';
import { VerifiedTokenCache } from './verified-cache.ts';

/** Verified tokens remembered per process (one per live token of each client is the common case). */
const VERIFIED_CACHE_ENTRIES = 10_000;
/** Longer is no token of ours; refusing it early bounds the work a forged header costs. */
const MAX_TOKEN_LENGTH = 8192;

interface Verified {
  /** exp + the clock tolerance, in ms: what verification itself would accept. */
  expiresAtMs: number;
  kid: string;
  sub: string;
  clientId: string;
  sav: number;
  permissions: readonly Permission[];
  /** Built for the account state it was checked against; reused while the directory returns the same state. */
  principal?: { account: ServiceAccountState; value: Principal };
}

class InvalidToken extends Error {}

/**
 * The Bearer authenticator (RFC 6750) for service accounts' access tokens: RS256 pinned, `typ` at+jwt,
 * iss, aud, exp and nbf (with IDENTITY_CLOCK_TOLERANCE_SECONDS), then the account: disabled, deleted or
 * changed since the token was issued (`sav`) → 401. A verified token is cached until it expires, so a
 * request with a known token costs a hash, two Map lookups and the directory's in-memory copy.
 */
export function bearerAuthenticator(platform: Platform): Authenticator {
  const { config } = platform;
  const keyring = keyringOf(platform);
  const directory = serviceAccountDirectory(platform);
  const cache = new VerifiedTokenCache<Verified>(VERIFIED_CACHE_ENTRIES);
  const toleranceMs = config.IDENTITY_CLOCK_TOLERANCE_SECONDS * 1000;
  // A withdrawn key (deleted before its grace ended, e.g. by hand) takes its cached tokens with it.
  keyring.onKeysChanged((trusted) => cache.retain((entry) => trusted(entry.kid)));

  const refuse = (reply: FastifyReply, description: string): never => {
    reply.header(
      'www-authenticate',
      `${BEARER_CHALLENGE}, error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`,
    );
    throw new AppError('INVALID_TOKEN', 401, description);
  };

  async function verify(token: string, now: number): Promise<Verified> {
    let kid = '';
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          if (typeof header.kid !== 'string') throw new InvalidToken('The access token has no kid');
          const key = await keyring.verificationKey(header.kid);
          if (!key) throw new InvalidToken('The access token was signed by an unknown key');
          kid = header.kid;
          return key;
        },
        {
          algorithms: ['RS256'],
          typ: ACCESS_TOKEN_TYPE,
          issuer: issuerOf(platform),
          audience: config.IDENTITY_AUDIENCE,
          clockTolerance: config.IDENTITY_CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now),
          requiredClaims: ['exp', 'nbf', 'iat', 'sub', 'jti'],
        },
      ));
    } catch (error) {
      throw new InvalidToken(describe(error));
    }
    const { sub, client_id: clientId, sav, permissions } = payload as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      !isAccountId(sub) ||
      typeof clientId !== 'string' ||
      !Number.isSafeInteger(sav) ||
      !Array.isArray(permissions) ||
      !permissions.every((p) => typeof p === 'string')
    ) {
      throw new InvalidToken('The access token lacks sub, client_id, sav or permissions');
    }
    return {
      expiresAtMs: payload.exp! * 1000 + toleranceMs,
      kid,
      sub,
      clientId,
      sav: sav as number,
      permissions: (permissions as string[]).filter(isPermission),
    };
  }

  return {
    name: 'bearer',
    async authenticate(request: FastifyRequest, reply: FastifyReply) {
      const header = request.headers.authorization;
      if (header === undefined || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'bearer') {
        return undefined;
      }
      const token = header.slice(6).trim();
      if (token.length === 0 || header.charCodeAt(6) !== 32)
        return refuse(reply, 'The Bearer token is missing');
      if (token.length > MAX_TOKEN_LENGTH) return refuse(reply, 'The access token is too long');

      const now = tokenClock(platform).now();
      const key = createHash('sha256').update(token).digest('base64');
      let verified = cache.get(key, now);
      if (!verified) {
        try {
          verified = await verify(token, now);
        } catch (error) {
          return refuse(reply, error instanceof InvalidToken ? error.message : 'The access token is invalid');
        }
        cache.set(key, verified);
      }

      const account = await directory.get(verified.sub);
      if (!account) return refuse(reply, 'The service account no longer exists');
      if (account.status !== 'active') return refuse(reply, 'The service account is disabled');
      if (account.version !== verified.sav) {
        return refuse(reply, 'The service account changed since the token was issued; request a new token');
      }
      if (verified.principal?.account !== account) {
        verified.principal = { account, value: principalOf(account, verified.permissions) };
      }
      return verified.principal.value;
    },
  };
}

/** The token's permissions, as far as the account's role still grants them. */
function principalOf(account: ServiceAccountState, tokenPermissions: readonly Permission[]): Principal {
  const granted = new Set<Permission>(SERVICE_ROLE_PERMISSIONS[account.role] ?? []);
  const principal: Principal = {
    kind: 'service_account',
    id: account.id,
    name: account.clientId,
    role: account.role,
    permissions: new Set(tokenPermissions.filter((p) => granted.has(p))),
  };
  if (account.rateLimit) principal.rateLimit = account.rateLimit;
  return principal;
}

function describe(error: unknown): string {
  if (error instanceof InvalidToken) return error.message;
  if (error instanceof errors.JWTExpired) return 'The access token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The access token is not valid yet';
    return `The access token's ${error.claim} claim is not accepted here`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The access token must be signed with RS256';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) {
    return 'The access token is malformed';
  }
  return 'The access token is invalid';
}
