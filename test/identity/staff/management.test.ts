import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser } from '../../../src/identity/index.ts';
import { verifyPassword } from '../../../src/identity/passwords.ts';
import { ensureDemoAdmin } from '../../../src/identity/staff/index.ts';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { type Browser, makeStaff, signIn, startApi, TestClock, type TestStaff } from './harness.ts';

describe('staff management', () => {
  let db: TestDatabase;
  let api: Running;
  let admin: TestStaff;
  let browser: Browser;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, new TestClock());
    admin = await makeStaff(db.sql, 'admin');
    browser = await signIn(api, admin);
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    browser.send(api, { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('creates a member with a generated password, shown once and stored as a scrypt hash', async () => {
    const created = await call('POST', '/api/admin/staff', { email: ' Ops@Example.COM ', role: 'manager' });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ email: 'ops@example.com', role: 'manager', status: 'active' });
    expect(body.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const [row] = await db.sql<
      { password_hash: string }[]
    >`select password_hash from staff where id = ${body.id}`;
    expect(row!.password_hash).toMatch(/^scrypt\$/);
    expect(await verifyPassword(body.password, row!.password_hash)).toBe(true);
    expect(
      (await signIn(api, { email: 'OPS@example.com', password: body.password })).response.statusCode,
    ).toBe(200);

    const listed = await call('GET', '/api/admin/staff');
    expect(listed.json().find((m: { id: number }) => m.id === body.id)).not.toHaveProperty('password');
    const withPassword = await call('POST', '/api/admin/staff', {
      email: 'given@example.com',
      role: 'analyst',
      password: 'a password of my own',
    });
    expect(withPassword.statusCode).toBe(201);
    expect(withPassword.json()).not.toHaveProperty('password');
  });

  it.each([
    ['a taken email (any case)', { email: 'OPS@example.com', role: 'analyst' }, 409, 'STAFF_EXISTS'],
    ['no @', { email: 'not-an-email', role: 'analyst' }, 400, 'VALIDATION_FAILED'],
    ['an unknown role', { email: 'r@example.com', role: 'owner' }, 400, 'VALIDATION_FAILED'],
    [
      'a short password',
      { email: 's@example.com', role: 'analyst', password: 'short' },
      400,
      'VALIDATION_FAILED',
    ],
    ['no role', { email: 'n@example.com' }, 400, 'VALIDATION_FAILED'],
  ])('refuses %s', async (_case, payload, status, code) => {
    const answer = await call('POST', '/api/admin/staff', payload);
    expect(answer.statusCode).toBe(status);
    expect(answer.json().code).toBe(code);
  });

  it('validates PATCH and ids: 400 for nothing to change or a bad id, 404 for an unknown one', async () => {
    const member = await makeStaff(db.sql, 'analyst');
    expect((await call('PATCH', `/api/admin/staff/${member.id}`, {})).statusCode).toBe(400);
    expect((await call('PATCH', `/api/admin/staff/${member.id}`, { status: 'gone' })).statusCode).toBe(400);
    expect((await call('PATCH', '/api/admin/staff/abc', { role: 'admin' })).statusCode).toBe(400);
    expect((await call('PATCH', '/api/admin/staff/999999', { role: 'admin' })).statusCode).toBe(404);
    expect((await call('DELETE', '/api/admin/staff/999999')).statusCode).toBe(404);
    expect((await call('DELETE', '/api/admin/sessions/0')).statusCode).toBe(400);
  });

  it('refuses a sign-in body without email or password (400), never a 500', async () => {
    for (const payload of [{}, { email: 'a@b.c' }, { password: 'x' }, { email: '', password: 'x' }]) {
      const answer = await api.app!.inject({ method: 'POST', url: '/api/admin/session', payload });
      expect(answer.statusCode).toBe(400);
    }
  });

  it('never removes the last active admin (409 LAST_ADMIN): not demoted, disabled or deleted', async () => {
    const admins = await db.sql`select id from staff where role = 'admin' and status = 'active'`;
    expect(admins).toHaveLength(1);
    for (const [method, payload] of [
      ['PATCH', { role: 'manager' }],
      ['PATCH', { status: 'disabled' }],
      ['DELETE', undefined],
    ] as const) {
      const answer = await call(method, `/api/admin/staff/${admin.id}`, payload);
      expect(answer.statusCode).toBe(409);
      expect(answer.json().code).toBe('LAST_ADMIN');
    }
    expect((await call('GET', '/api/admin/me')).statusCode).toBe(200);
  });

  it('two admins disabling each other at once: exactly one wins, one admin stays', async () => {
    const a = await makeStaff(db.sql, 'admin');
    const b = await makeStaff(db.sql, 'admin');
    // Only a and b are active admins now.
    await db.sql`update staff set role = 'manager' where id = ${admin.id}`;
    try {
      const [asA, asB] = [await signIn(api, a), await signIn(api, b)];
      const answers = await Promise.all([
        asA.send(api, { method: 'PATCH', url: `/api/admin/staff/${b.id}`, payload: { status: 'disabled' } }),
        asB.send(api, { method: 'PATCH', url: `/api/admin/staff/${a.id}`, payload: { status: 'disabled' } }),
      ]);
      const statuses = answers.map((r) => r.statusCode).sort();
      // The loser's session may already be revoked by the winner's change (401) or it lost the lock race (409).
      expect(statuses[0]).toBe(200);
      expect([401, 409]).toContain(statuses[1]);
      const admins = await db.sql`select id from staff where role = 'admin' and status = 'active'`;
      expect(admins).toHaveLength(1);
    } finally {
      await db.sql`update staff set role = 'admin' where id = ${admin.id}`;
    }
  });

  it('lists every route in /openapi.json', async () => {
    const spec = (await api.app!.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(spec.paths['/api/admin/session'])).toEqual(expect.arrayContaining(['post', 'delete']));
    expect(Object.keys(spec.paths['/api/admin/me'])).toContain('get');
    expect(Object.keys(spec.paths['/api/admin/staff'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(spec.paths['/api/admin/staff/{id}'])).toEqual(
      expect.arrayContaining(['patch', 'delete']),
    );
    expect(Object.keys(spec.paths['/api/admin/sessions'])).toContain('get');
    expect(Object.keys(spec.paths['/api/admin/sessions/{id}'])).toContain('delete');
  });
});

describe('the demo admin at the first start', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    // A database with data already: the start skips the bulk demo seed, but not the demo admin.
    await createUser(db.sql, { email: 'buyer@example.com', password: 'buyer password' });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is created with a generated password printed once on stderr, never again, stored only hashed', async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    let first: Running | undefined;
    let second: Running | undefined;
    try {
      first = await startApi(db, new TestClock(), {
        SEED_DEMO_ON_START: 'true',
        STAFF_DEMO_ADMIN_EMAIL: 'Demo@Boxoffice.test',
      });
      // Users exist, so the start skipped the bulk demo data; staff did not, so the admin came.
    } finally {
      spy.mockRestore();
    }
    try {
      const banner = printed.join('');
      const password = /password: (\S+)/.exec(banner)?.[1];
      expect(banner).toContain('email:    demo@boxoffice.test');
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const browser = await signIn(first!, { email: 'demo@boxoffice.test', password: password! });
      expect(browser.response.json().role).toBe('admin');

      const dump = JSON.stringify([
        await db.sql`select row_to_json(s)::text from staff s`,
        await db.sql`select row_to_json(a)::text from audit_log a`,
      ]);
      expect(dump).not.toContain(password);
      const [entry] = await db.sql`select actor_type, metadata from audit_log where action = 'staff.create'`;
      expect(entry).toMatchObject({ actor_type: 'system', metadata: { demo: true } });

      // A second start (or another process) prints nothing and creates nothing.
      const again: string[] = [];
      const spyAgain = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        again.push(String(chunk));
        return true;
      });
      try {
        second = await startApi(db, new TestClock(), { SEED_DEMO_ON_START: 'true' });
        expect(await ensureDemoAdmin(second.platform)).toBeUndefined();
      } finally {
        spyAgain.mockRestore();
      }
      expect(again.join('')).not.toContain('password:');
      expect(await db.sql`select id from staff`).toHaveLength(1);
    } finally {
      await second?.stop();
      await first?.stop();
    }
  });

  it('is not created when SEED_DEMO_ON_START is off', async () => {
    const other = await createTestDatabase();
    try {
      const running = await startApi(other, new TestClock(), { SEED_DEMO_ON_START: 'false' });
      await running.stop();
      expect(await other.sql`select id from staff`).toHaveLength(0);
    } finally {
      await other.drop();
    }
  });
});
