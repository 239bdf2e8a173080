import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEvent } from '../../src/catalog/index.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Client, qs, signedInClient, startCatalog } from './harness.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) console.warn('test/catalog/shared-cache.test.ts: skipped, REDIS_URL is not set');

/**
 * Two API processes' worth of platform sharing one Redis: a result cached by one is served by the
 * other, and a change drops it in both. Queries use a random word so that concurrent runs sharing the
 * Redis never read each other's entries.
 */
describe.skipIf(!REDIS_URL)('event search cache shared through Redis', () => {
  let db: TestDatabase;
  let first: Running;
  let second: Running;
  let one: Client;
  let two: Client;
  const word = `zq${randomBytes(5).toString('hex')}`;
  const at = new Date(Date.now() + 9 * 86_400_000);

  beforeAll(async () => {
    db = await createTestDatabase();
    first = await startCatalog(db, { REDIS_URL: REDIS_URL! });
    // No in-process copy: every answer of this one comes from Redis or PostgreSQL.
    second = await startCatalog(db, { REDIS_URL: REDIS_URL!, CATALOG_LOCAL_CACHE_ENTRIES: '0' });
    one = await signedInClient(db, first);
    two = await signedInClient(db, second);
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await db?.drop();
  });

  const search = (client: Client, text: string) => client.events(`/api/events${qs({ query: text })}`);

  it("serves one process's cached result to the other, and drops it everywhere on a change", async () => {
    expect((await search(one, word)).body.count).toBe(0);
    // Written without announcing it: only the cache can explain an answer that misses it.
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`select catalog_ensure_partitions(${[at.getUTCFullYear()]}::int[])`;
      await tx`insert into catalog_event_ids (id, datetime_start) values (501, ${at})`;
      await tx`insert into catalog_events (id, title, type, provider, datetime_start)
               values (501, ${`Вечер ${word}`}, 'stage', 'TicketRu', ${at})`;
    });
    expect((await search(two, word)).body.count).toBe(0);

    await db.sql`select pg_notify('catalog_events_changed', '')`;
    for (const client of [one, two]) {
      await vi.waitFor(
        async () => expect((await search(client, word)).body.events.map((e) => e.id)).toEqual([501]),
        {
          timeout: 10_000,
        },
      );
    }
  });

  it('shows an event created through the catalog in both processes', async () => {
    const other = `${word}x`;
    expect((await search(one, other)).body.count).toBe(0);
    expect((await search(two, other)).body.count).toBe(0);
    const id = await createEvent(db.sql, { title: `Лекция ${other}`, datetimeStart: at });
    for (const client of [one, two]) {
      await vi.waitFor(
        async () => expect((await search(client, other)).body.events.map((e) => e.id)).toEqual([id]),
        {
          timeout: 10_000,
        },
      );
    }
  });
});
