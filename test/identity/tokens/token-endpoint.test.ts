import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeServiceAccount } from '../../../src/identity/service-accounts/service.ts';
import { SERVICE_ROLE_PERMISSIONS } from '../../../src/platform/auth/permissions.ts';
import { testConfig } from '../../helpers/config.ts';
import {
  basic,
  createAccount,
  createTestDatabase,
  ISSUER,
  startTokenServer,
  type TestAccount,
  type TestDatabase,
  type TokenServer,
} from './harness.ts';

let db: TestDatabase;
let server: TokenServer;
let admin: TestAccount;
let user: TestAccount;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTokenServer(db, {
    IDENTITY_TOKEN_MAX_FAILURES_PER_CLIENT: '3',
    IDENTITY_TOKEN_MAX_FAILURES_PER_ADDRESS: '1000',
  });
  admin = await createAccount(db, 'ADMIN');
  user = await createAccount(db, 'USER');
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const FORM = 'application/x-www-form-urlencoded';

function post(options: {
  payload?: string | object;
  contentType?: string;
  authorization?: string;
  ip?: string;
}) {
  const headers: Record<string, string> = {};
  if (options.contentType) headers['content-type'] = options.contentType;
  if (options.authorization) headers.authorization = options.authorization;
  return server.app.inject({
    method: 'POST',
    url: '/api/auth/token',
    headers,
    payload: options.payload as string,
    ...(options.ip ? { remoteAddress: options.ip } : {}),
  });
}

function expectNoStore(response: { headers: Record<string, unknown> }) {
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers.pragma).toBe('no-cache');
}

