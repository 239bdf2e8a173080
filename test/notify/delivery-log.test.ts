import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCampaigns } from '../../src/notify/campaigns.ts';
import { deliveryLogRange } from '../../src/notify/delivery-log.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Browser, makeStaff, signIn } from '../identity/staff/harness.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { makeTemplate, makeUser, startNotifyApi } from './harness.ts';

type Caller = 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY' | 'admin' | 'manager' | 'analyst' | 'none';

let db: TestDatabase;
let running: Running;
let app: FastifyInstance;
const tokens = new Map<Caller, string>();
const browsers = new Map<Caller, Browser>();

const as = (caller: Caller, options: InjectOptions) => {
  if (caller === 'none') return app.inject(options);
  const token = tokens.get(caller);
  if (token) return app.inject({ ...options, headers: { authorization: `Bearer ${token}` } });
  return browsers.get(caller)!.send(running, options);
};
const log = (query: Record<string, string | number> = {}) =>
  as('ADMIN', {
    method: 'GET',
    url: '/api/notify/deliveries',
    query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
  });

let alice: number;
let bob: number;
let instantId: number;
let campaignId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  running = await startNotifyApi(db);
  app = running.app!;
  for (const role of ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const)
    tokens.set(
      role,
      await tokenFor(
        app,
        await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } }),
      ),
    );
  for (const role of ['admin', 'manager', 'analyst'] as const)
    browsers.set(role, await signIn(running, await makeStaff(db.sql, role)));

  alice = await makeUser(db.sql, { email: 'alice@log.test', country: 'RU', phone: '+79990001122' });
  bob = await makeUser(db.sql, { email: 'bob@log.test', country: 'DE' });
  await makeTemplate(db.sql, 'log-hello', {
    variables: [{ name: 'first_name' }],
    channels: {
      email: { subject: 'Hello {{ first_name }}', html: '<p>Hi</p>' },
      sms: { text: 'Hi' },
    },
  });
  const instant = await as('USER', {
    method: 'POST',
    url: '/api/notifications',
    payload: { user_id: alice, channel: 'sms', template_id: 'log-hello' },
  });
  expect(instant.statusCode, instant.body).toBe(202);
  instantId = instant.json().id;

  const created = await as('ADMIN', {
    method: 'POST',
    url: '/api/admin/bulk',
    payload: {
      name: 'log campaign',
      segment: { user_ids: [alice, bob] },
      template_id: 'log-hello',
      channel: 'email',
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  campaignId = created.json().id;
  const sent = await as('ADMIN', { method: 'POST', url: `/api/admin/bulk/${campaignId}/send`, payload: {} });
  expect(sent.statusCode, sent.body).toBe(200);
  await runCampaigns(running.platform);
  // Bob's email failed for good (a dead letter).
  await db.sql`
    update notify_deliveries set status = 'failed', dead = true, last_error = '554 refused', failed_at = now()
    where recipient = 'bob@log.test'`;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

describe('GET /api/notify/deliveries', () => {
  it('lists every delivery newest first, with its notification and campaign', async () => {
    const response = await log();
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.items.map((d: { recipient: string }) => d.recipient)).toEqual([
      'bob@log.test',
      'alice@log.test',
      '+79990001122',
    ]);
    const [bobMail, aliceMail, sms] = body.items;
    expect(bobMail).toMatchObject({
      channel: 'email',
      status: 'failed',
      dead: true,
      kind: 'bulk',
      campaign_id: campaignId,
      user_id: bob,
      template_id: 'log-hello',
      last_error: '554 refused',
      country: 'DE',
    });
    expect(aliceMail).toMatchObject({ status: 'pending', campaign_id: campaignId });
    expect(aliceMail.next_attempt_at).toEqual(expect.any(String));
    expect(sms).toMatchObject({ kind: 'instant', notification_id: instantId, campaign_id: null });
    expect(body.next_before_id).toBeNull();
  });

  it('filters by status, channel, notification, campaign, recipient and user', async () => {
    const recipients = async (query: Record<string, string | number>) => {
      const response = await log(query);
      expect(response.statusCode, response.body).toBe(200);
      return response.json().items.map((d: { recipient: string }) => d.recipient);
    };
    expect(await recipients({ status: 'failed' })).toEqual(['bob@log.test']);
    expect(await recipients({ status: 'pending', channel: 'email' })).toEqual(['alice@log.test']);
    expect(await recipients({ channel: 'sms' })).toEqual(['+79990001122']);
    expect(await recipients({ notification_id: instantId })).toEqual(['+79990001122']);
    expect(await recipients({ campaign_id: campaignId })).toEqual(['bob@log.test', 'alice@log.test']);
    expect(await recipients({ campaign_id: campaignId, notification_id: instantId })).toEqual([]);
    expect(await recipients({ campaign_id: 999_999 })).toEqual([]);
    expect(await recipients({ notification_id: 999_999 })).toEqual([]);
    expect(await recipients({ recipient: 'alice@log.test' })).toEqual(['alice@log.test']);
    expect(await recipients({ user_id: alice })).toEqual(['alice@log.test', '+79990001122']);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await recipients({ from: future, to: new Date(Date.now() + 7_200_000).toISOString() })).toEqual(
      [],
    );
  });

  it('pages by keyset: next_before_id continues where the page ended', async () => {
    const first = (await log({ limit: 2 })).json();
    expect(first.items).toHaveLength(2);
    expect(first.next_before_id).toBe(first.items[1].id);
    const second = (await log({ limit: 2, before_id: first.next_before_id })).json();
    expect(second.items.map((d: { recipient: string }) => d.recipient)).toEqual(['+79990001122']);
    expect(second.next_before_id).toBeNull();
  });

  it('answers 400 for bad filters and ranges, naming the problem', async () => {
    const now = Date.now();
    for (const [query, pattern] of [
      [{ status: 'lost' }, /status/],
      [{ channel: 'fax' }, /channel/],
      [{ notification_id: 'x' }, /notification_id/],
      [{ campaign_id: 0 }, /campaign_id/],
      [{ user_id: -1 }, /user_id/],
      [{ limit: 1000 }, /limit/],
      [{ from: 'yesterday' }, /from/],
      [{ to: '2026-13-40T00:00:00Z' }, /to/],
      [{ from: new Date(now).toISOString(), to: new Date(now - 1000).toISOString() }, /not after/],
      [{ from: new Date(now - 40 * 86_400_000).toISOString() }, /31 days/],
      [{ recipient: '' }, /recipient/],
    ] as [Record<string, string | number>, RegExp][]) {
      const response = await log(query);
      expect(response.statusCode, JSON.stringify(query)).toBe(400);
      expect(response.json().message, JSON.stringify(query)).toMatch(pattern);
    }
  });

  it('bounds the range: last 7 days by default, at most 31', () => {
    const now = new Date('2026-12-02T15:00:00Z');
    expect(deliveryLogRange(undefined, undefined, now)).toEqual({
      from: new Date('2026-11-25T15:00:00Z'),
      to: now,
    });
    expect(() => deliveryLogRange('2026-10-01T00:00:00Z', '2026-11-02T00:00:00Z', now)).toThrow(/31 days/);
  });

  it('role matrix: notify:read may read (every staff role, ADMIN, USER, READONLY), not AUDITOR or nobody', async () => {
    const expected: Record<Caller, number> = {
      ADMIN: 200,
      USER: 200,
      AUDITOR: 403,
      READONLY: 200,
      admin: 200,
      manager: 200,
      analyst: 200,
      none: 401,
    };
    for (const [caller, status] of Object.entries(expected) as [Caller, number][]) {
      const response = await as(caller, { method: 'GET', url: '/api/notify/deliveries' });
      expect(response.statusCode, caller).toBe(status);
    }
  });

  it('is in /openapi.json', async () => {
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.paths['/api/notify/deliveries'].get).toBeDefined();
    expect(spec.paths['/api/notify/analytics/time-to-open'].get).toBeDefined();
  });
});

