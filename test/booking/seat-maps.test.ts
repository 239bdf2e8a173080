import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingModule } from '../../src/booking/index.ts';
import {
  capacityOf,
  eventOfSeat,
  firstSeatId,
  layoutFor,
  SEAT_ID_SPACE,
  STADIUM,
  seatChunks,
  seatOrdinal,
} from '../../src/booking/seating/layout.ts';
import { createEvent } from '../../src/catalog/index.ts';
import { SEED_PROFILES, type SeedContext } from '../../src/platform/seeding.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('seat layouts', () => {
  it('event 1 is the stadium: 100,000 seats in five priced zones', () => {
    expect(layoutFor(1, 1)).toBe(STADIUM);
    expect(STADIUM.zones.map((z) => [z.name, z.rows * z.seatsPerRow, z.price])).toEqual([
      ['Golden circle', 10_000, 40_000],
      ['Fan zone', 15_000, 80_000],
      ['Lower tier', 20_000, 120_000],
      ['Middle tier', 25_000, 160_000],
      ['Upper tier', 30_000, 200_000],
    ]);
    expect(capacityOf(STADIUM)).toBe(100_000);
  });

  it('other events get modest halls, the same for the same seed, following the event type', () => {
    for (let event = 2; event < 300; event++) {
      const layout = layoutFor(7, event);
      expect(layoutFor(7, event)).toEqual(layout);
      expect(capacityOf(layout)).toBeGreaterThanOrEqual(6 * 10);
      expect(capacityOf(layout)).toBeLessThanOrEqual(3_000);
    }
    const differ = Array.from({ length: 50 }, (_, i) => i + 2).filter(
      (event) => JSON.stringify(layoutFor(1, event)) !== JSON.stringify(layoutFor(2, event)),
    );
    expect(differ.length).toBeGreaterThan(40);
    expect(layoutFor(1, 5, 'film').kind).toBe('cinema');
    expect(layoutFor(1, 5, 'game').kind).toBe('arena');
    expect(['theatre', 'club']).toContain(layoutFor(1, 5, 'stage').kind);
  });

  it('derives seat ids from the event: contiguous per event, row-major, rows numbered across zones', () => {
    expect(firstSeatId(1)).toBe(1);
    expect(firstSeatId(2)).toBe(SEAT_ID_SPACE + 1);
    expect(eventOfSeat(100_000)).toBe(1);
    expect(eventOfSeat(100_001)).toBe(2);
    expect(seatOrdinal(100_001)).toBe(1);
    const seats = [...seatChunks(3, STADIUM, 7_000)].flat();
    expect(seats).toHaveLength(100_000);
    expect(seats[0]).toEqual({ id: firstSeatId(3), zone: 0, row: 1, number: 1 });
    expect(seats[10_000]).toEqual({ id: firstSeatId(3) + 10_000, zone: 1, row: 101, number: 1 });
    expect(seats.at(-1)).toEqual({ id: firstSeatId(3) + 99_999, zone: 4, row: 1000, number: 100 });
    expect(() => [
      ...seatChunks(3, { ...STADIUM, zones: [...STADIUM.zones, STADIUM.zones[0]!] }, 10),
    ]).toThrow(/at most 100000/);
  });
});

describe('booking seed', () => {
  let db: TestDatabase;
  const ticks: number[] = [];
  const context = (): SeedContext => ({
    db: db.sql,
    logger: pino({ level: 'silent' }),
    progress: () => ({ tick: (n) => ticks.push(n), done: () => {} }),
  });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('writes the stadium of event 1 once; a re-run adds nothing', async () => {
    expect(await bookingModule.hasData!(db.sql)).toBe(false);
    await createEvent(db.sql, {
      id: 1,
      title: 'Stadium concert',
      datetimeStart: new Date(Date.now() + 86_400_000),
    });
    await bookingModule.seed!(context(), SEED_PROFILES.demo);
    const zones = await db.sql<{ name: string; price: string; seats: number; rows: number }[]>`
      select z.name, z.price::text, count(s.id)::int as seats, count(distinct s.row_no)::int as rows
      from venue_zones z join seats s on s.zone_id = z.id where z.event_id = 1
      group by z.name, z.price, z.position order by z.position`;
    expect(zones).toEqual([
      { name: 'Golden circle', price: '40000.00', seats: 10_000, rows: 100 },
      { name: 'Fan zone', price: '80000.00', seats: 15_000, rows: 150 },
      { name: 'Lower tier', price: '120000.00', seats: 20_000, rows: 200 },
      { name: 'Middle tier', price: '160000.00', seats: 25_000, rows: 250 },
      { name: 'Upper tier', price: '200000.00', seats: 30_000, rows: 300 },
    ]);
    const [range] = await db.sql<{ min: string; max: string }[]>`
      select min(id), max(id) from seats where event_id = 1`;
    expect(range).toEqual({ min: '1', max: '100000' });
    expect(ticks.reduce((sum, n) => sum + n, 0)).toBe(100_000);
    expect(await bookingModule.hasData!(db.sql)).toBe(true);
    // Analysed by the seed itself (last_analyze is never set by autovacuum): with no statistics the FREE
    // listing of a row probed all 100 of its seats and sorted them.
    const analysed = await db.sql<{ relname: string }[]>`
      select relname from pg_stat_user_tables
      where relname in ('venues', 'venue_zones', 'seats') and last_analyze is not null order by relname`;
    expect(analysed.map((t) => t.relname)).toEqual(['seats', 'venue_zones', 'venues']);

    await bookingModule.seed!(context(), SEED_PROFILES.demo);
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from seats where event_id = 1`;
    expect(count!.n).toBe(100_000);
    const [seed] = await db.sql<
      { value: string }[]
    >`select value from booking_settings where key = 'seatmap_seed'`;
    expect(seed!.value).toBe('1');
  });
});
