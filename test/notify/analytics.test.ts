import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRange, histogramQuantiles } from '../../src/notify/analytics.ts';
import { bucketSeconds, recordStatuses, type StatusCount } from '../../src/notify/stats.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { startNotifyApi } from './harness.ts';

const round = (x: number) => Math.round(x * 10) / 10;

describe('analytics pieces', () => {
  it('quantiles of a histogram are the middle of the bucket they fall in', () => {
    // 50 opens in bucket 10, 45 in 20, 5 in 30: p50 is bucket 10, p95 bucket 20.
    const q = histogramQuantiles(
      new Map([
        [10, 50],
        [20, 45],
        [30, 5],
      ]),
    );
    expect(q).toEqual({ p50: round(bucketSeconds(10)), p95: round(bucketSeconds(20)) });
    expect(histogramQuantiles(new Map([[12, 1]]))).toEqual({
      p50: round(bucketSeconds(12)),
      p95: round(bucketSeconds(12)),
    });
    expect(histogramQuantiles(new Map())).toBeNull();
  });

  it('the range defaults to the last 30 days and refuses bad ones', () => {
    const now = new Date('2026-12-02T15:00:00Z');
    expect(analyticsRange(undefined, undefined, now)).toEqual({ from: '2026-11-03', to: '2026-12-02' });
    expect(analyticsRange(undefined, '2026-01-30', now)).toEqual({ from: '2026-01-01', to: '2026-01-30' });
    expect(analyticsRange('2025-01-01', '2026-01-01', now)).toEqual({ from: '2025-01-01', to: '2026-01-01' });
    expect(() => analyticsRange('2025-01-01', '2026-01-02', now)).toThrow(/367 days/);
    expect(() => analyticsRange('2026-02-02', '2026-02-01', now)).toThrow(/before/);
    expect(() => analyticsRange('2026-02-30', undefined, now)).toThrow(/from must be a date/);
    expect(() => analyticsRange(undefined, 'tomorrow', now)).toThrow(/to must be a date/);
  });
});

