import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cache, CacheNamespace, MemoryCache, RedisCache } from '../../src/platform/cache/index.ts';
import { assertRedisReachable, createRedis } from '../../src/platform/redis.ts';

const redisUrl = process.env.REDIS_URL;
const logger = pino({ level: 'silent' });

// Expiry tests use a short TTL and wait well past it: they only claim "gone long after", never "gone at".
const SHORT_TTL_MS = 50;
const PAST_SHORT_TTL_MS = 120;
const LONG_TTL_MS = 60_000;

interface Subject {
  cache: Cache;
  /** The same store through another handle: a second connection for Redis, as another process would. */
  peer: Cache;
}

/** The behaviour every Cache must have; run against each implementation below. */
function cacheContract(open: () => Promise<Subject>, close: () => Promise<void>): void {
  let cache: Cache;
  let peer: Cache;
  // Fresh keys per test, so tests never see each other's state.
  const key = (name: string) => `${name}:${randomUUID()}`;

  beforeAll(async () => {
    ({ cache, peer } = await open());
  });
  afterAll(close);

  it('answers ping', async () => {
    await expect(cache.ping()).resolves.toBeUndefined();
  });

  it('reads back what was set, and misses as undefined', async () => {
    const k = key('get');
    expect(await cache.get(k)).toBeUndefined();
    const json = JSON.stringify({ q: 'Café ☕ "quoted"', n: [1, 2] });
    await cache.set(k, json);
    expect(await cache.get(k)).toBe(json);
    expect(await peer.get(k)).toBe(json);
    await cache.set(k, '');
    expect(await cache.get(k)).toBe('');
  });

  it('expires a key well past its TTL', async () => {
    const k = key('ttl');
    await cache.set(k, 'v', SHORT_TTL_MS);
    expect(await cache.get(k)).toBe('v');
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.get(k)).toBeUndefined();
    expect(await cache.getMany([k])).toEqual([undefined]);
  });

  it('set without a TTL replaces an earlier TTL', async () => {
    const k = key('persist');
    await cache.set(k, 'old', SHORT_TTL_MS);
    await cache.set(k, 'new');
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.get(k)).toBe('new');
  });

  it('getMany returns values in key order with undefined for misses', async () => {
    const [a, b, missing] = [key('a'), key('b'), key('missing')];
    await Promise.all([cache.set(a, '1'), cache.set(b, '2')]);
    expect(await cache.getMany([b, missing, a, b])).toEqual(['2', undefined, '1', '2']);
    expect(await cache.getMany([])).toEqual([]);
  });

  it('rejects TTLs that are not positive', async () => {
    const k = key('bad-ttl');
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(cache.set(k, 'v', ttl)).rejects.toThrow(RangeError);
      await expect(cache.setIfAbsent(k, 'v', ttl)).rejects.toThrow(RangeError);
      await expect(cache.increment(k, 1, ttl)).rejects.toThrow(RangeError);
    }
    expect(await cache.get(k)).toBeUndefined();
  });

  it('setIfAbsent stores only when absent, and again once the key expired or was deleted', async () => {
    const k = key('gate');
    expect(await cache.setIfAbsent(k, 'first', SHORT_TTL_MS)).toBe(true);
    expect(await peer.setIfAbsent(k, 'second', LONG_TTL_MS)).toBe(false);
    expect(await cache.get(k)).toBe('first');
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.setIfAbsent(k, 'third', LONG_TTL_MS)).toBe(true);
    expect(await cache.get(k)).toBe('third');
    expect(await cache.delete(k)).toBe(true);
    expect(await cache.setIfAbsent(k, 'fourth', LONG_TTL_MS)).toBe(true);
    expect(await cache.get(k)).toBe('fourth');
  });

  it('setIfAbsent lets exactly one of 200 concurrent callers win', async () => {
    const k = key('race');
    const handles = [cache, peer];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => handles[i % 2]!.setIfAbsent(k, `owner-${i}`, LONG_TTL_MS)),
    );
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(await cache.get(k)).toBe(`owner-${winners[0]}`);
  });

  it('delete reports whether the key existed', async () => {
    const k = key('delete');
    await cache.set(k, 'v');
    expect(await cache.delete(k)).toBe(true);
    expect(await cache.get(k)).toBeUndefined();
    expect(await cache.delete(k)).toBe(false);
  });

  it('deleteIfEquals deletes only for the current owner', async () => {
    const k = key('owned');
    await cache.set(k, 'owner-a', LONG_TTL_MS);
    expect(await peer.deleteIfEquals(k, 'owner-b')).toBe(false);
    expect(await cache.get(k)).toBe('owner-a');
    expect(await peer.deleteIfEquals(k, 'owner-a')).toBe(true);
    expect(await cache.get(k)).toBeUndefined();
    expect(await cache.deleteIfEquals(k, 'owner-a')).toBe(false);
  });

  it('increment starts from zero, adds signed integers and returns the new value', async () => {
    const k = key('counter');
    expect(await cache.increment(k, 5)).toBe(5);
    expect(await cache.increment(k, -7)).toBe(-2);
    expect(await peer.increment(k, 3)).toBe(1);
    expect(await cache.get(k)).toBe('1');
  });

  it('increment sets the TTL only when it creates the key', async () => {
    const k = key('window');
    expect(await cache.increment(k, 1, SHORT_TTL_MS)).toBe(1);
    // A later hit with a long TTL must not extend the window opened by the first.
    expect(await cache.increment(k, 1, LONG_TTL_MS)).toBe(2);
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.get(k)).toBeUndefined();
    expect(await cache.increment(k, 1, LONG_TTL_MS)).toBe(1);
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.get(k)).toBe('1');
  });

  it('increment keeps the TTL a key was set with', async () => {
    const k = key('set-then-increment');
    await cache.set(k, '10', SHORT_TTL_MS);
    expect(await cache.increment(k, 1, LONG_TTL_MS)).toBe(11);
    await sleep(PAST_SHORT_TTL_MS);
    expect(await cache.get(k)).toBeUndefined();
  });

  it('200 concurrent increments count to 200, each seeing a distinct value', async () => {
    const k = key('concurrent');
    const handles = [cache, peer];
    const values = await Promise.all(
      Array.from({ length: 200 }, (_, i) => handles[i % 2]!.increment(k, 1, LONG_TTL_MS)),
    );
    expect(await cache.get(k)).toBe('200');
    expect(new Set(values).size).toBe(200);
    expect(Math.max(...values)).toBe(200);
  });

  it('increment rejects a non-integer value or amount and leaves the value alone', async () => {
    const k = key('not-a-number');
    await cache.set(k, '{"json":true}');
    await expect(cache.increment(k, 1)).rejects.toThrow(/integer/);
    expect(await cache.get(k)).toBe('{"json":true}');
    await cache.set(k, '1.5');
    await expect(cache.increment(k, 1)).rejects.toThrow(/integer/);
    await expect(cache.increment(key('fraction'), 1.5)).rejects.toThrow(RangeError);
  });

  it('a namespace bump hides every entry of that namespace and no other', async () => {
    const name = key('search');
    const searches = new CacheNamespace(cache, name);
    const others = new CacheNamespace(cache, key('other'));
    const before = await searches.key('q=jazz');
    const otherKey = await others.key('q=jazz');
    await cache.set(before, 'old results', LONG_TTL_MS);
    await cache.set(otherKey, 'other results', LONG_TTL_MS);
    expect(await searches.key('q=jazz')).toBe(before);

    // Invalidated from another handle, as an event change in another process would.
    await new CacheNamespace(peer, name).invalidate();

    const after = await searches.key('q=jazz');
    expect(after).not.toBe(before);
    expect(await cache.get(after)).toBeUndefined();
    expect(await others.key('q=jazz')).toBe(otherKey);
    expect(await cache.get(otherKey)).toBe('other results');
  });

  it('a namespace invalidated before its first read still changes version afterwards', async () => {
    const name = key('fresh');
    await new CacheNamespace(peer, name).invalidate();
    const first = await new CacheNamespace(cache, name).key('k');
    await new CacheNamespace(peer, name).invalidate();
    expect(await new CacheNamespace(cache, name).key('k')).not.toBe(first);
  });
}