describe('GET /api/notify/analytics/time-to-open', () => {
  it('gives the non-empty buckets of the histogram in order, with their edges', async () => {
    const today = new Date().toISOString().slice(0, 10);
    await db.sql`
      insert into notify_open_latency (day, channel, country, time_zone, bucket, count) values
        (${today}, 'email', 'RU', 'UTC', 20, 3), (${today}, 'email', 'DE', 'UTC', 20, 2),
        (${today}, 'sms', '', '', 8, 1), (${today}, 'email', '', '', 0, 4)`;
    const response = await as('analyst', { method: 'GET', url: '/api/notify/analytics/time-to-open' });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.total).toBe(10);
    expect(body.buckets).toEqual([
      { bucket: 0, from_seconds: 0, to_seconds: 1.19, count: 4 },
      { bucket: 8, from_seconds: 4, to_seconds: 4.76, count: 1 },
      { bucket: 20, from_seconds: 32, to_seconds: 38.05, count: 5 },
    ]);
    const email = (
      await as('analyst', { method: 'GET', url: '/api/notify/analytics/time-to-open?channel=email' })
    ).json();
    expect(email.buckets.map((b: { count: number }) => b.count)).toEqual([4, 5]);
  });

  it('refuses bad ranges with 400, and callers without notify:read', async () => {
    for (const query of ['from=2026-02-30', 'from=2026-02-02&to=2026-02-01', 'channel=fax'])
      expect(
        (await as('ADMIN', { method: 'GET', url: `/api/notify/analytics/time-to-open?${query}` })).statusCode,
        query,
      ).toBe(400);
    const expected: Record<Caller, number> = {
      ADMIN: 200,
      USER: 200,
      AUDITOR: 403,
      READONLY: 200,
      admin: 200,
      manager: 200,
      analyst: 200,
      none: 401,
    };
    for (const [caller, status] of Object.entries(expected) as [Caller, number][]) {
      const response = await as(caller, { method: 'GET', url: '/api/notify/analytics/time-to-open' });
      expect(response.statusCode, caller).toBe(status);
    }
  });
});
