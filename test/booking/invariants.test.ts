import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeatMap, firstSeatId } from '../../src/booking/index.ts';
import { holdRound } from '../../src/booking/store.ts';
import { createEvent } from '../../src/catalog/index.ts';
import type { Sql } from '../../src/platform/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { SMALL_HALL } from './harness.ts';

/**
 * What the database itself guarantees, whatever the application does: each case tries to break a rule with
 * plain SQL and expects PostgreSQL to refuse.
 */
describe('booking invariants enforced by PostgreSQL', () => {
  let db: TestDatabase;
  let sql: Sql;
  const EVENT = 4001;
  const OTHER = 4002;
  const S = firstSeatId(EVENT);

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
    for (const id of [EVENT, OTHER]) {
      await createEvent(sql, { id, title: `Event ${id}`, datetimeStart: new Date(Date.now() + 86_400_000) });
      await createSeatMap(sql, id, SMALL_HALL);
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  const booking = async (eventId: number, userId: number) => {
    const [row] = await sql<{ id: string }[]>`
      insert into bookings (event_id, user_id) values (${eventId}, ${userId}) returning id`;
    return Number(row!.id);
  };
  const zoneOf = async (seatId: number) => {
    const [row] = await sql<{ zone_id: string }[]>`select zone_id from seats where id = ${seatId}`;
    return row!.zone_id;
  };
  const hold = async (seatId: number, bookingId: number, eventId: number, userId: number) =>
    sql`
      insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at, held_until)
      values (${seatId}, ${bookingId}, ${eventId}, ${userId}, ${await zoneOf(seatId)}, 1500, now(),
              now() + interval '5 minutes')`;
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: { code?: string; constraint_name?: string }) => ({
        code: error.code,
        constraint: error.constraint_name,
      }),
    );

  it('a seat cannot be in two bookings: the second hold of one seat violates the primary key', async () => {
    const first = await booking(EVENT, 1);
    const second = await booking(EVENT, 2);
    await hold(S, first, EVENT, 1);
    expect(await refusal(hold(S, second, EVENT, 2))).toEqual({
      code: '23505',
      constraint: 'booking_seats_pkey',
    });
    const rows = await sql`select booking_id from booking_seats where seat_id = ${S}`;
    expect(rows).toEqual([{ booking_id: String(first) }]);
  });

  it('a booking cannot be cancelled or refunded while it still holds a seat', async () => {
    const id = await booking(EVENT, 3);
    await hold(S + 1, id, EVENT, 3);
    for (const status of ['cancelled', 'refunded']) {
      expect(await refusal(sql`update bookings set status = ${status} where id = ${id}`)).toMatchObject({
        code: '23503',
      });
    }
    await sql`delete from booking_seats where booking_id = ${id}`;
    await sql`update bookings set status = 'cancelled' where id = ${id}`;
  });

  it('only an active booking can hold a seat', async () => {
    const id = await booking(EVENT, 4);
    await sql`update bookings set status = 'cancelled' where id = ${id}`;
    expect(await refusal(hold(S + 2, id, EVENT, 4))).toMatchObject({ code: '23503' });
  });

  it("a hold must name its booking's user and event, and a seat of that event", async () => {
    const id = await booking(EVENT, 5);
    // Someone else's user id on the hold.
    expect(await refusal(hold(S + 3, id, EVENT, 6))).toMatchObject({ code: '23503' });
    // A seat of another event.
    const elsewhere = firstSeatId(OTHER);
    expect(
      await refusal(sql`
        insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at)
        values (${elsewhere}, ${id}, ${EVENT}, 5, ${await zoneOf(elsewhere)}, 1, now())`),
    ).toMatchObject({ code: '23503' });
    // A seat that does not exist.
    expect(
      await refusal(sql`
        insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at)
        values (${S + 99}, ${id}, ${EVENT}, 5, ${await zoneOf(S)}, 1, now())`),
    ).toMatchObject({ code: '23503' });
  });

  it('a sold seat has no expiry, and prices and seat positions are sane', async () => {
    const id = await booking(EVENT, 7);
    await hold(S + 4, id, EVENT, 7);
    expect(await refusal(sql`update booking_seats set sold = true where seat_id = ${S + 4}`)).toMatchObject({
      code: '23514',
    });
    expect(await refusal(sql`update venue_zones set price = -1 where event_id = ${EVENT}`)).toMatchObject({
      code: '23514',
    });
    expect(
      await refusal(sql`
        insert into seats (id, event_id, zone_id, row_no, seat_no)
        select ${S + 50}, ${EVENT}, zone_id, 1, 1 from seats where id = ${S}`),
    ).toEqual({ code: '23505', constraint: 'seats_event_id_row_no_seat_no_key' });
  });

  it('two transactions racing for one seat with the bare conditional write: the second takes nothing', async () => {
    const first = await booking(EVENT, 8);
    const second = await booking(EVENT, 9);
    const seat = S + 5;
    let written!: () => void;
    const firstWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    let commit!: () => void;
    const mayCommit = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const t1 = sql.begin(async (tx) => {
      const [row] = await holdRound(
        tx,
        [{ seatId: seat, bookingId: first, userId: 8, eventId: EVENT }],
        [0],
        60_000,
        10,
      );
      written();
      await mayCommit;
      return row!.took_until !== null;
    });
    await firstWritten;
    // No advisory lock here: T2's insert meets T1's uncommitted row in the primary key and waits for it.
    const t2 = sql.begin(async (tx) => {
      const [row] = await holdRound(
        tx,
        [{ seatId: seat, bookingId: second, userId: 9, eventId: EVENT }],
        [0],
        60_000,
        10,
      );
      return row!;
    });
    for (;;) {
      const [waiting] = await sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`;
      if (waiting!.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    commit();
    expect(await t1).toBe(true);
    const lost = await t2;
    // Its snapshot saw the seat free, yet the conflict check on the locked row refused to overwrite.
    expect(lost.live).toBe(false);
    expect(lost.took_until).toBeNull();
    const rows = await sql`select booking_id from booking_seats where seat_id = ${seat}`;
    expect(rows).toEqual([{ booking_id: String(first) }]);
  });
});
