import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { createAccount, tokenFor } from '../tokens/harness.ts';
import { type Browser, makeStaff, signIn, startApi, TestClock } from './harness.ts';

type Caller = 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY' | 'admin' | 'manager' | 'analyst' | 'none';
const CALLERS: Caller[] = ['ADMIN', 'USER', 'AUDITOR', 'READONLY', 'admin', 'manager', 'analyst', 'none'];

/**
 * Every staff route × every kind of caller: service accounts by Bearer token, staff by session cookie
 * (with the CSRF token), and nobody. Each request is built fresh, so a DELETE always has something to delete.
 */
describe('the role matrix of the staff routes', () => {
  let db: TestDatabase;
  let api: Running;
  const tokens = new Map<Caller, string>();
  const browsers = new Map<Caller, Browser>();

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, new TestClock());
    for (const role of ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const) {
      tokens.set(role, await tokenFor(api.app!, await createAccount(db, role)));
    }
    for (const role of ['admin', 'manager', 'analyst'] as const) {
      browsers.set(role, await signIn(api, await makeStaff(db.sql, role)));
    }
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  const as = async (caller: Caller, options: InjectOptions) => {
    if (caller === 'none') return api.app!.inject(options);
    const token = tokens.get(caller);
    if (token) return api.app!.inject({ ...options, headers: { authorization: `Bearer ${token}` } });
    return browsers.get(caller)!.send(api, options);
  };

  const target = async () => (await makeStaff(db.sql, 'analyst')).id;
  const throwawaySession = async () => {
    const member = await makeStaff(db.sql, 'analyst');
    await signIn(api, member);
    const [row] = await db.sql<{ handle: string }[]>`
      select s.handle::text from staff_sessions s where s.staff_id = ${member.id}`;
    return row!.handle;
  };

  const adminOnly: [string, () => Promise<InjectOptions>, number][] = [
    ['GET /api/admin/staff', async () => ({ method: 'GET', url: '/api/admin/staff' }), 200],
    [
      'POST /api/admin/staff',
      async () => ({
        method: 'POST',
        url: '/api/admin/staff',
        payload: { email: `new-${Math.random()}@staff.test`, role: 'analyst' },
      }),
      201,
    ],
    [
      'PATCH /api/admin/staff/{id}',
      async () => ({
        method: 'PATCH',
        url: `/api/admin/staff/${await target()}`,
        payload: { role: 'manager' },
      }),
      200,
    ],
    [
      'DELETE /api/admin/staff/{id}',
      async () => ({ method: 'DELETE', url: `/api/admin/staff/${await target()}` }),
      204,
    ],
    ['GET /api/admin/sessions', async () => ({ method: 'GET', url: '/api/admin/sessions' }), 200],
    [
      'DELETE /api/admin/sessions/{id}',
      async () => ({ method: 'DELETE', url: `/api/admin/sessions/${await throwawaySession()}` }),
      204,
    ],
  ];

  for (const [route, request, success] of adminOnly) {
    it.each(CALLERS)(`${route} as %s`, async (caller) => {
      const answer = await as(caller, await request());
      const expected = caller === 'none' ? 401 : caller === 'ADMIN' || caller === 'admin' ? success : 403;
      expect(answer.statusCode, answer.body).toBe(expected);
      if (expected === 401) expect(answer.headers['www-authenticate']).toMatch(/^Bearer /);
    });
  }

  it.each(CALLERS)('GET /api/admin/me as %s (staff only)', async (caller) => {
    const answer = await as(caller, { method: 'GET', url: '/api/admin/me' });
    const expected = caller === 'none' ? 401 : caller === caller.toLowerCase() ? 200 : 403;
    expect(answer.statusCode, answer.body).toBe(expected);
    if (expected === 200) expect(answer.json().role).toBe(caller);
  });

  it.each(CALLERS)('DELETE /api/admin/session as %s (staff only)', async (caller) => {
    const staff = caller !== 'none' && caller === caller.toLowerCase();
    // Sign-out ends the session the matrix uses: sign in afresh for it.
    const browser = staff ? await signIn(api, await makeStaff(db.sql, caller as 'admin')) : undefined;
    const answer = browser
      ? await browser.send(api, { method: 'DELETE', url: '/api/admin/session' })
      : await as(caller, { method: 'DELETE', url: '/api/admin/session' });
    expect(answer.statusCode, answer.body).toBe(caller === 'none' ? 401 : staff ? 204 : 403);
  });

  it('POST /api/admin/session needs no credentials (wrong ones: 401)', async () => {
    const answer = await api.app!.inject({
      method: 'POST',
      url: '/api/admin/session',
      payload: { email: 'x@staff.test', password: 'nope' },
    });
    expect(answer.statusCode).toBe(401);
  });

  it('an ADMIN service account’s staff change is audited as that account', async () => {
    const id = await target();
    await as('ADMIN', { method: 'DELETE', url: `/api/admin/staff/${id}` });
    const [entry] = await db.sql`
      select actor_type, result from audit_log where action = 'staff.delete' and resource = ${`staff:${id}`}`;
    expect(entry).toEqual({ actor_type: 'service_account', result: 'success' });
  });
});
