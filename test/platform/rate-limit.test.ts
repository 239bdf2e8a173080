import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FallbackRateLimiter,
  MemoryRateLimiter,
  type RateLimiter,
  RedisRateLimiter,
  rateLimitHeaders,
} from '../../src/platform/resilience/rate-limit.ts';

const redisUrl = process.env.REDIS_URL;

interface Subject {
  limiter: RateLimiter;
  /** Moves the bucket's clock `ms` into the past, as if that much time had gone by since its last take. */
  age(key: string, ms: number): Promise<void>;
}

/** The behaviour every RateLimiter must have; run against each implementation below. */
function rateLimiterContract(open: () => Promise<Subject>, close: () => Promise<void>): void {
  let subject: Subject;
  // Fresh keys per test: tests never see each other's buckets.
  const key = (name: string) => `test:${name}:${randomUUID()}`;
  // One token a minute: nothing refills during a test unless it ages the bucket itself.
  const tiny = { perMinute: 1, burst: 3 };

  beforeAll(async () => {
    subject = await open();
  });
  afterAll(close);

  it('allows the burst, then refuses, counting down remaining', async () => {
    const k = key('burst');
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await subject.limiter.take(k, tiny));
    expect(decisions.map((d) => [d.allowed, d.remaining, d.limit])).toEqual([
      [true, 2, 3],
      [true, 1, 3],
      [true, 0, 3],
      [false, 0, 3],
    ]);
    expect(decisions.slice(0, 3).map((d) => d.retryAfterSeconds)).toEqual([0, 0, 0]);
    // Refused with ~0 tokens at one a minute: the next one is ~60 s away.
    expect(decisions[3]!.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(decisions[3]!.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('under parallel requests allows exactly the burst', async () => {
    const k = key('parallel');
    const policy = { perMinute: 1, burst: 20 };
    const decisions = await Promise.all(Array.from({ length: 50 }, () => subject.limiter.take(k, policy)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterSeconds >= 1)).toBe(true);
  });

  it('refills at perMinute / 60 a second, never past the burst', async () => {
    const k = key('refill');
    const policy = { perMinute: 60, burst: 5 }; // one token a second
    for (let i = 0; i < 5; i++) expect((await subject.limiter.take(k, policy)).allowed).toBe(true);
    expect((await subject.limiter.take(k, policy)).allowed).toBe(false);
    await subject.age(k, 2_000);
    const afterTwo = [await subject.limiter.take(k, policy), await subject.limiter.take(k, policy)];
    expect(afterTwo.map((d) => d.allowed)).toEqual([true, true]);
    expect((await subject.limiter.take(k, policy)).allowed).toBe(false);
    await subject.age(k, 3_600_000);
    const refilled = await subject.limiter.take(k, policy);
    expect(refilled).toMatchObject({ allowed: true, remaining: 4, limit: 5 });
  });

  it('takes a cost of several tokens, or none', async () => {
    const k = key('cost');
    expect(await subject.limiter.take(k, { perMinute: 1, burst: 5 }, 3)).toMatchObject({
      allowed: true,
      remaining: 2,
    });
    expect(await subject.limiter.take(k, { perMinute: 1, burst: 5 }, 3)).toMatchObject({
      allowed: false,
      remaining: 2,
    });
    expect(await subject.limiter.take(k, { perMinute: 1, burst: 5 }, 2)).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('reports the seconds until the bucket is full again', async () => {
    const k = key('reset');
    const policy = { perMinute: 60, burst: 10 };
    expect((await subject.limiter.take(k, policy)).resetSeconds).toBe(1);
    const decision = await subject.limiter.take(k, policy, 5);
    // 6 tokens short at one a second, less the few ms that went by.
    expect(decision.resetSeconds).toBe(6);
  });

  it('keeps keys apart', async () => {
    const [a, b] = [key('a'), key('b')];
    expect((await subject.limiter.take(a, { perMinute: 1, burst: 1 })).allowed).toBe(true);
    expect((await subject.limiter.take(a, { perMinute: 1, burst: 1 })).allowed).toBe(false);
    expect((await subject.limiter.take(b, { perMinute: 1, burst: 1 })).allowed).toBe(true);
  });

  it('refuses a nonsensical policy or cost', async () => {
    await expect(subject.limiter.take(key('bad'), { perMinute: 0, burst: 1 })).rejects.toThrow(RangeError);
    await expect(subject.limiter.take(key('bad'), { perMinute: 1, burst: 2 }, 3)).rejects.toThrow(RangeError);
    await expect(subject.limiter.take(key('bad'), { perMinute: 1, burst: 2 }, 0)).rejects.toThrow(RangeError);
  });
}

describe('MemoryRateLimiter', () => {
  let now = 1_000_000;
  const limiter = new MemoryRateLimiter({ now: () => now });
  // The memory limiter has one clock for every bucket: moving it forward ages them all, which
  // is the same for the fresh key of each test.
  rateLimiterContract(
    async () => ({
      limiter,
      async age(_key, ms) {
        now += ms;
      },
    }),
    async () => {},
  );

  it('refills nothing when the clock goes back', async () => {
    let clock = 5_000_000;
    const local = new MemoryRateLimiter({ now: () => clock });
    const policy = { perMinute: 60, burst: 2 };
    await local.take('k', policy);
    await local.take('k', policy);
    clock -= 10_000;
    expect((await local.take('k', policy)).allowed).toBe(false);
    clock += 10_000 + 1_000; // one second after the last take as it was recorded
    expect((await local.take('k', policy)).allowed).toBe(true);
  });

  it('is bounded: past maxKeys the least recently used bucket goes (and comes back full)', async () => {
    const clock = 0;
    const local = new MemoryRateLimiter({ maxKeys: 3, now: () => clock });
    const policy = { perMinute: 1, burst: 1 };
    for (const k of ['a', 'b', 'c']) await local.take(k, policy);
    await local.take('a', policy); // a is now the most recent (refused)
    await local.take('d', policy); // evicts b
    expect(local.size).toBe(3);
    expect((await local.take('b', policy)).allowed).toBe(true); // back full; evicts c
    expect((await local.take('a', policy)).allowed).toBe(false); // a kept its empty bucket
  });
});

describe('FallbackRateLimiter', () => {
  it('uses its own buckets while the primary fails, and the primary again when it answers', async () => {
    let failing = true;
    const primary = new MemoryRateLimiter();
    const flaky: RateLimiter = {
      take: (key, policy, cost) =>
        failing ? Promise.reject(new Error('redis down')) : primary.take(key, policy, cost),
    };
    const fallback = new MemoryRateLimiter();
    const limiter = new FallbackRateLimiter(flaky, fallback, pino({ level: 'silent' }));
    const policy = { perMinute: 1, burst: 1 };
    expect((await limiter.take('k', policy)).allowed).toBe(true);
    expect((await limiter.take('k', policy)).allowed).toBe(false); // the fallback's bucket is empty now
    failing = false;
    expect((await limiter.take('k', policy)).allowed).toBe(true); // the primary's is still full
  });
});

describe('rateLimitHeaders', () => {
  it('writes the draft-07 fields, with Retry-After only when refused', () => {
    const policy = { perMinute: 100, burst: 150 };
    expect(
      rateLimitHeaders(policy, {
        allowed: true,
        remaining: 149,
        limit: 150,
        resetSeconds: 1,
        retryAfterSeconds: 0,
      }),
    ).toEqual({
      'ratelimit-limit': '150',
      'ratelimit-remaining': '149',
      'ratelimit-reset': '1',
      'ratelimit-policy': '100;w=60;burst=150',
    });
    expect(
      rateLimitHeaders(policy, {
        allowed: false,
        remaining: 0,
        limit: 150,
        resetSeconds: 90,
        retryAfterSeconds: 1,
      }),
    ).toMatchObject({ 'retry-after': '1', 'ratelimit-remaining': '0' });
  });
});

if (!redisUrl) console.warn('skipping RedisRateLimiter tests: REDIS_URL is not set');

describe.skipIf(!redisUrl)('RedisRateLimiter', () => {
  let client: Redis;
  let limiter: RedisRateLimiter;
  rateLimiterContract(
    async () => {
      client = new Redis(redisUrl!, { lazyConnect: true });
      await client.connect();
      limiter = new RedisRateLimiter(client);
      return {
        limiter,
        // The script times buckets by the server's clock: moving the stored instant back is the
        // same as time going by, without waiting.
        async age(key, ms) {
          const at = Number(await client.hget(limiter.keyOf(key), 'at'));
          await client.hset(limiter.keyOf(key), 'at', String(at - ms));
        },
      };
    },
    async () => {
      await client.quit();
    },
  );

  it('is one bucket for two processes: two clients taking at once get exactly the burst between them', async () => {
    const other = new Redis(redisUrl!, { lazyConnect: true });
    await other.connect();
    try {
      const a = new RedisRateLimiter(client);
      const b = new RedisRateLimiter(other);
      const k = `test:shared:${randomUUID()}`;
      const policy = { perMinute: 1, burst: 25 };
      const decisions = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).take(k, policy)),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    } finally {
      await other.quit();
    }
  });

  it('expires a bucket once it would be full again', async () => {
    const k = `test:expiry:${randomUUID()}`;
    await limiter.take(k, { perMinute: 60, burst: 10 }, 4);
    const ttl = await client.pttl(limiter.keyOf(k));
    // 4 tokens at one a second, plus a second of margin.
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('loads its script again after SCRIPT FLUSH (a restarted Redis)', async () => {
    await client.script('FLUSH');
    expect((await limiter.take(`test:flush:${randomUUID()}`, { perMinute: 1, burst: 1 })).allowed).toBe(true);
  });
});