describe('GET /api/notify/analytics', () => {
  let db: TestDatabase;
  let running: Running;
  let app: FastifyInstance;
  let reader: string;

  const base = { day: '2026-03-01', channel: 'email', country: 'RU', timeZone: 'Europe/Moscow' };
  const many = (n: number, change: Partial<StatusCount> & { status: string }): StatusCount[] =>
    Array.from({ length: n }, () => ({ ...base, ...change }));

  beforeAll(async () => {
    db = await createTestDatabase();
    running = await startNotifyApi(db);
    app = running.app!;
    const account = await createAccount(db, 'USER', {
      rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
    });
    reader = `Bearer ${await tokenFor(app, account)}`;
    // 2026-03-01 email RU: 10 created, 10 sent, 8 delivered, 4 opened (at 10 s ×2, 100 s, 1000 s), 1 clicked,
    // 2 bounced. 2026-03-02 email, no country: 5 created, 4 sent, 1 failed. 2026-03-02 sms DE: 3 created, 3 sent,
    // 3 delivered. Outside the range (2026-02-28): 100 created.
    await recordStatuses(db.sql, [
      ...many(10, { status: 'created' }),
      ...many(10, { status: 'sent' }),
      ...many(8, { status: 'delivered' }),
      ...[10, 10, 100, 1000].map((openSeconds) => ({ ...base, status: 'opened', openSeconds })),
      ...many(1, { status: 'clicked' }),
      ...many(2, { status: 'bounced' }),
      ...many(5, { day: '2026-03-02', country: null, timeZone: null, status: 'created' }),
      ...many(4, { day: '2026-03-02', country: null, timeZone: null, status: 'sent' }),
      ...many(1, { day: '2026-03-02', country: null, timeZone: null, status: 'failed' }),
      ...(['created', 'sent', 'delivered'] as const).flatMap((status) =>
        many(3, { day: '2026-03-02', channel: 'sms', country: 'DE', timeZone: 'Europe/Berlin', status }),
      ),
      ...many(100, { day: '2026-02-28', status: 'created' }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  const get = (query: string, authorization: string | null = reader) =>
    app.inject({
      method: 'GET',
      url: `/api/notify/analytics${query}`,
      headers: authorization ? { authorization } : {},
    });

  const zero = {
    created: 0,
    sent: 0,
    delivered: 0,
    opened: 0,
    clicked: 0,
    failed: 0,
    bounced: 0,
    suppressed: 0,
    cancelled: 0,
  };
  const p = (bucket: number) => round(bucketSeconds(bucket));

  it('groups by day, with rates and time to open', async () => {
    const response = await get('?from=2026-03-01&to=2026-03-02&group_by=day');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ from: '2026-03-01', to: '2026-03-02', group_by: 'day', channel: null });
    expect(body.groups).toHaveLength(2);
    const [first, second] = body.groups;
    expect(first).toEqual({
      key: '2026-03-01',
      counts: { ...zero, created: 10, sent: 10, delivered: 8, opened: 4, clicked: 1, bounced: 2 },
      delivery_rate: 0.8,
      open_rate: 0.4,
      click_rate: 0.1,
      // Opens at 10, 10, 100, 1000 s: the median is the second (10 s: bucket 13), p95 the fourth (bucket 39).
      time_to_open: { p50: p(13), p95: p(39) },
    });
    expect(second).toEqual({
      key: '2026-03-02',
      counts: { ...zero, created: 8, sent: 7, delivered: 3, failed: 1 },
      // Rates are rounded to 4 places.
      delivery_rate: 0.4286,
      open_rate: 0,
      click_rate: 0,
      time_to_open: null,
    });
    expect(body.totals.counts).toEqual({
      ...zero,
      created: 18,
      sent: 17,
      delivered: 11,
      opened: 4,
      clicked: 1,
      failed: 1,
      bounced: 2,
    });
    expect(body.totals.delivery_rate).toBe(Math.round((11 / 17) * 10_000) / 10_000);
    expect(body.totals.time_to_open).toEqual({ p50: p(13), p95: p(39) });
  });

  it('groups by channel and country, filters by channel', async () => {
    const byChannel = (await get('?from=2026-03-01&to=2026-03-02&group_by=channel')).json();
    expect(
      byChannel.groups.map((g: { key: string; counts: { sent: number } }) => [g.key, g.counts.sent]),
    ).toEqual([
      ['email', 14],
      ['sms', 3],
    ]);
    expect(byChannel.groups[1].delivery_rate).toBe(1);
    const byCountry = (await get('?from=2026-03-01&to=2026-03-02&group_by=country')).json();
    expect(byCountry.groups.map((g: { key: string | null }) => g.key)).toEqual(['DE', 'RU', null]);
    expect(byCountry.groups[1].time_to_open).toEqual({ p50: p(13), p95: p(39) });
    const sms = (await get('?from=2026-03-01&to=2026-03-02&channel=sms&group_by=country')).json();
    expect(sms.channel).toBe('sms');
    expect(sms.groups).toHaveLength(1);
    expect(sms.totals.counts.created).toBe(3);
    expect(sms.totals.open_rate).toBe(0);
  });

  it('groups by time zone, each zone with its own time to open', async () => {
    const body = (await get('?from=2026-03-01&to=2026-03-01&group_by=time_zone')).json();
    expect(body.groups).toHaveLength(1);
    expect(body.groups[0].key).toBe('Europe/Moscow');
    expect(body.groups[0].counts.opened).toBe(4);
    expect(body.groups[0].time_to_open).toEqual({ p50: p(13), p95: p(39) });
    expect(body.totals.time_to_open).toEqual({ p50: p(13), p95: p(39) });
  });

  it('an empty range has zero counts and null rates', async () => {
    const body = (await get('?from=2020-01-01&to=2020-01-31')).json();
    expect(body.groups).toEqual([]);
    expect(body.totals).toEqual({
      counts: zero,
      delivery_rate: null,
      open_rate: null,
      click_rate: null,
      time_to_open: null,
    });
  });

  it('refuses bad input with 400', async () => {
    for (const query of [
      '?from=2026-13-01',
      '?to=yesterday',
      '?from=2026-03-02&to=2026-03-01',
      '?from=2025-01-01&to=2026-12-31',
      '?group_by=week',
      '?channel=fax',
    ]) {
      const response = await get(query);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().message.length).toBeGreaterThan(0);
    }
  });

  it('needs notify:read: 401 without a token, 403 for AUDITOR', async () => {
    expect((await get('', null)).statusCode).toBe(401);
    const auditor = await createAccount(db, 'AUDITOR', {
      rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
    });
    const response = await get('', `Bearer ${await tokenFor(app, auditor)}`);
    expect(response.statusCode).toBe(403);
  });
});
