import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingServiceOf, firstSeatId } from '../../src/booking/index.ts';
import type { BookingService } from '../../src/booking/service.ts';
import type { Running } from '../../src/platform/runtime.ts';
import {
  type BookingServer,
  Client,
  makeEvent,
  makeUsers,
  pool,
  startBookingServer,
  startOn,
  type TestUser,
  twoZoneTheatre,
} from './harness.ts';

/**
 * The in-memory seat index of two API processes, kept by `booking_seats`' notifications, against a third
 * process that lists from PostgreSQL alone (BOOKING_SEAT_INDEX_MB=0), all on one database: after races,
 * releases, cancels, payments and refunds written by "another process" (plain SQL), expiries, a reset, a lost
 * listener connection and a restart, every listing shape answers the same.
 */
describe('seat index against the database', () => {
  let server: BookingServer;
  let other: Running;
  let truth: Running;
  let client: Client;
  let users: TestUser[];
  const EVENT = 9101;
  const ROWS = 4;
  const PER_ROW = 25;
  const S = firstSeatId(EVENT);

  const service = (running: Running): BookingService => bookingServiceOf(running.platform)!;

  /** A metric of `running`'s /metrics registry (the series with `label`'s value, if given; none is 0). */
  async function metric(running: Running, name: string, label?: string): Promise<number> {
    const found = await running.platform.metrics.getSingleMetric(name)?.get();
    if (!found) throw new Error(`no metric ${name}`);
    return (
      found.values.find((v) => label === undefined || Object.values(v.labels).includes(label))?.value ?? 0
    );
  }

  /** Every listing shape of the event, answered by `running`. */
  async function everyListing(running: Running) {
    const shapes: Record<string, unknown> = {};
    for (const status of [undefined, 'FREE', 'RESERVED', 'SOLD'] as const) {
      for (const row of [undefined, ...Array.from({ length: ROWS }, (_, i) => i + 1)]) {
        const seats = await service(running).listSeats(EVENT, { page: 1, pageSize: 1000, row, status });
        shapes[`${status ?? 'all'} row ${row ?? 'any'}`] = seats.map((s) => `${s.id}:${s.status}:${s.price}`);
      }
    }
    return shapes;
  }

  /** The index of `running` has heard everything committed so far, and agrees with PostgreSQL. */
  async function expectAgreement(running: Running) {
    await service(running).availability.sync();
    expect(await everyListing(running)).toEqual(await everyListing(truth));
    expect(service(running).availability.usage.events).toBe(1);
  }

  beforeAll(async () => {
    server = await startBookingServer();
    other = await startOn(server.db);
    truth = await startOn(server.db, { BOOKING_SEAT_INDEX_MB: '0' });
    client = new Client(server.url, 64);
    users = await makeUsers(server.sql, 20);
    await makeEvent(server.sql, EVENT, {
      layout: twoZoneTheatre('Index hall', ROWS, PER_ROW, ['Stalls', 50], ['Circle', 30]),
    });
  });
  afterAll(async () => {
    client?.close();
    await truth?.stop();
    await other?.stop();
    await server?.stop();
  });

  it('a seat held here is never listed FREE here after its 200', async () => {
    // Built before the rush, so the holds below are applied to a live index.
    await service(server.running).listSeats(EVENT, { page: 1, pageSize: 1, status: 'FREE' });
    await pool(users.length, users.length, async (u) => {
      const user = users[u]!;
      const booking = await client.book(user, EVENT);
      for (let k = 0; k < 3; k++) {
        const seat = S + ((u * 7 + k * 31) % (ROWS * PER_ROW));
        const answer = await client.select(user, booking, seat);
        if (answer.status !== 200) continue;
        const row = Math.floor((seat - S) / PER_ROW) + 1;
        const free = (
          await client.get(`/api/seats?event_id=${EVENT}&row=${row}&status=FREE`, user.auth)
        ).json();
        expect(free.map((s: { id: number }) => s.id)).not.toContain(seat);
      }
    });
    const [held] = await server.sql<{ n: number }[]>`
      select count(*)::int as n from booking_seats where event_id = ${EVENT}`;
    expect(held!.n).toBeGreaterThan(20);
    await expectAgreement(server.running);
  });

  it('agrees after parallel holds, releases and cancels through both processes, and SQL writes of a third', async () => {
    const clients = [client, new Client(other.url!, 64)];
    try {
      await everyListing(other); // the other process builds its index before the storm too
      await pool(users.length, users.length, async (u) => {
        const user = users[u]!;
        const c = clients[u % 2]!;
        const booking = await c.book(user, EVENT);
        for (let k = 0; k < 6; k++) {
          const seat = S + ((u * 13 + k * 17) % (ROWS * PER_ROW));
          const answer = await c.select(user, booking, seat);
          if (answer.status === 200 && k % 3 === 0) await clients[(u + 1) % 2]!.release(user, seat);
        }
        if (u % 5 === 0) await c.cancel(user, booking);
      });
      // What a payment worker does: some bookings pending payment (no expiry), some paid (sold), one
      // refunded (seats deleted), one hold running out soon.
      const bookings = await server.sql<{ booking_id: string }[]>`
        select distinct booking_id from booking_seats where event_id = ${EVENT} order by booking_id`;
      const ids = bookings.map((b) => Number(b.booking_id));
      expect(ids.length).toBeGreaterThan(6);
      await server.sql`update bookings set status = 'pending_payment' where id = ${ids[0]!}`;
      await server.sql`update booking_seats set held_until = null where booking_id = ${ids[0]!}`;
      for (const id of [ids[1]!, ids[2]!]) {
        await server.sql.begin(async (tx) => {
          await tx`update bookings set status = 'paid' where id = ${id}`;
          await tx`update booking_seats set sold = true, held_until = null where booking_id = ${id}`;
        });
      }
      await server.sql.begin(async (tx) => {
        await tx`delete from booking_seats where booking_id = ${ids[2]!}`;
        await tx`update bookings set status = 'refunded' where id = ${ids[2]!}`;
      });
      await server.sql`
        update booking_seats set held_until = now() + interval '300 milliseconds' where booking_id = ${ids[3]!}`;
      await expectAgreement(server.running);
      await expectAgreement(other);
      const sold = await service(server.running).listSeats(EVENT, {
        page: 1,
        pageSize: 1000,
        status: 'SOLD',
      });
      expect(sold.length).toBeGreaterThan(0);
      // What /metrics shows: the indexed processes answered from memory, the third from PostgreSQL.
      expect(await metric(server.running, 'booking_seat_listings_total', 'index')).toBeGreaterThan(40);
      expect(await metric(server.running, 'booking_seat_listings_total', 'database')).toBe(0);
      expect(await metric(truth, 'booking_seat_listings_total', 'database')).toBeGreaterThan(40);
      expect(await metric(server.running, 'booking_seat_index_events')).toBe(1);
      expect(await metric(server.running, 'booking_seat_index_bytes')).toBe(
        service(server.running).availability.usage.bytes,
      );

      // The short hold ends: FREE everywhere without any notification (the index keeps its end).
      const short = await server.sql<
        { seat_id: string }[]
      >`select seat_id from booking_seats where booking_id = ${ids[3]!}`;
      await new Promise((resolve) => setTimeout(resolve, 400));
      const free = await service(other).listSeats(EVENT, { page: 1, pageSize: 1000, status: 'FREE' });
      for (const { seat_id } of short) expect(free.map((s) => s.id)).toContain(Number(seat_id));
      await expectAgreement(server.running);
    } finally {
      clients[1]!.close();
    }
  });

  it('a hold whose notification came back before its answer is not applied again over a later release', async () => {
    const user = users[1]!;
    const booking = await client.book(user, EVENT);
    const [free] = await server.sql<{ id: string; zone_id: string; price: string }[]>`
      select s.id, s.zone_id, z.price from seats s join venue_zones z on z.id = s.zone_id
      where s.event_id = ${EVENT}
        and not exists (select 1 from booking_seats h where h.seat_id = s.id
                        and (h.held_until is null or h.held_until > now()))
      order by s.id limit 1`;
    const seatId = Number(free!.id);
    await server.sql`delete from booking_seats where seat_id = ${seatId}`;
    // A hold committed, then released by someone else, both heard here before the hold's answer is handled.
    const [hold] = await server.sql<{ held_until: Date; xid: string }[]>`
      insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at, held_until)
      values (${seatId}, ${booking}, ${EVENT}, ${user.id}, ${free!.zone_id}, ${free!.price}, now(),
              now() + interval '5 minutes')
      returning held_until, pg_current_xact_id()::text as xid`;
    await server.sql`delete from booking_seats where seat_id = ${seatId}`;
    const availability = service(server.running).availability;
    await availability.sync();
    availability.held(seatId, hold!.held_until, hold!.xid);
    const listed = await service(server.running).listSeats(EVENT, {
      page: 1,
      pageSize: 1000,
      status: 'FREE',
    });
    expect(listed.map((s) => s.id)).toContain(seatId);
    await expectAgreement(server.running);
  });

  it('a lost listener connection drops the indexes; what changed meanwhile is listed once it is back', async () => {
    const before = service(server.running).availability.usage.events;
    expect(before).toBe(1);
    await server.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`;
    const [seat] = await server.sql<{ seat_id: string }[]>`
      select seat_id from booking_seats where event_id = ${EVENT} and not sold and held_until > now() limit 1`;
    await server.sql`delete from booking_seats where seat_id = ${seat!.seat_id}`;
    // The reconnection drops every index; the next listing builds a fresh one.
    for (let i = 0; i < 200 && service(server.running).availability.usage.events > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(service(server.running).availability.usage.events).toBe(0);
    expect(await metric(server.running, 'booking_seat_index_drops_total', 'listener_connected')).toBe(1);
    await expectAgreement(server.running);
    const free = await service(server.running).listSeats(EVENT, { page: 1, pageSize: 1000, status: 'FREE' });
    expect(free.map((s) => s.id)).toContain(Number(seat!.seat_id));
  });

  it('a reset frees every seat here at once, and in the other process after its sync', async () => {
    const answer = await client.post('/api/reset', undefined);
    expect(answer.status).toBe(200);
    const free = await service(server.running).listSeats(EVENT, { page: 1, pageSize: 1000, status: 'FREE' });
    expect(free).toHaveLength(ROWS * PER_ROW);
    await service(other).availability.sync();
    const freeThere = await service(other).listSeats(EVENT, { page: 1, pageSize: 1000, status: 'FREE' });
    expect(freeThere).toHaveLength(ROWS * PER_ROW);
  });

  it('a restarted process builds its index from the database', async () => {
    const booking = await client.book(users[0]!, EVENT);
    expect((await client.select(users[0]!, booking, S + 42)).status).toBe(200);
    await other.stop();
    other = await startOn(server.db);
    await expectAgreement(other);
    const reserved = await service(other).listSeats(EVENT, { page: 1, pageSize: 1000, status: 'RESERVED' });
    expect(reserved.map((s) => s.id)).toEqual([S + 42]);
  });
});
