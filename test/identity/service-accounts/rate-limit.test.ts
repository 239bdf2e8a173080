import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { makeStaff, signIn } from '../staff/harness.ts';
import { as, makeAccount, startApi, tokenOf } from './harness.ts';

const redisUrl = process.env.REDIS_URL;
const list = { method: 'GET' as const, url: '/api/service-accounts' };

describe('the service account rate limit (in-process buckets)', () => {
  let db: TestDatabase;
  let running: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    // The default budget: 1 a minute, bursts of 2.
    running = await startApi(db, { RATE_LIMIT_PER_MINUTE: '1', RATE_LIMIT_BURST: '2' });
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('burst, then 429 with Retry-After and RateLimit-* exact, then refill (a controlled clock)', async () => {
    const account = await makeAccount(running, 'ADMIN', { rateLimit: { perMinute: 1, burst: 3 } });
    const token = await tokenOf(running, account);
    // Date stands still (timers run): the bucket's clock moves only when the test moves it.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const answers = await Promise.all(Array.from({ length: 5 }, () => as(running, token, list)));
    const ok = answers.filter((r) => r.statusCode === 200);
    const refused = answers.filter((r) => r.statusCode === 429);
    expect([ok.length, refused.length]).toEqual([3, 2]);
    expect(ok.map((r) => r.headers['ratelimit-remaining']).sort()).toEqual(['0', '1', '2']);
    for (const r of ok) {
      expect(r.headers['ratelimit-limit']).toBe('3');
      expect(r.headers['ratelimit-policy']).toBe('1;w=60;burst=3');
      expect(r.headers['retry-after']).toBeUndefined();
    }
    for (const r of refused) {
      expect(r.headers).toMatchObject({
        'retry-after': '60',
        'ratelimit-limit': '3',
        'ratelimit-remaining': '0',
        'ratelimit-reset': '180',
        'ratelimit-policy': '1;w=60;burst=3',
      });
      expect(r.json()).toMatchObject({
        code: 'RATE_LIMITED',
        message: expect.stringContaining('retry in 60 s'),
      });
    }
    vi.setSystemTime(Date.now() + 60_000);
    const refilled = await as(running, token, list);
    expect(refilled.statusCode).toBe(200);
    expect(refilled.headers).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '180' });
    expect((await as(running, token, list)).statusCode).toBe(429);
  });

  it('without an override: RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST; a 403 counts too; accounts apart', async () => {
    const reader = await makeAccount(running, 'READONLY');
    const other = await makeAccount(running, 'READONLY');
    const [token, otherToken] = [await tokenOf(running, reader), await tokenOf(running, other)];
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await as(running, token, list)).statusCode);
    expect(codes).toEqual([403, 403, 429]);
    const refused = await as(running, token, list);
    expect(refused.headers['ratelimit-policy']).toBe('1;w=60;burst=2');
    expect(refused.headers['retry-after']).toBe('60');
    expect((await as(running, otherToken, list)).statusCode).toBe(403);
  });

  it('a changed rate limit applies to the next request', async () => {
    const account = await makeAccount(running, 'ADMIN', { rateLimit: { perMinute: 1, burst: 1 } });
    const admin = await makeAccount(running, 'ADMIN', { rateLimit: { perMinute: 1000, burst: 1000 } });
    const [token, adminToken] = [await tokenOf(running, account), await tokenOf(running, admin)];
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    expect((await as(running, token, list)).statusCode).toBe(200);
    expect((await as(running, token, list)).statusCode).toBe(429);
    await as(running, adminToken, {
      method: 'PATCH',
      url: `/api/service-accounts/${account.id}`,
      payload: { rate_limit: { per_minute: 1, burst: 5 } },
    });
    // The change bumped the version: a new token. The bucket keeps its (empty) level but may now fill
    // to 5: three minutes later it holds 3 (the old policy would have stopped at 1).
    const fresh = await tokenOf(running, account);
    vi.setSystemTime(Date.now() + 180_000);
    const answer = await as(running, fresh, list);
    expect(answer.statusCode).toBe(200);
    expect(answer.headers).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '2' });
  });

  it('staff are not limited by it (no RateLimit headers)', async () => {
    const browser = await signIn(running, await makeStaff(db.sql, 'admin'));
    for (let i = 0; i < 5; i++) {
      const response = await browser.send(running, list);
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    }
  });
});

if (!redisUrl) console.warn('skipping the shared rate limit test: REDIS_URL is not set');

describe.skipIf(!redisUrl)('the service account rate limit with Redis', () => {
  let db: TestDatabase;
  let a: Running;
  let b: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One issuer for both, as behind a load balancer: a token from one is good on the other.
    const shared = { REDIS_URL: redisUrl!, IDENTITY_ISSUER: 'http://boxoffice.test' };
    a = await startApi(db, shared);
    b = await startApi(db, shared);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('is one budget for every API process: two processes together allow exactly the burst', async () => {
    const account = await makeAccount(a, 'ADMIN', { rateLimit: { perMinute: 1, burst: 10 } });
    const token = await tokenOf(a, account);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => as(i % 2 ? a : b, token, list)));
    expect(answers.filter((r) => r.statusCode === 200)).toHaveLength(10);
    expect(answers.filter((r) => r.statusCode === 429)).toHaveLength(20);
    // Both processes served some of the ten.
    const served = (process: number) =>
      answers.filter((r, i) => i % 2 === process && r.statusCode === 200).length;
    expect(served(0) + served(1)).toBe(10);
    const refused = answers.find((r) => r.statusCode === 429)!;
    expect(refused.headers).toMatchObject({ 'ratelimit-limit': '10', 'ratelimit-remaining': '0' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(59);
  });
});
