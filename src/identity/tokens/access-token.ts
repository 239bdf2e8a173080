import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Permission } from '../../platform/auth/permissions.ts';
import type { Platform } from '../../platform/context.ts';
import type { ServiceAccountState } from '../service-accounts/directory.ts';
import { tokenClock } from './clock.ts';
import { issuerOf } from './issuer.ts';
import { keyringOf } from './keyring.ts';

/** RFC 9068 §2.1: the media type of a JWT access token (`typ`). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** The claims of our access tokens (RFC 9068 plus seed 002's client_id, role, permissions). */
export interface AccessTokenClaims {
  iss: string;
  aud: string[];
  sub: string;
  client_id: string;
  role: string;
  permissions: Permission[];
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  /** The service account's version when the token was issued: a change of the account voids the token. */
  sav: number;
  /** Present when the client asked for a scope: the permissions granted, space-separated. */
  scope?: string;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

/** Signs an access token for an authenticated service account with the current key (one RSA signature). */
export async function issueAccessToken(
  platform: Platform,
  account: ServiceAccountState,
  grant: { permissions: Permission[]; scope?: string },
): Promise<IssuedToken> {
  const { config } = platform;
  const { kid, privateKey } = await keyringOf(platform).signingKey();
  const iat = Math.floor(tokenClock(platform).now() / 1000);
  const expiresIn = config.IDENTITY_TOKEN_TTL_SECONDS;
  const claims: AccessTokenClaims = {
    iss: issuerOf(platform),
    aud: [config.IDENTITY_AUDIENCE],
    sub: account.id,
    client_id: account.clientId,
    role: account.role,
    permissions: grant.permissions,
    iat,
    nbf: iat,
    exp: iat + expiresIn,
    jti: randomBytes(16).toString('base64url'),
    sav: account.version,
    ...(grant.scope !== undefined ? { scope: grant.scope } : {}),
  };
  const accessToken = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: ACCESS_TOKEN_TYPE, kid })
    .sign(privateKey);
  return { accessToken, expiresIn, claims };
}