describe('MemoryCache', () => {
  let cache: MemoryCache;
  cacheContract(
    async () => {
      cache = new MemoryCache();
      return { cache, peer: cache };
    },
    () => cache.close(),
  );

  it('evicts the least recently used entry past maxEntries', async () => {
    const lru = new MemoryCache({ maxEntries: 3 });
    await lru.set('a', '1');
    await lru.set('b', '2');
    await lru.set('c', '3');
    expect(await lru.get('a')).toBe('1'); // now b is the least recently used
    await lru.set('d', '4');
    expect(lru.size).toBe(3);
    expect(await lru.getMany(['a', 'b', 'c', 'd'])).toEqual(['1', undefined, '3', '4']);
    await lru.close();
  });

  it('never evicts a key read at least once every maxEntries / 2 insertions, and stays bounded', async () => {
    const lru = new MemoryCache({ maxEntries: 100 });
    await lru.set('hot', 'h');
    for (let i = 1; i <= 1_000; i++) {
      await lru.set(`cold${i}`, 'c');
      if (i % 50 === 0) expect(await lru.get('hot')).toBe('h');
      expect(lru.size).toBeLessThanOrEqual(100);
    }
    expect(await lru.get('cold1')).toBeUndefined();
    expect(await lru.get('cold1000')).toBe('c');
    await lru.close();
  });

  it('sweeps expired entries nobody reads', async () => {
    const swept = new MemoryCache({ sweepIntervalMs: 20 });
    await swept.set('short', 'v', SHORT_TTL_MS);
    await swept.set('kept', 'v');
    expect(swept.size).toBe(2);
    await sleep(PAST_SHORT_TTL_MS);
    expect(swept.size).toBe(1);
    await swept.close();
  });

  it('does not keep the process alive', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
    const before = timers();
    const idle = new MemoryCache({ sweepIntervalMs: 10 });
    expect(timers()).toBe(before);
    await idle.close();
  });
});

