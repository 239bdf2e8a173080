import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdStatements } from '../../src/booking/holds.ts';
import { beginPayment, bookingModule, firstSeatId, sweepExpiredHolds } from '../../src/booking/index.ts';
import { type HoldRequest, holdRound } from '../../src/booking/store.ts';
import { SWEEP_SCHEDULE, SWEEP_TASK } from '../../src/booking/sweeper.ts';
import { catalogModule } from '../../src/catalog/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import type { Tx } from '../../src/platform/db/client.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  type BookingServer,
  Client,
  makeEvent,
  makeUsers,
  SMALL_HALL,
  startBookingServer,
  type TestUser,
} from './harness.ts';

const HOLD_SECONDS = 1;
const LIMIT = 3;

/** The rules with short holds and a small per-user limit: expiry, the limit, who may do what. */
describe('booking rules', () => {
  let server: BookingServer;
  let client: Client;
  let a: TestUser;
  let b: TestUser;
  const EVENT = 3001;
  const S = firstSeatId(EVENT);

  beforeAll(async () => {
    server = await startBookingServer({
      BOOKING_HOLD_SECONDS: String(HOLD_SECONDS),
      BOOKING_MAX_SEATS_PER_USER: String(LIMIT),
    });
    client = new Client(server.url, 32);
    [a, b] = (await makeUsers(server.sql, 2)) as [TestUser, TestUser];
    await makeEvent(server.sql, EVENT, { layout: SMALL_HALL });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  /** Waits until PostgreSQL's clock is past every hold on `seat` (the database decides expiry). */
  const untilExpired = async (seat: number) => {
    for (;;) {
      const [row] = await server.sql<{ expired: boolean }[]>`
        select coalesce(bool_and(held_until <= now()), true) as expired from booking_seats where seat_id = ${seat}`;
      if (row!.expired) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it("organizers' scenario: B can neither release A's seat nor cancel A's booking; A can", async () => {
    const booking = await client.book(a, EVENT);
    expect((await client.select(a, booking, S)).status).toBe(200);
    expect((await client.release(b, S)).status).toBe(403);
    expect((await client.cancel(b, booking)).status).toBe(403);
    const [still] = await server.sql<
      { booking_id: string }[]
    >`select booking_id from booking_seats where seat_id = ${S}`;
    expect(still!.booking_id).toBe(String(booking));
    const [open] = await server.sql<{ status: string }[]>`select status from bookings where id = ${booking}`;
    expect(open!.status).toBe('created');

    expect((await client.release(a, S)).status).toBe(200);
    expect(await server.sql`select 1 from booking_seats where seat_id = ${S}`).toHaveLength(0);
    expect((await client.cancel(a, booking)).status).toBe(200);
    const [cancelled] = await server.sql<
      { status: string }[]
    >`select status from bookings where id = ${booking}`;
    expect(cancelled!.status).toBe('cancelled');
  });

  it('an expired hold is FREE at once and another user can take it, before any sweeper runs', async () => {
    const mine = await client.book(a, EVENT);
    expect((await client.select(a, mine, S + 1)).status).toBe(200);
    const before = (await client.get(`/api/seats?event_id=${EVENT}&row=1`, b.auth)).json();
    expect(before[1]).toMatchObject({ id: S + 1, status: 'RESERVED' });
    const theirs = await client.book(b, EVENT);
    expect((await client.select(b, theirs, S + 1)).status).toBe(419);

    await untilExpired(S + 1);
    const after = (await client.get(`/api/seats?event_id=${EVENT}&row=1`, b.auth)).json();
    expect(after[1]).toMatchObject({ id: S + 1, status: 'FREE' });
    expect((await client.get('/api/bookings', a.auth)).json()[0]).toEqual({
      id: mine,
      event_id: EVENT,
      seats: [],
    });
    const analytics = (await client.get(`/api/analytics?id=${EVENT}`, b.auth)).json();
    expect(analytics.reserved_seats).toBe(0);
    // The row is still there (nobody swept it), yet the seat is free for everyone.
    expect(await server.sql`select 1 from booking_seats where seat_id = ${S + 1}`).toHaveLength(1);
    expect((await client.select(b, theirs, S + 1)).status).toBe(200);
    const [row] = await server.sql<
      { booking_id: string }[]
    >`select booking_id from booking_seats where seat_id = ${S + 1}`;
    expect(row!.booking_id).toBe(String(theirs));
    // A's release now concerns B's hold.
    expect((await client.release(a, S + 1)).status).toBe(403);
    await untilExpired(S + 1);
    expect((await client.release(b, S + 1)).status).toBe(419);
  });

  it('the sweeper removes expired holds and announces them; live ones stay', async () => {
    const booking = await client.book(a, EVENT);
    expect((await client.select(a, booking, S + 2)).status).toBe(200);
    await untilExpired(S + 2);
    const live = await client.book(b, EVENT);
    expect((await client.select(b, live, S + 3)).status).toBe(200);
    const removed = await sweepExpiredHolds(server.sql, pino({ level: 'silent' }));
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await server.sql`select 1 from booking_seats where seat_id = ${S + 2}`).toHaveLength(0);
    expect(await server.sql`select 1 from booking_seats where seat_id = ${S + 3}`).toHaveLength(1);
    const [event] = await server.sql<{ payload: { reason: string; bookingId: number } }[]>`
      select payload from outbox_events where topic = 'seat.released' and key = ${String(S + 2)}`;
    expect(event!.payload).toMatchObject({ reason: 'expired', bookingId: booking });
    await client.release(b, S + 3);
  });

  it('refuses a hold past the per-user limit (419), counting every booking of the user, until one is released', async () => {
    const [c] = await makeUsers(server.sql, 1, 'limited');
    const first = await client.book(c!, EVENT);
    const second = await client.book(c!, EVENT);
    expect((await client.select(c!, first, S + 5)).status).toBe(200);
    expect((await client.select(c!, second, S + 6)).status).toBe(200);
    expect((await client.select(c!, second, S + 7)).status).toBe(200);
    const refused = await client.select(c!, first, S + 8);
    expect(refused.status).toBe(419);
    expect(refused.json()).toMatchObject({ code: 'BOOKING_HOLD_LIMIT', details: { limit: LIMIT } });
    expect(await server.sql`select 1 from booking_seats where seat_id = ${S + 8}`).toHaveLength(0);
    // Re-selecting a seat one already holds is still fine at the limit.
    expect((await client.select(c!, second, S + 7)).status).toBe(200);
    expect((await client.release(c!, S + 6)).status).toBe(200);
    expect((await client.select(c!, first, S + 8)).status).toBe(200);
    await client.cancel(c!, first);
    await client.cancel(c!, second);
  });

  it('holds the limit against parallel selects of one user on many seats', async () => {
    const [d] = await makeUsers(server.sql, 1, 'greedy');
    const bookings = await Promise.all([1, 2, 3].map(() => client.book(d!, EVENT)));
    const seats = Array.from({ length: 12 }, (_, i) => S + i);
    const answers = await Promise.all(seats.map((seat, i) => client.select(d!, bookings[i % 3]!, seat)));
    const ok = answers.filter((x) => x.status === 200);
    expect(ok).toHaveLength(LIMIT);
    for (const x of answers.filter((y) => y.status !== 200)) expect(x.status).toBe(419);
    const [held] = await server.sql<{ n: number }[]>`
      select count(*)::int as n from booking_seats where user_id = ${d!.id} and held_until > now()`;
    expect(held!.n).toBe(LIMIT);
    for (const booking of bookings) await client.cancel(d!, booking);
  });

  it('counts seats pending payment towards the limit', async () => {
    const [e] = await makeUsers(server.sql, 1, 'payer');
    const booking = await client.book(e!, EVENT);
    for (const seat of [S + 10, S + 11, S + 12])
      expect((await client.select(e!, booking, seat)).status).toBe(200);
    await server.sql.begin((tx) => beginPayment(tx, booking, null));
    await new Promise((resolve) => setTimeout(resolve, HOLD_SECONDS * 1000 + 100));
    // The pending seats did not expire with the hold time, and still count.
    const other = await client.book(e!, EVENT);
    expect((await client.select(e!, other, S + 13)).json().code).toBe('BOOKING_HOLD_LIMIT');
    const [pending] = await server.sql<{ n: number }[]>`
      select count(*)::int as n from booking_seats where booking_id = ${booking} and held_until is null`;
    expect(pending!.n).toBe(3);
  });
});

/**
 * The per-user limit is a read-then-write rule, so it needs a lock: the control shows two transactions of one
 * user racing past the limit with the bare conditional statement; through the hold writer (which takes the
 * user's advisory lock first) the second one waits and is refused.
 */
describe('per-user limit under racing transactions', () => {
  let server: BookingServer;
  let user: TestUser;
  const EVENT = 3002;
  const S = firstSeatId(EVENT);

  beforeAll(async () => {
    server = await startBookingServer();
    [user] = (await makeUsers(server.sql, 1, 'racer')) as [TestUser];
    await makeEvent(server.sql, EVENT, { layout: SMALL_HALL });
  });
  afterAll(async () => {
    await server?.stop();
  });

  type Write = (tx: Tx, r: HoldRequest) => Promise<boolean>;

  /**
   * T1 writes a hold and stays open; T2, for another seat of the same user, runs meanwhile. `expectBlocked`:
   * wait until PostgreSQL shows T2 waiting for a lock, then commit T1; otherwise let T2 finish first.
   */
  async function race(write: Write, expectBlocked: boolean) {
    const [bookingId] = (
      await server.sql<{ id: string }[]>`
        insert into bookings (event_id, user_id) values (${EVENT}, ${user.id}) returning id`
    ).map((r) => Number(r.id));
    const request = (seatId: number): HoldRequest => ({
      seatId,
      bookingId: bookingId!,
      userId: user.id,
      eventId: EVENT,
    });
    let written!: () => void;
    const firstWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    let commit!: () => void;
    const mayCommit = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const first = server.sql.begin(async (tx) => {
      const took = await write(tx, request(S));
      written();
      await mayCommit;
      return took;
    });
    await firstWritten;
    const second = server.sql.begin((tx) => write(tx, request(S + 1)));
    if (expectBlocked) {
      for (;;) {
        const [waiting] = await server.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`;
        if (waiting!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } else {
      await second;
    }
    commit();
    const results = [await first, await second];
    const [held] = await server.sql<{ n: number }[]>`
      select count(*)::int as n from booking_seats where booking_id = ${bookingId!}`;
    await server.sql`delete from booking_seats where booking_id = ${bookingId!}`;
    return { results, held: held!.n };
  }

  it('control: without the lock both transactions pass a limit of 1', async () => {
    const outcome = await race(async (tx, r) => {
      const [row] = await holdRound(tx, [r], [0], 60_000, 1);
      return row!.took_until !== null;
    }, false);
    expect(outcome.results).toEqual([true, true]);
    expect(outcome.held).toBe(2);
  });

  it('with the hold writer the second waits for the first and is refused', async () => {
    const settings = { holdMs: 60_000, maxSeatsPerUser: 1, lockTimeoutMs: 5_000 };
    const outcome = await race(async (tx, r) => {
      const batch = holdStatements(tx, [r], settings);
      return batch.outcomes(await Promise.all(batch.statements.map((q) => q.execute())))[0]!.kind === 'held';
    }, true);
    expect(outcome.results).toEqual([true, false]);
    expect(outcome.held).toBe(1);
  });
});

/** The `start` role runs the module's cron and job handlers: the sweeper is registered and does its work. */
describe('expired-hold sweeper in the start role', () => {
  let db: TestDatabase;
  let running: Running | undefined;
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
  });

  it('boots with the sweeper scheduled and sweeps when the job runs', async () => {
    db = await createTestDatabase();
    const [user] = await makeUsers(db.sql, 1, 'sweep');
    const EVENT = 3003;
    await makeEvent(db.sql, EVENT, { layout: SMALL_HALL });
    const [booking] = await db.sql<{ id: string }[]>`
      insert into bookings (event_id, user_id) values (${EVENT}, ${user!.id}) returning id`;
    await db.sql`
      insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at, held_until)
      select id, ${booking!.id}, ${EVENT}, ${user!.id}, zone_id, 1, now() - interval '10 minutes',
             now() - interval '5 minutes'
      from seats where event_id = ${EVENT}`;
    running = await runRole(
      'start',
      testConfig({ DATABASE_URL: db.url, SEED_DEMO_ON_START: 'false', OUTBOX_POLL_MS: '50' }),
      pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      [identityModule, catalogModule, bookingModule],
    );
    const [schedule] = await db.sql<{ identifier: string }[]>`
      select identifier from graphile_worker._private_known_crontabs where identifier = ${SWEEP_SCHEDULE}`;
    expect(schedule?.identifier).toBe(SWEEP_SCHEDULE);
    await running.platform.jobs.enqueue(db.sql, SWEEP_TASK, {});
    for (;;) {
      const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from booking_seats`;
      if (left!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [events] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from outbox_events where topic = 'seat.released'`;
    expect(events!.n).toBe(15);
  });
});
