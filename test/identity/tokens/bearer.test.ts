import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  changeServiceAccount,
  deleteServiceAccount,
} from '../../../src/identity/service-accounts/service.ts';
import { keyringOf } from '../../../src/identity/tokens/keyring.ts';
import { testConfig } from '../../helpers/config.ts';
import {
  createAccount,
  createTestDatabase,
  ISSUER,
  startTokenServer,
  type TestAccount,
  type TestDatabase,
  type TokenServer,
  tokenFor,
} from './harness.ts';

let db: TestDatabase;
let server: TokenServer;
let account: TestAccount;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTokenServer(db);
  account = await createAccount(db, 'USER');
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const whoami = (authorization?: string) =>
  server.app.inject({ url: '/api/auth/whoami', headers: authorization ? { authorization } : {} });

async function expectInvalidToken(authorization: string, description: RegExp) {
  const response = await whoami(authorization);
  expect(response.statusCode, response.body).toBe(401);
  expect(response.json()).toMatchObject({
    code: 'INVALID_TOKEN',
    message: expect.stringMatching(description),
  });
  expect(response.headers['www-authenticate']).toMatch(
    /^Bearer realm="boxoffice", error="invalid_token", error_description="[^"]+"$/,
  );
}

/** Claims as the token endpoint makes them, to forge variations of with our own signing key. */
function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(server.clock.ms / 1000);
  return {
    iss: ISSUER,
    aud: ['boxoffice'],
    sub: account.id,
    client_id: account.clientId,
    role: 'USER',
    permissions: ['files:read'],
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: 'forged-jti',
    sav: 1,
    ...overrides,
  };
}

async function signed(payload: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const { kid, privateKey } = await keyringOf(server.platform).signingKey();
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, ...header })
    .sign(privateKey);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('a valid token', () => {
  it('is a principal with the role’s permissions; the second request is served from the cache', async () => {
    const token = await tokenFor(server.app, account);
    const first = await whoami(`Bearer ${token}`);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      kind: 'service_account',
      id: account.id,
      name: account.clientId,
      role: 'USER',
      permissions: ['files:read', 'files:write', 'notify:send', 'notify:read', 'tickets:scan'],
    });
    const reload = vi.spyOn(keyringOf(server.platform), 'verificationKey');
    expect((await whoami(`bearer ${token}`)).statusCode).toBe(200);
    expect(reload).not.toHaveBeenCalled();
    reload.mockRestore();
  });

  it('no credentials → 401 with the plain Bearer challenge', async () => {
    const response = await whoami();
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="boxoffice"');
  });
});

