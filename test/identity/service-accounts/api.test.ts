import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateClient, serviceAccountDirectory } from '../../../src/identity/service-accounts/index.ts';
import type { Running } from '../../../src/platform/runtime.ts';
import { deriveKey } from '../../../src/platform/secrets/master-key.ts';
import { testConfig } from '../../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { makeStaff, signIn } from '../staff/harness.ts';
import { as, makeAccount, requestToken, startApi, type TestAccount, tokenOf } from './harness.ts';

// Generous default budget: these tests are about the API, the rate limit has tests of its own.
const API = { RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_BURST: '100000' };

describe('service accounts API', () => {
  let db: TestDatabase;
  let running: Running;
  let admin: TestAccount;
  let adminToken: string;
  const tokens: Record<'USER' | 'AUDITOR' | 'READONLY', string> = { USER: '', AUDITOR: '', READONLY: '' };

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await startApi(db, API);
    admin = await makeAccount(running, 'ADMIN', { name: 'root-admin' });
    adminToken = await tokenOf(running, admin);
    for (const role of ['USER', 'AUDITOR', 'READONLY'] as const) {
      tokens[role] = await tokenOf(running, await makeAccount(running, role));
    }
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  const create = (body: unknown, authorization = adminToken) =>
    as(running, authorization, { method: 'POST', url: '/api/service-accounts', payload: body as object });

  describe('create', () => {
    it('201 with the secret shown once; GET never returns it; the database holds only a keyed hash', async () => {
      const response = await create({ name: 'Billing sync', role: 'USER', description: 'nightly export' });
      expect(response.statusCode).toBe(201);
      expect(response.headers['cache-control']).toBe('no-store');
      const body = response.json();
      expect(body).toMatchObject({
        id: expect.stringMatching(/^\d+$/),
        client_id: expect.stringMatching(/^sa_[A-Za-z0-9_-]{22}$/),
        client_secret: expect.stringMatching(/^bxs_[A-Za-z0-9_-]{43}$/),
        name: 'Billing sync',
        description: 'nightly export',
        role: 'USER',
        status: 'active',
        rate_limit: null,
        version: 1,
        last_used_at: null,
      });
      expect(Date.parse(body.created_at)).not.toBeNaN();

      const one = await as(running, adminToken, { method: 'GET', url: `/api/service-accounts/${body.id}` });
      expect(one.statusCode).toBe(200);
      expect(one.json()).not.toHaveProperty('client_secret');
      expect(one.body).not.toContain(body.client_secret);
      const list = await as(running, adminToken, {
        method: 'GET',
        url: '/api/service-accounts?pageSize=500',
      });
      expect(list.body).not.toContain(body.client_secret);
      expect(list.body).not.toContain('secret');

      const [row] = await db.sql<{ text: string; hash: Buffer }[]>`
        select row_to_json(s)::text as text, secret_hash as hash from service_accounts s where id = ${body.id}`;
      expect(row!.text).not.toContain(body.client_secret);
      expect(row!.text).not.toContain(body.client_secret.slice(4));
      const key = deriveKey(Buffer.from(testConfig().MASTER_KEY!, 'base64'), 'service-account-secrets');
      expect(row!.hash.equals(createHmac('sha256', key).update(body.client_secret).digest())).toBe(true);

      // The secret works for a token once; a second create of the same name is refused.
      expect((await requestToken(running, body.client_id, body.client_secret)).statusCode).toBe(200);
    });

    it('takes a rate limit of the account’s own', async () => {
      const response = await create({
        name: 'limited',
        role: 'READONLY',
        rate_limit: { per_minute: 10, burst: 20 },
      });
      expect(response.statusCode).toBe(201);
      expect(response.json().rate_limit).toEqual({ per_minute: 10, burst: 20 });
    });

    it('409 for a name taken (ignoring case); 400 with a message for bad input', async () => {
      expect((await create({ name: 'dup-name', role: 'USER' })).statusCode).toBe(201);
      const dup = await create({ name: 'DUP-NAME', role: 'ADMIN' });
      expect(dup.statusCode).toBe(409);
      expect(dup.json()).toMatchObject({
        code: 'SERVICE_ACCOUNT_NAME_TAKEN',
        message: expect.stringContaining('DUP-NAME'),
      });

      const bad: [unknown, RegExp][] = [
        [{ role: 'USER' }, /name/],
        [{ name: 'x' }, /role/],
        [{ name: 'x', role: 'ROOT' }, /role/],
        [{ name: 'x', role: 'user' }, /role/],
        [{ name: '', role: 'USER' }, /name/],
        [{ name: ' leading-space', role: 'USER' }, /name/],
        [{ name: 'a'.repeat(101), role: 'USER' }, /name/],
        [{ name: 'x', role: 'USER', description: 'd'.repeat(501) }, /description/],
        [{ name: 'x', role: 'USER', description: 5 }, /description/],
        [{ name: 'x', role: 'USER', rate_limit: { per_minute: 0, burst: 1 } }, /per_minute/],
        [{ name: 'x', role: 'USER', rate_limit: { per_minute: 1 } }, /burst/],
        [{ name: 'x', role: 'USER', rate_limit: { per_minute: '5', burst: 5 } }, /per_minute/],
        [{ name: 'x', role: 'USER', client_secret: 'mine' }, /client_secret|propert/],
      ];
      for (const [body, message] of bad) {
        const response = await create(body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().message, JSON.stringify(body)).toMatch(message);
      }
      const notJson = await as(running, adminToken, {
        method: 'POST',
        url: '/api/service-accounts',
        headers: { 'content-type': 'application/json' },
        payload: '{"name":',
      });
      expect(notJson.statusCode).toBe(400);
      expect(await db.sql`select 1 from service_accounts where name = 'x'`).toHaveLength(0);
    });
  });

  describe('read', () => {
    it('lists accounts by id in pages, with the total', async () => {
      const all = (
        await as(running, adminToken, { method: 'GET', url: '/api/service-accounts?pageSize=500' })
      ).json();
      expect(all.total).toBe(all.items.length);
      const page2 = (
        await as(running, adminToken, { method: 'GET', url: '/api/service-accounts?page=2&pageSize=2' })
      ).json();
      expect(page2).toMatchObject({ page: 2, pageSize: 2, total: all.total });
      expect(page2.items.map((a: { id: string }) => a.id)).toEqual(
        all.items.slice(2, 4).map((a: { id: string }) => a.id),
      );
      const bad = await as(running, adminToken, { method: 'GET', url: '/api/service-accounts?pageSize=0' });
      expect(bad.statusCode).toBe(400);
    });

    it('404 for unknown, malformed or out-of-range ids', async () => {
      for (const id of ['999999', 'abc', '0', '-1', '99999999999999999999', '1.5']) {
        const response = await as(running, adminToken, { method: 'GET', url: `/api/service-accounts/${id}` });
        expect(response.statusCode, id).toBe(404);
        expect(response.json().code).toBe('SERVICE_ACCOUNT_NOT_FOUND');
      }
    });
  });

  describe('change', () => {
    const patch = (id: string, body: unknown, authorization = adminToken) =>
      as(running, authorization, {
        method: 'PATCH',
        url: `/api/service-accounts/${id}`,
        payload: body as object,
      });

    it('changes role, status and rate limit, bumping the version; description alone does not', async () => {
      const target = await makeAccount(running, 'USER');
      const changed = await patch(target.id, { role: 'READONLY', rate_limit: { per_minute: 5, burst: 7 } });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({
        role: 'READONLY',
        rate_limit: { per_minute: 5, burst: 7 },
        version: 2,
      });
      expect((await patch(target.id, { description: 'relabelled' })).json()).toMatchObject({
        description: 'relabelled',
        version: 2,
      });
      expect((await patch(target.id, { role: 'READONLY' })).json().version).toBe(2); // no change, no bump
      expect((await patch(target.id, { rate_limit: null })).json()).toMatchObject({
        rate_limit: null,
        version: 3,
      });
      expect((await patch(target.id, { status: 'disabled' })).json()).toMatchObject({
        status: 'disabled',
        version: 4,
      });
      expect((await patch(target.id, { status: 'active' })).json()).toMatchObject({
        status: 'active',
        version: 5,
      });
    });

    it('400 for nothing to change or bad values, 404 for unknown ids', async () => {
      const target = await makeAccount(running, 'USER');
      for (const body of [
        {},
        { status: 'paused' },
        { role: 'GOD' },
        { name: 'renamed' },
        { rate_limit: { burst: 1 } },
      ]) {
        const response = await patch(target.id, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().message.length).toBeGreaterThan(5);
      }
      expect((await patch('987654', { status: 'disabled' })).statusCode).toBe(404);
      expect((await patch('nope', { status: 'disabled' })).statusCode).toBe(404);
    });

    it('a role change takes effect at once: the old token is refused, a new one has the new role', async () => {
      const target = await makeAccount(running, 'ADMIN');
      const token = await tokenOf(running, target);
      expect((await as(running, token, { method: 'GET', url: '/api/service-accounts' })).statusCode).toBe(
        200,
      );
      expect((await patch(target.id, { role: 'READONLY' })).statusCode).toBe(200);
      const stale = await as(running, token, { method: 'GET', url: '/api/service-accounts' });
      expect(stale.statusCode).toBe(401);
      expect(stale.headers['www-authenticate']).toMatch(/^Bearer /);
      const fresh = await tokenOf(running, target);
      expect((await as(running, fresh, { method: 'GET', url: '/api/service-accounts' })).statusCode).toBe(
        403,
      );
    });
  });

  describe('rotate-secret', () => {
    it('the old secret fails at once, the new one works; tokens issued before stop working', async () => {
      const target = await makeAccount(running, 'USER');
      const oldToken = await tokenOf(running, target);
      const response = await as(running, adminToken, {
        method: 'POST',
        url: `/api/service-accounts/${target.id}/rotate-secret`,
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const { client_secret } = response.json();
      expect(client_secret).toMatch(/^bxs_/);
      expect(client_secret).not.toBe(target.secret);
      expect(await authenticateClient(running.platform, target.clientId, target.secret)).toBeUndefined();
      expect((await requestToken(running, target.clientId, target.secret)).statusCode).toBe(401);
      expect(await authenticateClient(running.platform, target.clientId, client_secret)).toMatchObject({
        id: target.id,
        version: 2,
      });
      expect((await requestToken(running, target.clientId, client_secret)).statusCode).toBe(200);
      // Tokens are refused by the Bearer authenticator before the permission check: 401, not 403.
      expect((await as(running, oldToken, { method: 'GET', url: '/api/service-accounts' })).statusCode).toBe(
        401,
      );
    });

    it('404 for an unknown id', async () => {
      const response = await as(running, adminToken, {
        method: 'POST',
        url: '/api/service-accounts/424242/rotate-secret',
      });
      expect(response.statusCode).toBe(404);
    });
  });

  describe('delete', () => {
    it('204; then 404 everywhere, the secret refused, the name free again, the row kept for the audit log', async () => {
      const target = await makeAccount(running, 'USER', { name: 'short-lived' });
      const del = await as(running, adminToken, {
        method: 'DELETE',
        url: `/api/service-accounts/${target.id}`,
      });
      expect(del.statusCode).toBe(204);
      expect(del.body).toBe('');
      for (const [method, url] of [
        ['GET', `/api/service-accounts/${target.id}`],
        ['DELETE', `/api/service-accounts/${target.id}`],
        ['POST', `/api/service-accounts/${target.id}/rotate-secret`],
      ] as const) {
        expect((await as(running, adminToken, { method, url })).statusCode, `${method} ${url}`).toBe(404);
      }
      expect(await authenticateClient(running.platform, target.clientId, target.secret)).toBeUndefined();
      expect(await serviceAccountDirectory(running.platform).get(target.id)).toBeUndefined();
      const [row] =
        await db.sql`select deleted_at, secret_hash from service_accounts where id = ${target.id}`;
      expect(row!.deleted_at).not.toBeNull();
      expect(row!.secret_hash).toBeNull();
      expect((await create({ name: 'short-lived', role: 'USER' })).statusCode).toBe(201);
    });
  });

  it('writes an audit entry for every change, naming the actor', async () => {
    const created = (await create({ name: 'audited', role: 'USER' })).json();
    const id = created.id as string;
    await as(running, adminToken, {
      method: 'PATCH',
      url: `/api/service-accounts/${id}`,
      payload: { status: 'disabled' },
    });
    await as(running, adminToken, { method: 'POST', url: `/api/service-accounts/${id}/rotate-secret` });
    await as(running, adminToken, { method: 'DELETE', url: `/api/service-accounts/${id}` });
    const entries = await db.sql<
      { actor_type: string; actor_id: string; action: string; metadata: Record<string, unknown> }[]
    >`
      select actor_type, actor_id, action, metadata from audit_log where resource = ${`service_account:${id}`} order by id`;
    expect(entries.map((e) => e.action)).toEqual([
      'service_account.create',
      'service_account.update',
      'service_account.rotate_secret',
      'service_account.delete',
    ]);
    expect(entries.every((e) => e.actor_type === 'service_account' && e.actor_id === admin.id)).toBe(true);
    expect(entries[1]!.metadata).toMatchObject({ changes: { status: { from: 'active', to: 'disabled' } } });
    expect(JSON.stringify(entries)).not.toMatch(/bxs_/);
  });

  describe('who may call which route', () => {
    const routes = async (): Promise<
      { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: object }[]
    > => {
      const target = await makeAccount(running, 'USER');
      return [
        {
          method: 'POST',
          url: '/api/service-accounts',
          payload: { name: `matrix-${target.id}`, role: 'USER' },
        },
        { method: 'GET', url: '/api/service-accounts' },
        { method: 'GET', url: `/api/service-accounts/${target.id}` },
        { method: 'PATCH', url: `/api/service-accounts/${target.id}`, payload: { description: 'touched' } },
        { method: 'POST', url: `/api/service-accounts/${target.id}/rotate-secret` },
        { method: 'DELETE', url: `/api/service-accounts/${target.id}` },
      ];
    };

    it('ADMIN: 2xx on every route', async () => {
      for (const route of await routes()) {
        const response = await as(running, adminToken, route);
        expect([200, 201, 204], `${route.method} ${route.url}`).toContain(response.statusCode);
      }
    });

    it.each(['USER', 'AUDITOR', 'READONLY'] as const)(
      '%s: 403 on every route, nothing changed',
      async (role) => {
        for (const route of await routes()) {
          const response = await as(running, tokens[role], route);
          expect(response.statusCode, `${route.method} ${route.url}`).toBe(403);
          expect(response.json().code).toBe('FORBIDDEN');
        }
        expect(
          await db.sql`select 1 from service_accounts where name like 'matrix-%' and description = 'touched'`,
        ).toHaveLength(0);
      },
    );

    it('no credentials or an invalid token: 401 with WWW-Authenticate: Bearer, before any validation', async () => {
      for (const authorization of [undefined, 'Bearer not-a-jwt', `${adminToken}x`, 'Basic dXNlcjpwdw==']) {
        for (const route of [
          ...(await routes()),
          { method: 'POST' as const, url: '/api/service-accounts', payload: {} },
        ]) {
          const response = await as(running, authorization, route);
          expect(response.statusCode, `${authorization} ${route.method} ${route.url}`).toBe(401);
          expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
        }
      }
    });

    it('staff: admin 2xx (mutations with the CSRF token), manager and analyst 403', async () => {
      const browsers = {
        admin: await signIn(running, await makeStaff(db.sql, 'admin')),
        manager: await signIn(running, await makeStaff(db.sql, 'manager')),
        analyst: await signIn(running, await makeStaff(db.sql, 'analyst')),
      };
      for (const route of await routes()) {
        const response = await browsers.admin.send(running, route);
        expect([200, 201, 204], `${route.method} ${route.url}`).toContain(response.statusCode);
      }
      for (const who of ['manager', 'analyst'] as const) {
        for (const route of await routes()) {
          expect(
            (await browsers[who].send(running, route)).statusCode,
            `${who} ${route.method} ${route.url}`,
          ).toBe(403);
        }
      }
      const byStaff =
        await db.sql`select 1 from audit_log where actor_type = 'staff' and action like 'service_account.%'`;
      expect(byStaff.length).toBeGreaterThanOrEqual(4);
    });
  });

  it('every route is in /openapi.json', async () => {
    const spec = (await running.app!.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/service-accounts',
        '/api/service-accounts/{id}',
        '/api/service-accounts/{id}/rotate-secret',
      ]),
    );
    expect(Object.keys(spec.paths['/api/service-accounts/{id}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
  });
});

describe('the last active ADMIN', () => {
  let db: TestDatabase;
  let running: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    running = await startApi(db, API);
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  it('may not be disabled, demoted or deleted (409); once another exists, it may', async () => {
    const first = await makeAccount(running, 'ADMIN');
    const token = await tokenOf(running, first);
    const url = `/api/service-accounts/${first.id}`;
    for (const [method, payload] of [
      ['PATCH', { status: 'disabled' }],
      ['PATCH', { role: 'USER' }],
      ['DELETE', undefined],
    ] as const) {
      const response = await as(running, token, { method, url, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${JSON.stringify(payload)}`).toBe(409);
      expect(response.json()).toMatchObject({
        code: 'SERVICE_ACCOUNT_LAST_ADMIN',
        message: expect.stringContaining('boxoffice service-accounts create'),
      });
    }
    // A disabled ADMIN is no way in: it does not count.
    const disabledAdmin = await makeAccount(running, 'ADMIN');
    await as(running, token, {
      method: 'PATCH',
      url: `/api/service-accounts/${disabledAdmin.id}`,
      payload: { status: 'disabled' },
    });
    expect((await as(running, token, { method: 'DELETE', url })).statusCode).toBe(409);

    const second = await makeAccount(running, 'ADMIN');
    expect((await as(running, token, { method: 'DELETE', url })).statusCode).toBe(204);
    const secondToken = await tokenOf(running, second);
    expect(
      (
        await as(running, secondToken, {
          method: 'PATCH',
          url: `/api/service-accounts/${second.id}`,
          payload: { status: 'disabled' },
        })
      ).statusCode,
    ).toBe(409);
  });

  it('two admins disabling each other at once: exactly one succeeds', async () => {
    const [a, b] = [await makeAccount(running, 'ADMIN'), await makeAccount(running, 'ADMIN')];
    // Leave only a and b active.
    await db.sql`update service_accounts set status = 'disabled' where role = 'ADMIN' and id not in (${a.id}, ${b.id})`;
    const [ta, tb] = [await tokenOf(running, a), await tokenOf(running, b)];
    const answers = await Promise.all([
      as(running, ta, {
        method: 'PATCH',
        url: `/api/service-accounts/${b.id}`,
        payload: { status: 'disabled' },
      }),
      as(running, tb, {
        method: 'PATCH',
        url: `/api/service-accounts/${a.id}`,
        payload: { status: 'disabled' },
      }),
    ]);
    // The loser is either refused by the rule (409) or, if the winner committed first, by its own
    // token having been invalidated (401): never both 200.
    const codes = answers.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    const [row] = await db.sql<{ count: number }[]>`
      select count(*)::int as count from service_accounts where role = 'ADMIN' and status = 'active' and deleted_at is null`;
    expect(row!.count).toBe(1);
  });
});
