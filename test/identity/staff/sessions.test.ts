import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedSignIns } from '../../../src/platform/audit/index.ts';
import { STAFF_ROLE_PERMISSIONS } from '../../../src/platform/auth/permissions.ts';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import {
  type Browser,
  MINUTE,
  makeStaff,
  setCookieOf,
  signIn,
  startApi,
  TestClock,
  type TestStaff,
} from './harness.ts';

const COOKIE = /^boxoffice_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/;

describe('staff sign-in and sessions', () => {
  let db: TestDatabase;
  let api: Running;
  let other: Running;
  const clock = new TestClock();
  let admin: TestStaff;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, clock, {
      AUTH_MAX_FAILURES_PER_ACCOUNT: '3',
      AUTH_MAX_FAILURES_PER_ADDRESS: '6',
    });
    // A second API process on the same database: revocations must count there at once too.
    other = await startApi(db, clock);
    admin = await makeStaff(db.sql, 'admin');
  });
  afterAll(async () => {
    await other?.stop();
    await api?.stop();
    await db?.drop();
  });

  const me = (running: Running, browser: Browser) =>
    browser.send(running, { method: 'GET', url: '/api/admin/me' });

  it('signs in: 200 {email, role, csrf_token}, an HttpOnly SameSite=Strict cookie, no-store', async () => {
    const browser = await signIn(api, { email: admin.email.toUpperCase(), password: admin.password });
    expect(browser.response.json()).toEqual({
      email: admin.email,
      role: 'admin',
      csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_at: new Date(clock.now() + 12 * 60 * MINUTE).toISOString(),
    });
    expect(setCookieOf(browser.response)).toMatch(COOKIE);
    expect(browser.response.headers['cache-control']).toBe('no-store');

    const answer = await me(api, browser);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({
      id: admin.id,
      email: admin.email,
      role: 'admin',
      permissions: [...STAFF_ROLE_PERMISSIONS.admin],
      csrf_token: browser.csrf,
    });
    expect((await me(other, browser)).statusCode).toBe(200);
  });

  it('keeps only the SHA-256 of the token in the database', async () => {
    const browser = await signIn(api, admin);
    const token = browser.cookie.split('=')[1]!;
    const key = createHash('sha256').update(token).digest();
    const rows = await db.sql`select * from staff_sessions where id = ${key}`;
    expect(rows).toHaveLength(1);
    const everything = JSON.stringify(await db.sql`select row_to_json(s)::text as r from staff_sessions s`);
    expect(everything).not.toContain(token);
  });

  it('answers an unknown email, a wrong password and a disabled account identically', async () => {
    const disabled = await makeStaff(db.sql, 'manager');
    await db.sql`update staff set status = 'disabled' where id = ${disabled.id}`;
    const attempt = (email: string, password: string, ip: string) =>
      api.app!.inject({
        method: 'POST',
        url: '/api/admin/session',
        payload: { email, password },
        remoteAddress: ip,
      });
    const answers = [
      await attempt('nobody@staff.test', 'whatever it is', '10.9.0.1'),
      await attempt(admin.email, 'not the password', '10.9.0.2'),
      await attempt(disabled.email, disabled.password, '10.9.0.3'),
    ];
    const shapes = answers.map((a) => {
      const { requestId: _id, ...body } = a.json();
      const { 'x-request-id': _r, date: _d, 'content-length': length, ...headers } = a.headers;
      return { status: a.statusCode, body, headers, length };
    });
    expect(shapes[0]).toEqual({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS', message: 'Wrong email or password' },
      headers: expect.not.objectContaining({ 'set-cookie': expect.anything() }),
      length: expect.any(String),
    });
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);

    // Each failure is reported to the audit log (in aggregate).
    await failedSignIns(api.platform).flush(api.platform);
    const logged = await db.sql<{ resource: string }[]>`
      select resource from audit_log where action = 'staff.sign_in_failed' order by id`;
    expect(logged.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a request with the cookie and an Authorization header: the cookie is not used then', async () => {
    const browser = await signIn(api, admin);
    const answer = await browser.send(api, {
      method: 'GET',
      url: '/api/admin/me',
      headers: { authorization: 'Bearer not-a-token' },
    });
    expect(answer.statusCode).toBe(401);
  });

  it('without a session: 401 with the Bearer challenge; an unknown cookie: 401 and the cookie is cleared', async () => {
    const none = await api.app!.inject({ method: 'GET', url: '/api/admin/me' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    const forged = await api.app!.inject({
      method: 'GET',
      url: '/api/admin/me',
      headers: { cookie: `boxoffice_session=${'A'.repeat(43)}` },
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().code).toBe('SESSION_ENDED');
    expect(setCookieOf(forged)).toBe(
      'boxoffice_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    );
  });

  describe('CSRF', () => {
    const create = (browser: Browser, headers: Record<string, string>, csrf = true) =>
      browser.send(
        api,
        {
          method: 'POST',
          url: '/api/admin/staff',
          payload: { email: `csrf-${Math.random()}@staff.test`, role: 'analyst' },
          headers,
        },
        { csrf },
      );

    it('refuses a mutating request with the cookie but no token, or a wrong one (403 CSRF_FAILED)', async () => {
      const browser = await signIn(api, admin);
      const missing = await create(browser, {}, false);
      expect(missing.statusCode).toBe(403);
      expect(missing.json().code).toBe('CSRF_FAILED');
      const wrong = await create(browser, { 'x-csrf-token': 'B'.repeat(43) });
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().code).toBe('CSRF_FAILED');
      // Another session's token is wrong for this one.
      const second = await signIn(api, admin);
      expect((await create(browser, { 'x-csrf-token': second.csrf })).statusCode).toBe(403);
      expect(await db.sql`select 1 from staff where email like 'csrf-%'`).toHaveLength(0);
    });

    it('accepts the right token (2xx), from the same origin or a client that sends no Origin', async () => {
      const browser = await signIn(api, admin);
      expect((await create(browser, {})).statusCode).toBe(201);
      expect((await create(browser, { origin: 'http://localhost:80' })).statusCode).toBe(201);
      expect((await create(browser, { 'sec-fetch-site': 'same-origin' })).statusCode).toBe(201);
    });

    it.each([
      ['Origin of another site', { origin: 'https://evil.example' }],
      ['Origin null', { origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site', origin: 'http://sub.localhost' }],
    ])('refuses a cross-site request even with the right token: %s', async (_case, headers) => {
      const browser = await signIn(api, admin);
      const answer = await create(browser, headers);
      expect(answer.statusCode).toBe(403);
      expect(answer.json().code).toBe('CSRF_FAILED');
    });

    it('GET needs no token', async () => {
      const browser = await signIn(api, admin);
      expect(
        (await browser.send(api, { method: 'GET', url: '/api/admin/staff' }, { csrf: false })).statusCode,
      ).toBe(200);
    });

    it('protects the sign-in itself with the Origin check (login CSRF)', async () => {
      const post = (headers: Record<string, string>) =>
        api.app!.inject({
          method: 'POST',
          url: '/api/admin/session',
          payload: { email: admin.email, password: admin.password },
          headers,
        });
      const crossSite: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of crossSite) {
        const answer = await post(headers);
        expect(answer.statusCode).toBe(403);
        expect(answer.json().code).toBe('CSRF_FAILED');
        expect(setCookieOf(answer)).toBeUndefined();
      }
      expect(
        (await post({ origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' })).statusCode,
      ).toBe(200);
    });

    it('sign-out needs the token too', async () => {
      const browser = await signIn(api, admin);
      const refused = await browser.send(
        api,
        { method: 'DELETE', url: '/api/admin/session' },
        { csrf: false },
      );
      expect(refused.statusCode).toBe(403);
      expect((await me(api, browser)).statusCode).toBe(200);
    });
  });

  describe('expiry (a controlled clock)', () => {
    it('ends a session idle for STAFF_SESSION_IDLE_MINUTES; activity slides it', async () => {
      const browser = await signIn(api, admin);
      clock.advance(29 * MINUTE);
      expect((await me(api, browser)).statusCode).toBe(200);
      clock.advance(29 * MINUTE);
      expect((await me(other, browser)).statusCode).toBe(200);
      clock.advance(30 * MINUTE);
      const ended = await me(api, browser);
      expect(ended.statusCode).toBe(401);
      expect(ended.json()).toMatchObject({ code: 'SESSION_ENDED', message: expect.stringContaining('idle') });
      expect(setCookieOf(ended)).toMatch(/^boxoffice_session=; .*Max-Age=0/);
    });

    it('writes last_seen_at at most once a minute per session', async () => {
      const browser = await signIn(api, admin);
      const key = createHash('sha256').update(browser.cookie.split('=')[1]!).digest();
      const lastSeen = async () =>
        (
          await db.sql<{ t: Date }[]>`select last_seen_at as t from staff_sessions where id = ${key}`
        )[0]!.t.getTime();
      const signedInAt = clock.now();
      clock.advance(30_000);
      await me(api, browser);
      await me(other, browser);
      expect(await lastSeen()).toBe(signedInAt);
      clock.advance(31_000);
      await me(api, browser);
      expect(await lastSeen()).toBe(clock.now());
      const touched = clock.now();
      clock.advance(10_000);
      await Promise.all([me(api, browser), me(other, browser)]);
      expect(await lastSeen()).toBe(touched);
    });

    it('ends a session STAFF_SESSION_ABSOLUTE_HOURS after sign-in, however active', async () => {
      const browser = await signIn(api, admin);
      for (let minutes = 0; minutes < 12 * 60 - 20; minutes += 20) {
        clock.advance(20 * MINUTE);
        expect((await me(api, browser)).statusCode).toBe(200);
      }
      clock.advance(20 * MINUTE);
      const ended = await me(api, browser);
      expect(ended.statusCode).toBe(401);
      expect(ended.json().message).toContain('maximum lifetime');
    });
  });

  describe('revocation counts at once, on every process', () => {
    it('sign-out: 204, cookie cleared, the session refused everywhere', async () => {
      const browser = await signIn(api, admin);
      const out = await browser.send(api, { method: 'DELETE', url: '/api/admin/session' });
      expect(out.statusCode).toBe(204);
      expect(setCookieOf(out)).toMatch(/^boxoffice_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
      expect((await me(api, browser)).statusCode).toBe(401);
      expect((await me(other, browser)).statusCode).toBe(401);
      const [entry] = await db.sql`select actor_id, resource from audit_log where action = 'staff.sign_out'`;
      expect(entry).toEqual({ actor_id: String(admin.id), resource: `staff:${admin.id}` });
    });

    it('an admin revokes a session (GET/DELETE /api/admin/sessions)', async () => {
      const member = await makeStaff(db.sql, 'analyst');
      const theirs = await signIn(api, member);
      const mine = await signIn(api, admin);
      const listed = await mine.send(api, {
        method: 'GET',
        url: `/api/admin/sessions?staff_id=${member.id}`,
      });
      expect(listed.statusCode).toBe(200);
      expect(listed.json()).toEqual([
        expect.objectContaining({
          staff_id: member.id,
          email: member.email,
          current: false,
          ip: '127.0.0.1',
        }),
      ]);
      const all = await mine.send(api, { method: 'GET', url: '/api/admin/sessions' });
      expect(all.json().filter((s: { current: boolean }) => s.current)).toHaveLength(1);
      const revoked = await mine.send(other, {
        method: 'DELETE',
        url: `/api/admin/sessions/${listed.json()[0].id}`,
      });
      expect(revoked.statusCode).toBe(204);
      expect((await me(api, theirs)).statusCode).toBe(401);
      expect((await me(other, theirs)).statusCode).toBe(401);
      const again = await mine.send(api, {
        method: 'DELETE',
        url: `/api/admin/sessions/${listed.json()[0].id}`,
      });
      expect(again.statusCode).toBe(404);
    });

    it('disabling a member ends their sessions; enabling does not bring them back', async () => {
      const member = await makeStaff(db.sql, 'manager');
      const theirs = await signIn(api, member);
      const mine = await signIn(api, admin);
      const disable = await mine.send(other, {
        method: 'PATCH',
        url: `/api/admin/staff/${member.id}`,
        payload: { status: 'disabled' },
      });
      expect(disable.statusCode).toBe(200);
      expect(disable.json()).toMatchObject({ id: member.id, status: 'disabled' });
      expect((await me(api, theirs)).statusCode).toBe(401);
      await mine.send(api, {
        method: 'PATCH',
        url: `/api/admin/staff/${member.id}`,
        payload: { status: 'active' },
      });
      expect((await me(api, theirs)).statusCode).toBe(401);
      expect((await signIn(api, member)).response.statusCode).toBe(200);
    });

    it('a new password ends the member’s sessions (their own change keeps the session it came from)', async () => {
      const member = await makeStaff(db.sql, 'admin');
      const first = await signIn(api, member);
      const second = await signIn(api, member);
      const mine = await signIn(api, admin);
      const changed = await mine.send(api, {
        method: 'PATCH',
        url: `/api/admin/staff/${member.id}`,
        payload: { password: 'a brand new password' },
      });
      expect(changed.statusCode).toBe(200);
      expect((await me(other, first)).statusCode).toBe(401);
      expect((await me(other, second)).statusCode).toBe(401);
      await expect(signIn(api, member)).rejects.toThrow(/401/);

      const renewed = { email: member.email, password: 'a brand new password' };
      const current = await signIn(api, renewed);
      const elsewhere = await signIn(api, renewed);
      const own = await current.send(api, {
        method: 'PATCH',
        url: `/api/admin/staff/${member.id}`,
        payload: { password: 'and yet another one' },
      });
      expect(own.statusCode).toBe(200);
      expect((await me(api, current)).statusCode).toBe(200);
      expect((await me(api, elsewhere)).statusCode).toBe(401);
    });

    it('a deleted member’s session cannot be used', async () => {
      const member = await makeStaff(db.sql, 'analyst');
      const theirs = await signIn(api, member);
      const mine = await signIn(api, admin);
      expect(
        (await mine.send(api, { method: 'DELETE', url: `/api/admin/staff/${member.id}` })).statusCode,
      ).toBe(204);
      expect((await me(api, theirs)).statusCode).toBe(401);
      expect((await me(other, theirs)).statusCode).toBe(401);
      expect(
        (await mine.send(api, { method: 'DELETE', url: `/api/admin/staff/${member.id}` })).statusCode,
      ).toBe(404);
    });

    it('a role change counts at the next request (the role is read from the database each time)', async () => {
      const member = await makeStaff(db.sql, 'admin');
      const theirs = await signIn(api, member);
      expect((await theirs.send(api, { method: 'GET', url: '/api/admin/staff' })).statusCode).toBe(200);
      const mine = await signIn(api, admin);
      await mine.send(api, {
        method: 'PATCH',
        url: `/api/admin/staff/${member.id}`,
        payload: { role: 'analyst' },
      });
      expect((await theirs.send(other, { method: 'GET', url: '/api/admin/staff' })).statusCode).toBe(403);
      expect((await me(other, theirs)).json().role).toBe('analyst');
    });
  });

  describe('throttling failed sign-ins', () => {
    it('429 with Retry-After after AUTH_MAX_FAILURES_PER_ACCOUNT failures for one email, even with the right password', async () => {
      const victim = await makeStaff(db.sql, 'analyst');
      for (let i = 0; i < 3; i++) {
        const answer = await api.app!.inject({
          method: 'POST',
          url: '/api/admin/session',
          payload: { email: victim.email, password: `wrong ${i}` },
          remoteAddress: `10.20.0.${i}`,
        });
        expect(answer.statusCode).toBe(401);
      }
      const blocked = await api.app!.inject({
        method: 'POST',
        url: '/api/admin/session',
        payload: { email: victim.email, password: victim.password },
        remoteAddress: '10.20.0.99',
      });
      expect(blocked.statusCode).toBe(429);
      expect(blocked.headers['retry-after']).toBe('900');
      expect(blocked.json().code).toBe('TOO_MANY_FAILED_SIGN_INS');
      expect((await signIn(api, admin, '10.20.0.99')).response.statusCode).toBe(200);
    });

    it('429 after AUTH_MAX_FAILURES_PER_ADDRESS failures from one address, whatever the emails', async () => {
      for (let i = 0; i < 6; i++) {
        await api.app!.inject({
          method: 'POST',
          url: '/api/admin/session',
          payload: { email: `guess-${i}@staff.test`, password: 'guess' },
          remoteAddress: '10.30.0.1',
        });
      }
      const blocked = await api.app!.inject({
        method: 'POST',
        url: '/api/admin/session',
        payload: { email: admin.email, password: admin.password },
        remoteAddress: '10.30.0.1',
      });
      expect(blocked.statusCode).toBe(429);
      expect(blocked.headers['retry-after']).toBe('900');
    });
  });

  it('writes sign-in, sign-out and every staff change to the audit log', async () => {
    const actions = await db.sql<{ action: string }[]>`select distinct action from audit_log`;
    expect(actions.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'staff.create',
        'staff.sign_in',
        'staff.sign_out',
        'staff.update',
        'staff.delete',
        'staff.session_revoke',
      ]),
    );
    const [signInEntry] = await db.sql`
      select actor_type, actor_id, result from audit_log where action = 'staff.sign_in' order by id limit 1`;
    expect(signInEntry).toEqual({ actor_type: 'staff', actor_id: String(admin.id), result: 'success' });
  });
});

describe('the Secure cookie (STAFF_COOKIE_SECURE)', () => {
  let db: TestDatabase;
  let api: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db, new TestClock(), { STAFF_COOKIE_SECURE: 'true' });
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('is named __Host-boxoffice_session, Secure, Path=/, no Domain; the unprefixed name is not read', async () => {
    const staff = await makeStaff(db.sql, 'manager');
    const browser = await signIn(api, staff);
    expect(setCookieOf(browser.response)).toMatch(
      /^__Host-boxoffice_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/,
    );
    expect((await browser.send(api, { method: 'GET', url: '/api/admin/me' })).statusCode).toBe(200);
    const token = browser.cookie.split('=')[1];
    const plain = await api.app!.inject({
      method: 'GET',
      url: '/api/admin/me',
      headers: { cookie: `boxoffice_session=${token}` },
    });
    expect(plain.statusCode).toBe(401);
  });
});
