import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingServiceOf, firstSeatId } from '../../src/booking/index.ts';
import {
  type BookingServer,
  Client,
  makeEvent,
  makeUsers,
  startBookingServer,
  type TestUser,
  twoZoneTheatre,
} from './harness.ts';

/**
 * `GET /api/seats` pages every filter through its own query shape (docs/booking.md): each page is compared
 * with the answer computed by brute force from the database's rows, over scattered live, expired, pending and
 * sold holds. Answered by the in-memory seat index (the default) and by PostgreSQL alone: both must agree.
 */
describe.each([
  ['from the seat index', '256'],
  ['from PostgreSQL', '0'],
])('seat listing pages against brute force (%s)', (label, indexMb) => {
  let server: BookingServer;
  let client: Client;
  let user: TestUser;
  const EVENT = 8001;
  const ROWS = 6;
  const PER_ROW = 9;
  const S = firstSeatId(EVENT);
  type Status = 'FREE' | 'RESERVED' | 'SOLD';
  const truth = new Map<number, Status>();

  beforeAll(async () => {
    server = await startBookingServer({ BOOKING_SEAT_INDEX_MB: indexMb });
    client = new Client(server.url);
    [user] = (await makeUsers(server.sql, 1)) as [TestUser];
    await makeEvent(server.sql, EVENT, {
      layout: twoZoneTheatre('Grid', ROWS, PER_ROW, ['Front', 30], ['Back', 20]),
    });
    const [booking] = await server.sql<{ id: string }[]>`
      insert into bookings (event_id, user_id, status) values (${EVENT}, ${user.id}, 'paid') returning id`;
    // A fixed pseudo-random pattern: clusters at both ends and gaps in between.
    let state = 12345;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    for (let i = 0; i < ROWS * PER_ROW; i++) {
      const seat = S + i;
      const roll = i < 4 || i > ROWS * PER_ROW - 4 ? 0 : next();
      const kind =
        roll < 0.3 ? 'live' : roll < 0.4 ? 'expired' : roll < 0.5 ? 'pending' : roll < 0.6 ? 'sold' : 'none';
      truth.set(seat, kind === 'live' || kind === 'pending' ? 'RESERVED' : kind === 'sold' ? 'SOLD' : 'FREE');
      if (kind === 'none') continue;
      const until =
        kind === 'live'
          ? "now() + interval '1 hour'"
          : kind === 'expired'
            ? "now() - interval '1 second'"
            : 'null';
      await server.sql.unsafe(
        `insert into booking_seats (seat_id, booking_id, event_id, user_id, zone_id, price, held_at, held_until, sold)
         select id, $1, $2, $3, zone_id, 1, now(), ${until}, $4 from seats where id = $5`,
        [booking!.id, EVENT, user.id, kind === 'sold', seat],
      );
    }
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const all = () => [...truth.keys()].sort((a, b) => a - b);

  it.each([undefined, 'FREE', 'RESERVED', 'SOLD'] as const)(
    'status %s: every page size, every page',
    async (status) => {
      const expected = all().filter((id) => status === undefined || truth.get(id) === status);
      for (const pageSize of [1, 4, 7, 20]) {
        for (let page = 1; page <= Math.ceil(expected.length / pageSize) + 1; page++) {
          const query = `event_id=${EVENT}&page=${page}&pageSize=${pageSize}${status ? `&status=${status}` : ''}`;
          const seats = (await client.get(`/api/seats?${query}`, user.auth)).json() as {
            id: number;
            status: string;
          }[];
          expect(seats.map((s) => s.id)).toEqual(expected.slice((page - 1) * pageSize, page * pageSize));
          for (const seat of seats) expect(seat.status).toBe(truth.get(seat.id));
        }
      }
    },
  );

  it.each([undefined, 'FREE', 'RESERVED', 'SOLD'] as const)('status %s within each row', async (status) => {
    for (let row = 1; row <= ROWS; row++) {
      const inRow = all().filter((id) => Math.floor((id - S) / PER_ROW) + 1 === row);
      const expected = inRow.filter((id) => status === undefined || truth.get(id) === status);
      for (const pageSize of [2, 20]) {
        for (let page = 1; page <= Math.ceil(expected.length / pageSize) + 1; page++) {
          const query = `event_id=${EVENT}&row=${row}&page=${page}&pageSize=${pageSize}${status ? `&status=${status}` : ''}`;
          const seats = (await client.get(`/api/seats?${query}`, user.auth)).json() as {
            id: number;
            row: number;
          }[];
          expect(seats.map((s) => s.id)).toEqual(expected.slice((page - 1) * pageSize, page * pageSize));
          for (const seat of seats) expect(seat.row).toBe(row);
        }
      }
    }
  });

  it('was answered by the index it names', async () => {
    await client.get(`/api/seats?event_id=${EVENT}`, user.auth);
    const usage = bookingServiceOf(server.running.platform)!.availability.usage;
    expect(usage.events).toBe(label === 'from the seat index' ? 1 : 0);
  });
});
