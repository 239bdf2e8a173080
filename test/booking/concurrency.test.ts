import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstSeatId } from '../../src/booking/index.ts';
import {
  type Answer,
  type BookingServer,
  Client,
  liveHolds,
  makeEvent,
  makeUsers,
  pool,
  startBookingServer,
  type TestUser,
} from './harness.ts';

/**
 * Races over real sockets against the running server, checked in the database afterwards. Run with the
 * taken-seat cache on (the default) and off: the database alone must decide.
 */
describe.each([
  ['with the taken-seat cache', '2000'],
  ['with PostgreSQL alone', '0'],
])('concurrent holds (%s)', (_label, takenCacheMs) => {
  let server: BookingServer;
  let users: TestUser[];
  const HOT = 2001;
  const RUSH = 2002;

  beforeAll(async () => {
    server = await startBookingServer({ BOOKING_TAKEN_CACHE_MS: takenCacheMs });
    users = await makeUsers(server.sql, 25);
    await makeEvent(server.sql, HOT, {
      layout: { name: 'Hot', kind: 'club', zones: [{ name: 'Hall', price: 100, rows: 1, seatsPerRow: 10 }] },
    });
    await makeEvent(server.sql, RUSH, {
      layout: {
        name: 'Rush',
        kind: 'arena',
        zones: [
          { name: 'Floor', price: 5000, rows: 2, seatsPerRow: 40 },
          { name: 'Stand', price: 2500, rows: 3, seatsPerRow: 40 },
        ],
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('500 parallel selects of one seat: exactly one 200, 499 × 419, one hold in the database', async () => {
    const client = new Client(server.url, 500);
    try {
      // 25 users × 20 bookings each: 500 distinct bookings.
      const bookings: { user: TestUser; id: number }[] = [];
      await pool(500, 50, async (i) => {
        const user = users[i % users.length]!;
        bookings.push({ user, id: await client.book(user, HOT) });
      });
      const seat = firstSeatId(HOT) + 4;
      const answers = await Promise.all(bookings.map((b) => client.select(b.user, b.id, seat)));
      const ok = answers.flatMap((answer, i) => (answer.status === 200 ? [bookings[i]!] : []));
      expect(ok).toHaveLength(1);
      const refused = answers.filter((answer) => answer.status === 419);
      expect(refused).toHaveLength(499);
      for (const answer of refused) expect(answer.json().code).toBe('BOOKING_SEAT_TAKEN');

      const rows = await server.sql<{ booking_id: string }[]>`
        select booking_id from booking_seats where seat_id = ${seat}`;
      expect(rows).toEqual([{ booking_id: String(ok[0]!.id) }]);
      const [events] = await server.sql<{ n: number }[]>`
        select count(*)::int as n from outbox_events where topic = 'seat.selected' and key = ${String(seat)}`;
      expect(events!.n).toBe(1);
      const listed = (await client.get(`/api/seats?event_id=${HOT}&status=RESERVED`, users[0]!.auth)).json();
      expect(listed).toEqual([{ id: seat, row: 1, number: 5, status: 'RESERVED', price: '100.00' }]);
    } finally {
      client.close();
    }
  });

  it('many users holding, releasing and cancelling random seats: the database matches every answer', async () => {
    const client = new Client(server.url, 64);
    const capacity = 200;
    const first = firstSeatId(RUSH);
    /** What each virtual user was told about its own booking: the seats it holds at the end. */
    const finals: { booking: number; user: TestUser; seats: number[] }[] = [];
    const statuses = new Map<string, number>();
    const takenRefusals: number[] = [];
    let granted = 0;
    const count = (what: string, answer: Answer) => {
      const key = `${what} ${answer.status}${answer.status === 200 ? '' : ` ${answer.json().code}`}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    };
    const random = (n: number) => Math.floor(Math.random() * n);
    try {
      await pool(300, 48, async (i) => {
        const user = users[i % users.length]!;
        const booking = await client.book(user, RUSH);
        const mine: number[] = [];
        for (let attempt = 0; attempt < 4; attempt++) {
          const seat = first + random(capacity);
          const answer = await client.select(user, booking, seat);
          count('select', answer);
          if (answer.status === 200) {
            if (!mine.includes(seat)) {
              granted++;
              mine.push(seat);
            }
          } else if (answer.json().code === 'BOOKING_SEAT_TAKEN') {
            takenRefusals.push(seat);
          } else {
            expect(answer.json().code).toBe('BOOKING_HOLD_LIMIT');
          }
        }
        const roll = Math.random();
        if (roll < 0.2 && mine.length > 0) {
          const answer = await client.cancel(user, booking);
          count('cancel', answer);
          expect(answer.status).toBe(200);
          mine.length = 0;
        } else if (roll < 0.5 && mine.length > 0) {
          const [seat] = mine.splice(random(mine.length), 1);
          const answer = await client.release(user, seat!);
          count('release', answer);
          expect(answer.status).toBe(200);
        }
        finals.push({ booking, user, seats: mine });
      });
      const held = new Map<number, number>();
      const heldBy = new Map<number, TestUser>();
      for (const { booking, user, seats } of finals) {
        for (const seat of seats) {
          // Two bookings told they hold the same seat would be a double hold.
          expect(held.has(seat)).toBe(false);
          held.set(seat, booking);
          heldBy.set(seat, user);
        }
      }

      // Only 200 and 419 answers to selects: no 5xx, nothing else.
      for (const key of statuses.keys())
        expect(key).toMatch(/^(select 200|select 419 BOOKING_|cancel 200|release 200)/);
      expect(granted).toBeGreaterThan(50);
      expect(takenRefusals.length).toBeGreaterThan(0);

      // The database holds exactly what the clients were told, seat by seat.
      const rows = await liveHolds(server.sql, RUSH);
      expect(new Map([...rows].sort((x, y) => x[0] - y[0]))).toEqual(
        new Map([...held].sort((x, y) => x[0] - y[0])),
      );
      // Each live hold belongs to an active booking of the right user, and nobody is past the limit.
      const owners = await server.sql<{ seat_id: string; user_id: string; status: string }[]>`
        select h.seat_id, b.user_id, b.status from booking_seats h join bookings b on b.id = h.booking_id
        where h.event_id = ${RUSH}`;
      for (const row of owners) {
        expect(row.status).toBe('created');
        const seat = Number(row.seat_id);
        if (held.has(seat)) expect(Number(row.user_id)).toBe(heldBy.get(seat)!.id);
      }
      const [perUser] = await server.sql<{ max: number | null }[]>`
        select max(n)::int as max from (select count(*) as n from booking_seats where event_id = ${RUSH}
          group by user_id) t`;
      expect(perUser!.max ?? 0).toBeLessThanOrEqual(10);
      // Every seat refused as taken was granted to some booking at some point.
      const everSelected = new Set(
        (
          await server.sql<{ seat: string }[]>`
            select payload->>'seatId' as seat from outbox_events where topic = 'seat.selected'`
        ).map((r) => Number(r.seat)),
      );
      for (const seat of takenRefusals) expect(everSelected.has(seat)).toBe(true);
      // One seat.selected event per seat granted (a repeated select of one's own seat adds none).
      const [events] = await server.sql<{ n: number }[]>`
        select count(*)::int as n from outbox_events
        where topic = 'seat.selected' and (payload->>'eventId')::int8 = ${RUSH}`;
      expect(events!.n).toBe(granted);
      // The seat listing agrees.
      const reserved = new Set<number>();
      for (let page = 1; page <= capacity / 20; page++) {
        const seats = (
          await client.get(`/api/seats?event_id=${RUSH}&page=${page}`, users[0]!.auth)
        ).json() as { id: number; status: string }[];
        for (const seat of seats) if (seat.status === 'RESERVED') reserved.add(seat.id);
      }
      expect([...reserved].sort()).toEqual([...held.keys()].sort());
    } finally {
      client.close();
    }
  });
});