describe('attacks refused', () => {
  it('alg: none', async () => {
    const { kid } = await keyringOf(server.platform).signingKey();
    const token = new UnsecuredJWT(claims()).encode();
    const withKid = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${token.split('.')[1]}.`;
    await expectInvalidToken(`Bearer ${withKid}`, /RS256/);
  });

  it('HS256 signed with the public key (algorithm confusion)', async () => {
    const keyring = keyringOf(server.platform);
    const { kid } = await keyring.signingKey();
    const jwks = JSON.parse((await keyring.jwks()).body) as { keys: { kid: string; n: string }[] };
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    for (const secret of [JSON.stringify(jwk), jwk.n]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new TextEncoder().encode(secret));
      await expectInvalidToken(`Bearer ${token}`, /RS256/);
    }
  });

  it('a tampered payload (more permissions, another account)', async () => {
    const token = await tokenFor(server.app, account);
    const [header, payload, signature] = token.split('.');
    const changed = {
      ...JSON.parse(Buffer.from(payload!, 'base64url').toString()),
      role: 'ADMIN',
      permissions: ['keys:rotate'],
    };
    await expectInvalidToken(`Bearer ${header}.${b64(changed)}.${signature}`, /signature/);
  });

  it('an unknown kid: refused after one reload of the keys, and a flood reloads at most once per cooldown', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyring = keyringOf(server.platform);
    const reload = vi.spyOn(keyring, 'reload');
    for (let i = 0; i < 5; i++) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: `junk-${i}` })
        .sign(privateKey);
      await expectInvalidToken(`Bearer ${token}`, /unknown key/);
    }
    expect(reload).toHaveBeenCalledTimes(1);
    server.clock.advance(6);
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'junk-late' })
      .sign(privateKey);
    await expectInvalidToken(`Bearer ${token}`, /unknown key/);
    expect(reload).toHaveBeenCalledTimes(2);
    reload.mockRestore();
  });

  it('a token signed by another key under our kid', async () => {
    const { kid } = await keyringOf(server.platform).signingKey();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .sign(privateKey);
    await expectInvalidToken(`Bearer ${token}`, /signature/);
  });

  it('expired (past the clock tolerance), also when it was verified and cached before', async () => {
    const token = await tokenFor(server.app, account);
    expect((await whoami(`Bearer ${token}`)).statusCode).toBe(200);
    server.clock.advance(1800 + 29);
    expect((await whoami(`Bearer ${token}`)).statusCode).toBe(200);
    server.clock.advance(2);
    await expectInvalidToken(`Bearer ${token}`, /expired/);
    const old = await signed(claims({ exp: Math.floor(server.clock.ms / 1000) - 31 }));
    await expectInvalidToken(`Bearer ${old}`, /expired/);
  });

  it('not yet valid (nbf beyond the tolerance)', async () => {
    const early = await signed(claims({ nbf: Math.floor(server.clock.ms / 1000) + 60 }));
    await expectInvalidToken(`Bearer ${early}`, /not valid yet/);
  });

  it('a wrong audience, issuer or typ; a missing kid; missing claims; garbage', async () => {
    await expectInvalidToken(`Bearer ${await signed(claims({ aud: ['files-elsewhere'] }))}`, /aud/);
    await expectInvalidToken(`Bearer ${await signed(claims({ iss: 'http://evil.test' }))}`, /iss/);
    await expectInvalidToken(`Bearer ${await signed(claims(), { typ: 'JWT' })}`, /typ/);
    await expectInvalidToken(`Bearer ${await signed(claims(), { kid: undefined })}`, /no kid/);
    const { jti: _jti, ...withoutJti } = claims();
    await expectInvalidToken(`Bearer ${await signed(withoutJti)}`, /jti/);
    await expectInvalidToken(`Bearer ${await signed(claims({ sav: 'one' }))}`, /sav/);
    await expectInvalidToken('Bearer not.a.jwt', /malformed|invalid/);
    await expectInvalidToken('Bearer ', /missing/);
    await expectInvalidToken(`Bearer ${'a'.repeat(9000)}`, /too long/);
  });
});

describe('the account behind the token', () => {
  it('a role change (new version) voids tokens issued before; permissions never exceed the current role', async () => {
    const changing = await createAccount(db, 'USER');
    const context = { db: db.sql, config: testConfig() };
    const token = await tokenFor(server.app, changing);
    expect((await whoami(`Bearer ${token}`)).statusCode).toBe(200);
    await changeServiceAccount(
      context,
      changing.id,
      { role: 'READONLY' },
      { actorType: 'system', actorId: null },
    );
    await expect.poll(async () => (await whoami(`Bearer ${token}`)).statusCode).toBe(401);
    await expectInvalidToken(`Bearer ${token}`, /changed/);
    // A forged-in-test token with ADMIN permissions at the new version still only gets READONLY's.
    const version = (
      await db.sql`select version::int as v from service_accounts where id = ${changing.id}`
    )[0]!.v as number;
    const broad = await signed(
      claims({
        sub: changing.id,
        client_id: changing.clientId,
        sav: version,
        permissions: ['keys:rotate', 'files:read'],
      }),
    );
    const response = await whoami(`Bearer ${broad}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().permissions).toEqual(['files:read']);
  });

  it('disabled or deleted accounts → 401 at once', async () => {
    const context = { db: db.sql, config: testConfig() };
    const system = { actorType: 'system' as const, actorId: null };
    const a = await createAccount(db, 'USER');
    const b = await createAccount(db, 'USER');
    const [ta, tb] = [await tokenFor(server.app, a), await tokenFor(server.app, b)];
    expect((await whoami(`Bearer ${ta}`)).statusCode).toBe(200);
    expect((await whoami(`Bearer ${tb}`)).statusCode).toBe(200);
    await changeServiceAccount(context, a.id, { status: 'disabled' }, system);
    await deleteServiceAccount(context, b.id, system);
    await expect.poll(async () => (await whoami(`Bearer ${ta}`)).statusCode).toBe(401);
    await expect.poll(async () => (await whoami(`Bearer ${tb}`)).statusCode).toBe(401);
    await expectInvalidToken(`Bearer ${tb}`, /no longer exists/);
  });
});
