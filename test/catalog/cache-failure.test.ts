import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../../src/catalog/index.ts';
import { parseEventsQuery } from '../../src/catalog/params.ts';
import { CatalogSearch } from '../../src/catalog/search.ts';
import { RedisCache } from '../../src/platform/cache/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort } from '../helpers/process.ts';
import { silent } from './harness.ts';

/** Redis is an accelerator: with the shared cache unreachable, searches are answered from PostgreSQL. */
describe('event search with the shared cache down', () => {
  let db: TestDatabase;
  let pool: postgres.Sql;
  let redis: Redis;
  beforeAll(async () => {
    db = await createTestDatabase();
    await createEvent(db.sql, {
      id: 5,
      title: 'Сольный концерт Ольга Орлова',
      datetimeStart: new Date(Date.now() + 86_400_000),
    });
    pool = postgres(db.url, { max: 2, onnotice: () => {} });
    // A real client of a port nobody listens on, failing at once instead of queueing.
    redis = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {}); // refused connections are the point here
  });
  afterAll(async () => {
    redis?.disconnect();
    await pool?.end();
    await db?.drop();
  });

  it('answers from PostgreSQL and keeps answering', async () => {
    const search = new CatalogSearch({
      db: pool,
      cache: new RedisCache({ client: redis, prefix: 'test:', ownsClient: false }),
      logger: silent,
      cacheEnabled: true,
      cacheTtlMs: 60_000,
      localEntries: 0,
      candidates: 300,
      scope: 'cache-failure',
    });
    await expect(new RedisCache({ client: redis, prefix: 'test:' }).get('x')).rejects.toThrow();
    for (let i = 0; i < 2; i++) {
      const body = JSON.parse(
        (await search.find(parseEventsQuery({ query: 'концерта' }, Date.now()))).toString(),
      );
      expect(body).toMatchObject({ success: true, count: 1, events: [{ id: 5 }] });
    }
    search.invalidate(); // a failing version bump is logged, not thrown
  });
});
