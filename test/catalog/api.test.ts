import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CatalogTopics, createEvent, getEvent, updateEvent } from '../../src/catalog/index.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Client, type EventJson, qs, signedInClient, startCatalog } from './harness.ts';

const DAY = 86_400_000;

/**
 * The events API against the real app and database: envelope, filters, pagination, full-text search
 * (stemming, ranking, phrases, the archive), public access, bad input, caching and its invalidation.
 */
describe('GET /api/events', () => {
  let db: TestDatabase;
  let running: Running;
  let client: Client;
  const now = Date.now();
  const at = (days: number, hour = 16) => new Date(Math.floor(now / DAY + days) * DAY + hour * 3_600_000);

  beforeAll(async () => {
    db = await createTestDatabase();
    const events: Parameters<typeof createEvent>[1][] = [
      {
        id: 1,
        title: 'Сольный концерт Анна Петрова',
        type: 'stage',
        provider: 'TicketRu',
        datetimeStart: at(10),
      },
      {
        id: 2,
        title: 'Спектакль «Красная шапочка»',
        description: 'Постановка для всей семьи.',
        type: 'stage',
        provider: 'EventWorld',
        datetimeStart: at(20),
      },
      {
        id: 3,
        title: 'Чемпионат "КВН" под руководством Дмитрия Козлова',
        description: 'Вечер, полный азарта.',
        type: 'game',
        provider: 'ShowTime',
        datetimeStart: at(30),
      },
      {
        id: 4,
        title: 'Премьера фильма «Звёздные войны»',
        type: 'film',
        provider: 'ShowTime',
        datetimeStart: at(5),
      },
      {
        id: 5,
        title: 'Вечер джаза',
        description: 'Лучшие концерты сезона в одной программе.',
        type: 'stage',
        provider: 'TicketRu',
        datetimeStart: at(15),
      },
      { id: 6, title: 'Rock Concerts Night', type: 'cinema', provider: 'EventWorld', datetimeStart: at(40) },
      // The archive.
      {
        id: 100_000,
        title: 'Экспозиция "Звездные войны"',
        type: 'exhibition',
        provider: 'CultureCity',
        datetimeStart: new Date('2024-12-25T09:00:00Z'),
      },
      {
        id: 100_001,
        title: 'Чемпионат России по хоккею: Спартак — ЦСКА',
        type: 'sport',
        provider: 'SportHub',
        datetimeStart: new Date('2024-12-25T16:00:00Z'),
      },
      {
        id: 100_002,
        title: 'Сольный концерт Дмитрий Козлов',
        type: 'concert',
        provider: 'TicketRu',
        datetimeStart: new Date('2019-03-08T16:00:00Z'),
      },
      {
        id: 100_003,
        title: 'Выставка «Космос»',
        type: 'exhibition',
        provider: 'CultureCity',
        datetimeStart: new Date('2018-06-01T10:00:00Z'),
      },
      // Recent past: still "current" for 3 months; older: archive only.
      {
        id: 11,
        title: 'Концерт группы «Весна»',
        type: 'concert',
        provider: 'ShowTime',
        datetimeStart: at(-30),
      },
      { id: 12, title: 'Опера «Кармен»', type: 'theater', provider: 'ShowTime', datetimeStart: at(-200) },
    ];
    for (let i = 0; i < 25; i++) {
      events.push({
        id: 1000 + i,
        title: `Кинопоказ «Брат» ${i + 1}`,
        type: 'cinema',
        provider: 'ShowTime',
        datetimeStart: at(50 + i),
      });
    }
    for (const event of events) await createEvent(db.sql, event);
    running = await startCatalog(db);
    client = await signedInClient(db, running);
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  const ids = (events: EventJson[]) => events.map((event) => event.id);

  it('is public: answers without credentials, and whatever credentials come along, the same page', async () => {
    const signedIn = await client.events('/api/events/search?q=концерт');
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.count).toBeGreaterThan(0);
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    const sent: (string | undefined)[] = [
      undefined,
      basic('reader@catalog.test:nope'),
      basic('nobody@catalog.test:whatever'),
      basic('no colon'),
      basic('reader@catalog.test\0:nul'),
      'Bearer abc',
    ];
    for (const authorization of sent) {
      for (const url of ['/api/events', '/api/events/search?q=концерт']) {
        const answer = await client.get(url, { headers: authorization ? { authorization } : {} });
        expect(answer.statusCode, `${url} with ${authorization ?? 'no credentials'}`).toBe(200);
        expect(answer.headers['www-authenticate']).toBeUndefined();
      }
      const search = await client.get('/api/events/search?q=концерт', {
        headers: authorization ? { authorization } : {},
      });
      expect(search.json()).toEqual(signedIn.body);
    }
    // Wrong passwords on a public route are not sign-in attempts: the account is not throttled by them.
    for (let i = 0; i < 12; i++) {
      await client.get('/api/events', { headers: { authorization: basic('reader@catalog.test:nope') } });
    }
    expect((await client.events('/api/events')).status).toBe(200);
    // Bad parameters are still a 400, with or without credentials.
    expect((await client.get('/api/events?pageSize=0')).statusCode).toBe(400);
  });

  it('documents both routes as needing no credentials in /openapi.json', async () => {
    const spec = (await client.get('/openapi.json')).json();
    for (const path of ['/api/events', '/api/events/search']) {
      expect(spec.paths[path].get.security).toEqual([]);
      expect(spec.paths[path].get.responses['401']).toBeUndefined();
    }
  });

  it('answers the envelope: success, count = events.length, the six fields of each event', async () => {
    const { status, body } = await client.events('/api/events');
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.count).toBe(body.events.length);
    expect(body.count).toBe(20);
    for (const event of body.events) {
      expect(Object.keys(event)).toEqual([
        'id',
        'title',
        'description',
        'type',
        'datetime_start',
        'provider',
      ]);
      expect(event.datetime_start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
    const first = body.events.find((event) => event.id === 2)!;
    expect(first).toEqual({
      id: 2,
      title: 'Спектакль «Красная шапочка»',
      description: 'Постановка для всей семьи.',
      type: 'stage',
      datetime_start: at(20).toISOString().replace('.000Z', 'Z'),
      provider: 'EventWorld',
    });
  });

  it('lists the current events (last 3 months and upcoming) by start time, not the archive', async () => {
    const { body } = await client.events('/api/events?pageSize=20');
    const listed = ids(body.events);
    expect(listed.slice(0, 7)).toEqual([11, 4, 1, 5, 2, 3, 6]);
    expect(listed).not.toContain(12);
    expect(listed).not.toContain(100_000);
    const starts = body.events.map((event) => event.datetime_start);
    expect([...starts].sort()).toEqual(starts);
  });

  it('pages without gaps or repeats, and answers an empty page past the end', async () => {
    const seen: number[] = [];
    for (let page = 1; page <= 5; page++) {
      const { body } = await client.events(`/api/events?page=${page}&pageSize=7`);
      expect(body.count).toBe(body.events.length);
      seen.push(...ids(body.events));
    }
    // 7 upcoming-or-recent named events and 25 screenings: 32 current events.
    expect(seen).toHaveLength(32);
    expect(new Set(seen).size).toBe(32);
    const { body: all } = await client.events('/api/events?pageSize=20');
    expect(seen.slice(0, 20)).toEqual(ids(all.events));
    const { body: past } = await client.events('/api/events?page=6&pageSize=7');
    expect(past).toEqual({ success: true, count: 0, events: [] });
  });

  it('filters by type, provider, day and date range, also combined', async () => {
    const cinema = await client.events('/api/events?type=cinema&pageSize=20');
    expect(cinema.body.events.every((event) => event.type === 'cinema')).toBe(true);
    expect(ids(cinema.body.events)).toContain(6);
    expect(cinema.body.count).toBe(20);

    const eventWorld = await client.events('/api/events?provider=EventWorld');
    expect(ids(eventWorld.body.events)).toEqual([2, 6]);

    const christmas = await client.events('/api/events?date=2024-12-25');
    expect(ids(christmas.body.events)).toEqual([100_000, 100_001]);

    const range = await client.events('/api/events?date_from=2018-01-01&date_to=2019-12-31');
    expect(ids(range.body.events)).toEqual([100_003, 100_002]);

    const sportThatDay = await client.events('/api/events?date=2024-12-25&type=sport');
    expect(ids(sportThatDay.body.events)).toEqual([100_001]);

    const old = await client.events(`/api/events?date=${at(-200).toISOString().slice(0, 10)}`);
    expect(ids(old.body.events)).toEqual([12]);

    const nothing = await client.events('/api/events?date=2024-12-25&date_from=2024-12-26');
    expect(nothing.body).toEqual({ success: true, count: 0, events: [] });
  });

  it('stems Russian: концерта finds концерт and концерты; title matches rank above description-only', async () => {
    const { body } = await client.events(`/api/events${qs({ query: 'концерта' })}`);
    const found = ids(body.events);
    // Titles (1, 11, archive 100_002), a description (5: «концерты»), and type concert (11, 100_002).
    expect(found).toEqual(expect.arrayContaining([1, 11, 100_002, 5]));
    for (const titleMatch of [1, 11, 100_002])
      expect(found.indexOf(titleMatch)).toBeLessThan(found.indexOf(5));
    expect(found).not.toContain(2);
  });

  it('stems English: concert finds "Rock Concerts Night" and events of type concert', async () => {
    const { body } = await client.events('/api/events?query=concert');
    expect(ids(body.events)).toEqual(expect.arrayContaining([6, 11, 100_002]));
  });

  it('finds archive events by text and by date, and combines text with a date', async () => {
    const kozlov = await client.events(`/api/events${qs({ query: 'Дмитрий Козлов' })}`);
    expect(ids(kozlov.body.events)).toContain(100_002);

    const championship = await client.events(`/api/events${qs({ query: 'Чемпионат' })}`);
    expect(ids(championship.body.events).sort((a, b) => a - b)).toEqual([3, 100_001]);

    // One day is read by start time, a longer range through the word index: both find it.
    const thatDay = await client.events(`/api/events${qs({ query: 'Чемпионат', date: '2024-12-25' })}`);
    expect(ids(thatDay.body.events)).toEqual([100_001]);
    const december = await client.events(
      `/api/events${qs({ query: 'чемпионата', date_from: '2024-12-01', date_to: '2024-12-31' })}`,
    );
    expect(ids(december.body.events)).toEqual([100_001]);
  });

  it('understands phrases and folds ё', async () => {
    const phrase = await client.events(`/api/events${qs({ query: 'Экспозиция "Звездные войны"' })}`);
    expect(ids(phrase.body.events)).toEqual([100_000]);
    const yo = await client.events(`/api/events${qs({ query: 'звёздные войны' })}`);
    expect(ids(yo.body.events).sort((a, b) => a - b)).toEqual([4, 100_000]);
    const hood = await client.events(`/api/events${qs({ query: 'красной шапочки' })}`);
    expect(ids(hood.body.events)).toEqual([2]);
  });

  it('ranks by relevance, then the later event first', async () => {
    // Both titles match; the archive concert also has the type concert (weight B): more relevant.
    const { body } = await client.events(`/api/events${qs({ query: 'сольный концерт' })}`);
    expect(ids(body.events)).toEqual([100_002, 1]);
    // Equally relevant: the later one first.
    const exhibitions = await client.events(`/api/events${qs({ query: 'exhibition' })}`);
    expect(ids(exhibitions.body.events)).toEqual([100_000, 100_003]);
  });

  it('answers /api/events/search?q= the same as /api/events?query=', async () => {
    const viaSearch = await client.events(`/api/events/search${qs({ q: 'концерт', pageSize: 3 })}`);
    const viaList = await client.events(`/api/events${qs({ query: 'концерт', pageSize: 3 })}`);
    expect(viaSearch.status).toBe(200);
    expect(viaSearch.body).toEqual(viaList.body);
    expect(viaSearch.body.count).toBe(3);
  });

  it('answers a query of stop words or exclusions only with no events', async () => {
    for (const query of ['и в на', '-концерт', '!!! (((']) {
      const { status, body } = await client.events(`/api/events${qs({ query })}`);
      expect(status).toBe(200);
      expect(body).toEqual({ success: true, count: 0, events: [] });
    }
  });

  it.each([
    ['pageSize=0', /pageSize must be >= 1/],
    ['pageSize=21', /pageSize must be <= 20/],
    ['page=0', /page must be >= 1/],
    ['page=abc', /page must be integer/],
    ['page=501&pageSize=20', /page × pageSize must be at most 10000/],
    ['date=2024-13-01', /date must be a real calendar date/],
    ['date=2024-02-30', /date must be a real calendar date/],
    ['date=2023-02-29', /date must be a real calendar date/],
    ['date=25.12.2024', /date must be a date in YYYY-MM-DD form/],
    ['date_from=2024-12-31&date_to=2024-12-01', /date_from \(2024-12-31\) is after date_to \(2024-12-01\)/],
    ['date_to=tomorrow', /date_to must be a date in YYYY-MM-DD form/],
    [`query=${'а'.repeat(201)}`, /query must NOT have more than 200 characters/],
    ['q=a&query=b', /query or as q, not both/],
    ['type=film1', /type must match pattern/],
    ['query=a&query=b', /query must be string/],
  ])('answers bad input %s with 400 saying what is wrong', async (params, message) => {
    const { status, body } = await client.events(`/api/events?${params}`);
    expect(status).toBe(400);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.message).toMatch(message);
  });

  it('accepts the leap day and the limits of pageSize', async () => {
    expect((await client.events('/api/events?date=2024-02-29')).status).toBe(200);
    expect((await client.events('/api/events?pageSize=1')).body.count).toBe(1);
    expect((await client.events('/api/events?page=500&pageSize=20')).status).toBe(200);
  });

  it('shows a created or changed event at once: cached pages are dropped on every change', async () => {
    const search = () => client.events(`/api/events${qs({ query: 'пастила' })}`);
    expect((await search()).body.count).toBe(0);
    const id = await createEvent(db.sql, {
      title: 'Фестиваль «Пастила»',
      type: 'exhibition',
      provider: 'CultureCity',
      datetimeStart: at(3),
    });
    expect(id).toBeGreaterThanOrEqual(10_000_000);
    // The change reaches the API process as a NOTIFY: wait for it (no timing is asserted).
    await vi.waitFor(async () => expect(ids((await search()).body.events)).toEqual([id]), {
      timeout: 10_000,
    });

    await updateEvent(db.sql, id, { title: 'Фестиваль «Зефир»' });
    await vi.waitFor(async () => expect((await search()).body.count).toBe(0), { timeout: 10_000 });
    const renamed = await client.events(`/api/events${qs({ query: 'зефир' })}`);
    expect(ids(renamed.body.events)).toEqual([id]);

    // A new date moves the event to another partition and out of the current listing's first page.
    await updateEvent(db.sql, id, { datetimeStart: new Date('2021-05-05T12:00:00Z') });
    await vi.waitFor(async () => {
      const { body } = await client.events('/api/events?date=2021-05-05');
      expect(ids(body.events)).toEqual([id]);
    });
    expect((await getEvent(db.sql, id))?.datetimeStart.toISOString()).toBe('2021-05-05T12:00:00.000Z');
  });

  it('serves repeated requests from the cache until a change is announced', async () => {
    const search = () => client.events(`/api/events${qs({ query: 'мармелад' })}`);
    // Writes that skip the trigger (replica mode): nobody is told of them.
    const insertSilently = (id: number, title: string) =>
      db.sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`insert into catalog_event_ids (id, datetime_start) values (${id}, ${at(2)})`;
        await tx`insert into catalog_events (id, title, type, provider, datetime_start)
                 values (${id}, ${title}, 'exhibition', 'TicketRu', ${at(2)})`;
      });
    const announce = () => db.sql`select pg_notify('catalog_events_changed', '')`;

    expect((await search()).body.count).toBe(0);
    await insertSilently(77, 'Ярмарка «Мармелад»');
    // Once this announcement is seen, so are the earlier tests' (notifications arrive in order): none
    // of theirs can land in the middle of what follows.
    await announce();
    await vi.waitFor(async () => expect(ids((await search()).body.events)).toEqual([77]), {
      timeout: 10_000,
    });

    await insertSilently(78, 'Мармелад на Арбате');
    expect(ids((await search()).body.events)).toEqual([77]);
    expect(ids((await search()).body.events)).toEqual([77]);
    await announce();
    await vi.waitFor(
      async () => expect(ids((await search()).body.events).sort((a, b) => a - b)).toEqual([77, 78]),
      { timeout: 10_000 },
    );
  });

  it('publishes event.created and event.updated in the outbox', async () => {
    const id = await createEvent(db.sql, { title: 'Лекция о джазе', datetimeStart: at(7) });
    await updateEvent(db.sql, id, { description: 'С пластинками.' });
    const rows = await db.sql<
      { topic: string; payload: { id: number; title: string; description: string | null } }[]
    >`
      select topic, payload from outbox_events where key = ${String(id)} order by id`;
    expect(rows.map((row) => row.topic)).toEqual([CatalogTopics.created, CatalogTopics.updated]);
    expect(rows[0]!.payload).toMatchObject({ id, title: 'Лекция о джазе', description: null });
    expect(rows[1]!.payload).toMatchObject({ id, description: 'С пластинками.' });
  });

  it('ranks frequent words over bounded candidate blocks, newest first, pages consistent', async () => {
    // Three archive screenings whose titles say «брат» three times: more relevant than the 25 current ones.
    for (let i = 0; i < 3; i++) {
      await createEvent(db.sql, {
        id: 200_000 + i,
        title: 'Брат и Брат 2: Кинопоказ «Брат»',
        type: 'cinema',
        provider: 'ShowTime',
        datetimeStart: new Date(Date.UTC(2019, 1, 1 + i, 16)),
      });
    }
    const archive = [200_002, 200_001, 200_000]; // equally relevant: the later first
    const page = (c: Client, n: number) =>
      c.events(`/api/events${qs({ query: 'брат', page: n, pageSize: 20 })}`);
    // One block holds all 28 matches: the archive ones rank first.
    await vi.waitFor(async () =>
      expect(ids((await page(client, 1)).body.events).slice(0, 3)).toEqual(archive),
    );

    const bounded = await startCatalog(db, { CATALOG_SEARCH_CANDIDATES: '20' });
    try {
      const boundedClient = await signedInClient(db, bounded);
      const first = ids((await page(boundedClient, 1)).body.events);
      const second = ids((await page(boundedClient, 2)).body.events);
      // The first 20 matches found are current events (the newest window is searched first)…
      expect(first).toHaveLength(20);
      expect(first.every((id) => id >= 1000 && id < 1025)).toBe(true);
      // …the archive ones come in the next block, and no event is on two pages or missing.
      expect(second).toHaveLength(8);
      expect(second).toEqual(expect.arrayContaining(archive));
      expect(new Set([...first, ...second]).size).toBe(28);
      // A page does not depend on how deep the caller went before.
      expect(ids((await page(boundedClient, 1)).body.events)).toEqual(first);
    } finally {
      await bounded.stop();
    }
  });

  it('gives other modules an event by id, and refuses a duplicate id', async () => {
    expect(await getEvent(db.sql, 100_001)).toEqual({
      id: 100_001,
      title: 'Чемпионат России по хоккею: Спартак — ЦСКА',
      datetimeStart: new Date('2024-12-25T16:00:00Z'),
      provider: 'SportHub',
      type: 'sport',
    });
    expect(await getEvent(db.sql, 999_999_999)).toBeUndefined();
    await expect(
      createEvent(db.sql, { id: 1, title: 'Again', datetimeStart: at(400) }),
    ).rejects.toMatchObject({
      code: 'CATALOG_EVENT_EXISTS',
      statusCode: 409,
    });
  });
});

describe('GET /api/events without the result cache', () => {
  let db: TestDatabase;
  let running: Running;
  let client: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    running = await startCatalog(db, { CATALOG_CACHE_ENABLED: 'false' });
    client = await signedInClient(db, running);
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  it('sees even a write nobody announced', async () => {
    const search = () => client.events(`/api/events${qs({ query: 'мармелад' })}`);
    expect((await search()).body.count).toBe(0);
    const start = new Date(Date.now() + 5 * DAY);
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`select catalog_ensure_partitions(${[start.getUTCFullYear()]}::int[])`;
      await tx`insert into catalog_event_ids (id, datetime_start) values (78, ${start})`;
      await tx`insert into catalog_events (id, title, type, provider, datetime_start)
               values (78, 'Ярмарка «Мармелад»', 'exhibition', 'TicketRu', ${start})`;
    });
    expect(ids((await search()).body.events)).toEqual([78]);
  });

  function ids(events: EventJson[]) {
    return events.map((event) => event.id);
  }
});