function expectToken(response: Awaited<ReturnType<typeof post>>, account: TestAccount) {
  expect(response.statusCode, response.body).toBe(200);
  expectNoStore(response);
  const body = response.json();
  expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
  expect(body.token_type).toBe('Bearer');
  expect(body.expires_in).toBe(1800);
  const header = decodeProtectedHeader(body.access_token);
  expect(header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
  const claims = decodeJwt(body.access_token);
  expect(claims).toEqual({
    iss: ISSUER,
    aud: ['boxoffice'],
    sub: account.id,
    client_id: account.clientId,
    role: account.role,
    permissions: [...SERVICE_ROLE_PERMISSIONS[account.role as 'USER']],
    iat: Math.floor(server.clock.ms / 1000),
    nbf: Math.floor(server.clock.ms / 1000),
    exp: Math.floor(server.clock.ms / 1000) + 1800,
    jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    sav: expect.any(Number),
  });
  return body.access_token as string;
}

describe('issuing tokens', () => {
  it('JSON {client_id, client_secret} (seed 002)', async () => {
    expectToken(
      await post({
        contentType: 'application/json',
        payload: { client_id: user.clientId, client_secret: user.clientSecret },
      }),
      user,
    );
  });

  it('form grant_type=client_credentials with HTTP Basic (form-urlencoded id and secret, RFC 6749 §2.3.1)', async () => {
    expectToken(
      await post({
        contentType: FORM,
        payload: 'grant_type=client_credentials',
        authorization: basic(admin.clientId, admin.clientSecret),
      }),
      admin,
    );
    // The secret alphabet needs no escaping; a client that does not encode still works.
    expectToken(
      await post({
        contentType: FORM,
        payload: 'grant_type=client_credentials',
        authorization: basic(admin.clientId, admin.clientSecret, false),
      }),
      admin,
    );
  });

  it('form with client_id and client_secret in the body; Basic plus the same client_id in the body', async () => {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: user.clientId,
      client_secret: user.clientSecret,
    });
    expectToken(await post({ contentType: FORM, payload: body.toString() }), user);
    expectToken(
      await post({
        contentType: `${FORM}; charset=utf-8`,
        payload: `grant_type=client_credentials&client_id=${user.clientId}`,
        authorization: basic(user.clientId, user.clientSecret),
      }),
      user,
    );
  });

  it('scope narrows the token to the permissions asked for; beyond the role → invalid_scope', async () => {
    const ok = await post({
      contentType: FORM,
      payload: `grant_type=client_credentials&scope=${encodeURIComponent('files:read notify:send')}`,
      authorization: basic(user.clientId, user.clientSecret),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().scope).toBe('files:read notify:send');
    expect(decodeJwt(ok.json().access_token).permissions).toEqual(['files:read', 'notify:send']);

    const beyond = await post({
      contentType: FORM,
      payload: 'grant_type=client_credentials&scope=audit:read',
      authorization: basic(user.clientId, user.clientSecret),
    });
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json()).toEqual({
      error: 'invalid_scope',
      error_description: 'Role USER does not grant: audit:read',
    });
    const unknown = await post({
      contentType: 'application/json',
      payload: { client_id: user.clientId, client_secret: user.clientSecret, scope: 'openid' },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toBe('invalid_scope');
  });
});

describe('refusals (RFC 6749 §5.2)', () => {
  const cases: {
    name: string;
    request: Parameters<typeof post>[0];
    status: number;
    error: string;
    basicChallenge?: boolean;
  }[] = [
    {
      name: 'form without grant_type',
      request: { contentType: FORM, payload: 'client_id=a&client_secret=b' },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'unsupported grant (password)',
      request: { contentType: FORM, payload: 'grant_type=password&username=a&password=b' },
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      name: 'unsupported grant in JSON',
      request: {
        contentType: 'application/json',
        payload: { grant_type: 'authorization_code', client_id: 'a', client_secret: 'b' },
      },
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      name: 'Basic and body secret at once',
      request: {
        contentType: FORM,
        payload: 'grant_type=client_credentials&client_id=a&client_secret=b',
        authorization: basic('a', 'b'),
      },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'Basic and another client_id in the body',
      request: {
        contentType: FORM,
        payload: 'grant_type=client_credentials&client_id=other',
        authorization: basic('a', 'b'),
      },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'a parameter twice',
      request: {
        contentType: FORM,
        payload: 'grant_type=client_credentials&grant_type=client_credentials&client_id=a&client_secret=b',
      },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'malformed JSON',
      request: { contentType: 'application/json', payload: '{"client_id": ' },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'JSON that is not an object',
      request: { contentType: 'application/json', payload: '["a","b"]' },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'JSON with a non-string secret',
      request: { contentType: 'application/json', payload: { client_id: 'a', client_secret: { $ne: null } } },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'text/plain body',
      request: { contentType: 'text/plain', payload: 'client_id=a' },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'multipart body',
      request: { contentType: 'multipart/form-data; boundary=x', payload: '--x--' },
      status: 400,
      error: 'invalid_request',
    },
    { name: 'no body', request: {}, status: 400, error: 'invalid_request' },
    {
      name: 'no client authentication',
      request: { contentType: FORM, payload: 'grant_type=client_credentials' },
      status: 401,
      error: 'invalid_client',
      basicChallenge: true,
    },
    {
      name: 'Basic that is not base64(id:secret)',
      request: {
        contentType: FORM,
        payload: 'grant_type=client_credentials',
        authorization: 'Basic bm9jb2xvbg==',
      },
      status: 401,
      error: 'invalid_client',
      basicChallenge: true,
    },
    {
      name: 'another authentication scheme',
      request: { contentType: FORM, payload: 'grant_type=client_credentials', authorization: 'Bearer abc' },
      status: 401,
      error: 'invalid_client',
      basicChallenge: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.error}`, async () => {
      const response = await post(c.request);
      expect(response.statusCode, response.body).toBe(c.status);
      expect(response.json()).toEqual({ error: c.error, error_description: expect.any(String) });
      expectNoStore(response);
      if (c.basicChallenge)
        expect(response.headers['www-authenticate']).toBe('Basic realm="boxoffice", charset="UTF-8"');
      else expect(response.headers['www-authenticate']).toBeUndefined();
    });
  }

  it('a body over 8 KiB → 413 invalid_request', async () => {
    const response = await post({
      contentType: FORM,
      payload: `grant_type=client_credentials&pad=${'x'.repeat(9000)}`,
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toBe('invalid_request');
    expectNoStore(response);
  });

  it('wrong secret, unknown client, disabled client → 401 invalid_client (challenge only when Basic was used)', async () => {
    const ip = '10.0.0.1';
    const wrong = await post({
      contentType: 'application/json',
      payload: { client_id: user.clientId, client_secret: 'bxs_wrong' },
      ip,
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect(wrong.headers['www-authenticate']).toBeUndefined();
    expectNoStore(wrong);

    const unknown = await post({
      contentType: FORM,
      payload: 'grant_type=client_credentials',
      authorization: basic('sa_nobody', 'bxs_x'),
      ip,
    });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error).toBe('invalid_client');
    expect(unknown.headers['www-authenticate']).toBe('Basic realm="boxoffice", charset="UTF-8"');

    const disabled = await createAccount(db, 'READONLY');
    await changeServiceAccount(
      { db: db.sql, config: testConfig() },
      disabled.id,
      { status: 'disabled' },
      { actorType: 'system', actorId: null },
    );
    const refused = await post({
      contentType: 'application/json',
      payload: { client_id: disabled.clientId, client_secret: disabled.clientSecret },
      ip,
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toBe('invalid_client');
  });
});

describe('throttling', () => {
  it('past IDENTITY_TOKEN_MAX_FAILURES_PER_CLIENT failures: 429 with Retry-After, even with the right secret; other clients unaffected', async () => {
    const victim = await createAccount(db, 'USER');
    for (let i = 0; i < 3; i++) {
      const response = await post({
        contentType: 'application/json',
        payload: { client_id: victim.clientId, client_secret: `bxs_guess${i}` },
        ip: '10.0.1.1',
      });
      expect(response.statusCode).toBe(401);
    }
    const throttled = await post({
      contentType: 'application/json',
      payload: { client_id: victim.clientId, client_secret: victim.clientSecret },
      ip: '10.0.1.2',
    });
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json()).toEqual({
      error: 'slow_down',
      error_description: expect.stringMatching(/retry in \d+ s/),
    });
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expectNoStore(throttled);
    // Another client from the same address still gets its token.
    const other = await post({
      contentType: 'application/json',
      payload: { client_id: user.clientId, client_secret: user.clientSecret },
      ip: '10.0.1.1',
    });
    expect(other.statusCode).toBe(200);
  });
});

describe('per-address throttling', () => {
  it('past IDENTITY_TOKEN_MAX_FAILURES_PER_ADDRESS failures from one address: 429 for any client from it', async () => {
    const local = await startTokenServer(db, { IDENTITY_TOKEN_MAX_FAILURES_PER_ADDRESS: '2', REDIS_URL: '' });
    try {
      const inject = (payload: object) =>
        local.app.inject({ method: 'POST', url: '/api/auth/token', payload, remoteAddress: '10.9.9.9' });
      expect((await inject({ client_id: 'sa_a', client_secret: 'x' })).statusCode).toBe(401);
      expect((await inject({ client_id: 'sa_b', client_secret: 'x' })).statusCode).toBe(401);
      const blocked = await inject({ client_id: user.clientId, client_secret: user.clientSecret });
      expect(blocked.statusCode).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      const elsewhere = await local.app.inject({
        method: 'POST',
        url: '/api/auth/token',
        payload: { client_id: user.clientId, client_secret: user.clientSecret },
        remoteAddress: '10.9.9.8',
      });
      expect(elsewhere.statusCode).toBe(200);
    } finally {
      await local.stop();
    }
  });
});

describe('discovery', () => {
  it('RFC 8414 metadata names the issuer, token endpoint, JWKS and what is supported', async () => {
    const response = await server.app.inject({ url: '/.well-known/oauth-authorization-server' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/api/auth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('the routes are in /openapi.json', async () => {
    const spec = (await server.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, object>;
    };
    for (const path of [
      '/api/auth/token',
      '/.well-known/jwks.json',
      '/.well-known/oauth-authorization-server',
      '/api/auth/keys/rotate',
      '/api/auth/whoami',
    ]) {
      expect(spec.paths).toHaveProperty([path]);
    }
  });
});
