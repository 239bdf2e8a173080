import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEvent } from '../../src/catalog/index.ts';
import { seedCatalog } from '../../src/catalog/seed/seed.ts';
import * as store from '../../src/catalog/store.ts';
import type { SeedProfile } from '../../src/platform/seeding.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { seedContext } from './harness.ts';

const ANCHOR = Date.UTC(2026, 10, 21);
// Three archive blocks (10,000 + 10,000 + 3,000): the last one short.
const PROFILE: SeedProfile = {
  name: 'custom',
  seed: 7,
  users: 0,
  currentEvents: 1_200,
  archiveEvents: 23_000,
};

async function fingerprint(db: TestDatabase): Promise<{ rows: number; md5: string }> {
  const [row] = await db.sql<{ rows: number; md5: string }[]>`
    select count(*)::int as rows, md5(string_agg(concat_ws('|', id, title, description, type, provider,
      datetime_start, search), E'\n' order by id)) as md5
    from catalog_events`;
  return row!;
}

describe('boxoffice seed (catalog)', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    expect(await seedCatalog(seedContext(a), PROFILE, { anchorMs: ANCHOR })).toBe(24_200);
  });
  afterAll(async () => {
    await Promise.all([a?.drop(), b?.drop()]);
  });

  it('generates the release shape: ids, types, providers, date ranges, event 1', async () => {
    const groups = await a.sql<
      {
        current: boolean;
        count: number;
        min_id: number;
        max_id: number;
        types: string[];
        providers: string[];
        first: Date;
        last: Date;
      }[]
    >`
      select id < 100000 as current, count(*)::int, min(id)::int as min_id, max(id)::int as max_id,
        array_agg(distinct type order by type) as types, array_agg(distinct provider order by provider) as providers,
        min(datetime_start) as first, max(datetime_start) as last
      from catalog_events group by 1 order by 1 desc`;
    const [current, archive] = groups;
    expect(current).toMatchObject({ count: 1_200, min_id: 1, max_id: 1_200 });
    expect(current!.types).toEqual(['cinema', 'film', 'game', 'stage']);
    expect(current!.providers).toEqual(['EventWorld', 'ShowTime', 'TicketRu']);
    expect(current!.first.getTime()).toBeGreaterThan(ANCHOR);
    expect(current!.last.getTime()).toBeLessThan(ANCHOR + 92 * 86_400_000);
    expect(archive).toMatchObject({ count: 23_000, min_id: 100_000, max_id: 122_999 });
    expect(archive!.types).toEqual(['cinema', 'concert', 'exhibition', 'film', 'game', 'sport', 'theater']);
    expect(archive!.providers).toEqual(['CultureCity', 'EventWorld', 'ShowTime', 'SportHub', 'TicketRu']);
    expect(archive!.first.toISOString() >= '2015-01-01').toBe(true);
    expect(archive!.last.toISOString() < '2025-01-01').toBe(true);

    const stadium = await getEvent(a.sql, 1);
    expect(stadium?.title).toMatch(/концерт/i);
    expect(stadium?.datetimeStart.getTime()).toBe(ANCHOR + 60 * 86_400_000 + 17 * 3_600_000);
    expect(await store.countEvents(a.sql)).toBe(24_200);
  });

  it('makes the benchmark phrases findable, frequent ones often and names rarely', async () => {
    const hits = async (phrase: string) => {
      const [row] = await a.sql<{ count: number }[]>`
        select count(*)::int from catalog_events where search @@ websearch_to_tsquery('russian', ${phrase})`;
      return row!.count;
    };
    const concert = await hits('концерт');
    const kozlov = await hits('Дмитрий Козлов');
    expect(concert).toBeGreaterThan(2_000);
    expect(await hits('Чемпионат')).toBeGreaterThan(1_000);
    expect(await hits('азарт')).toBeGreaterThan(500);
    expect(await hits('Красная шапочка')).toBeGreaterThan(20);
    expect(await hits('Экспозиция "Звездные войны"')).toBeGreaterThan(20);
    expect(kozlov).toBeGreaterThan(0);
    expect(kozlov).toBeLessThan(concert / 20);
    // Inflected forms are there, so stemming is what finds them.
    const [forms] = await a.sql<{ count: number }[]>`
      select count(*)::int from catalog_events where description ~ '(азарта|азартом|концерта|Дмитрия)'`;
    expect(forms!.count).toBeGreaterThan(100);
  });

  it('is deterministic: the same seed gives the same rows elsewhere, another seed other rows', async () => {
    // Loaded the other way (one batch at a time, index rebuilt): the rows must not depend on it.
    await seedCatalog(seedContext(b), PROFILE, { anchorMs: ANCHOR, parallel: 1, rebuildIndexMinRows: 1 });
    expect(await fingerprint(b)).toEqual(await fingerprint(a));

    const other = await createTestDatabase();
    try {
      await seedCatalog(seedContext(other), { ...PROFILE, archiveEvents: 0, seed: 8 }, { anchorMs: ANCHOR });
      const [mine, theirs] = await Promise.all([
        a.sql<{ title: string }[]>`select title from catalog_events where id between 2 and 50 order by id`,
        other.sql<
          { title: string }[]
        >`select title from catalog_events where id between 2 and 50 order by id`,
      ]);
      expect(theirs).toHaveLength(mine.length);
      expect(theirs.map((r) => r.title)).not.toEqual(mine.map((r) => r.title));
    } finally {
      await other.drop();
    }
  });

  it('rebuilds the search index after a bulk load', async () => {
    expect(await store.partitionsWithoutSearchIndex(b.sql)).toEqual([]);
    const [index] = await b.sql<{ valid: boolean }[]>`
      select indisvalid as valid from pg_index where indexrelid = 'catalog_events_search_idx'::regclass`;
    expect(index?.valid).toBe(true);
  });

  it('adds nothing when re-run, and completes an interrupted run with the very same rows', async () => {
    const before = await fingerprint(a);
    expect(await seedCatalog(seedContext(a), PROFILE, { anchorMs: ANCHOR + 86_400_000 })).toBe(0);
    expect(await fingerprint(a)).toEqual(before);

    // As if a run died part-way: a block half gone, another block gone entirely.
    await a.sql`delete from catalog_events where id between 100500 and 104999 or id >= 120000`;
    await a.sql`delete from catalog_event_ids where id between 100500 and 104999 or id >= 120000`;
    expect(await seedCatalog(seedContext(a), PROFILE, { anchorMs: ANCHOR })).toBe(7_500);
    expect(await fingerprint(a)).toEqual(before);
  });
});