describe('assertRedisReachable', () => {
  it('fails fast naming the URL without its password, and the reason', async () => {
    const url = 'redis://user:s3cret@127.0.0.1:1/0'; // port 1: nothing listens, connection refused
    const client = createRedis(url, logger);
    try {
      const failure = assertRedisReachable(client, url, 2_000);
      await expect(failure).rejects.toThrow(
        /^cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0: /,
      );
      await expect(failure).rejects.toThrow(/ECONNREFUSED/);
      await expect(failure).rejects.not.toThrow(/s3cret/);
    } finally {
      client.disconnect();
    }
  });
});

if (!redisUrl) console.warn('skipping Redis cache contract: REDIS_URL is not set');

describe.skipIf(!redisUrl)('RedisCache', () => {
  const url = redisUrl ?? '';
  // A prefix of its own per run, so parallel runs and leftovers never collide; its keys are removed after.
  const prefix = `boxoffice-test:${randomUUID()}:`;
  let admin: Redis;
  const caches: RedisCache[] = [];

  const open = async (): Promise<RedisCache> => {
    const client = createRedis(url, logger);
    await assertRedisReachable(client, url);
    const cache = new RedisCache({ client, prefix });
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    const keys: string[] = [];
    for await (const batch of admin.scanStream({ match: `${prefix}*`, count: 1000 })) keys.push(...batch);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  cacheContract(
    async () => ({ cache: await open(), peer: await open() }),
    async () => {},
  );

  it('stores keys under the prefix', async () => {
    const cache = await open();
    await cache.set('prefixed', 'v', LONG_TTL_MS);
    expect(await admin.get(`${prefix}prefixed`)).toBe('v');
    expect(await admin.exists('prefixed')).toBe(0);
    const ttl = await admin.pttl(`${prefix}prefixed`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LONG_TTL_MS);
  });

  it('runs its scripts again after Redis forgot them', async () => {
    const cache = await open();
    await admin.script('FLUSH');
    expect(await cache.increment('after-flush', 2)).toBe(2);
    await cache.set('owned-after-flush', 'me');
    expect(await cache.deleteIfEquals('owned-after-flush', 'me')).toBe(true);
  });

  it('close quits the client it owns, and a shared client stays open', async () => {
    const owned = await open();
    await owned.close();
    await expect(owned.get('x')).rejects.toThrow(/closed/i);

    const shared = createRedis(url, logger);
    const borrowing = new RedisCache({ client: shared, prefix, ownsClient: false });
    await borrowing.set('shared', 'v');
    await borrowing.close();
    expect(await shared.get(`${prefix}shared`)).toBe('v');
    shared.disconnect();
  });
});
