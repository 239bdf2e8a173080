import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginPayment, confirmPayment, firstSeatId } from '../../src/booking/index.ts';
import { getEvent } from '../../src/catalog/index.ts';
import {
  type BookingServer,
  Client,
  makeEvent,
  makeUsers,
  SMALL_HALL,
  startBookingServer,
  startOn,
  type TestUser,
} from './harness.ts';

describe('analytics', () => {
  let server: BookingServer;
  let client: Client;
  let users: TestUser[];
  const EVENT = 5001;
  const A = firstSeatId(EVENT); // zone A: A .. A+9 at 1500.00; zone B: A+10 .. A+14 at 999.50
  const B = A + 10;

  beforeAll(async () => {
    server = await startBookingServer();
    client = new Client(server.url);
    users = await makeUsers(server.sql, 4);
    await makeEvent(server.sql, EVENT, { layout: SMALL_HALL });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const pay = async (booking: number) => {
    await server.sql.begin((tx) => beginPayment(tx, booking, null));
    await server.sql.begin((tx) => confirmPayment(tx, booking));
  };
  const take = async (user: TestUser, seats: number[]) => {
    const booking = await client.book(user, EVENT);
    for (const seat of seats) expect((await client.select(user, booking, seat)).status).toBe(200);
    return booking;
  };

  it('counts seats by live status and revenue, in total and per zone', async () => {
    const [a, b, c, d] = users as [TestUser, TestUser, TestUser, TestUser];
    await pay(await take(a, [A, A + 1])); // sold 2 × 1500.00
    const pending = await take(b, [A + 2, B]);
    await server.sql.begin((tx) => beginPayment(tx, pending, new Date(Date.now() + 600_000))); // reserved 2
    await take(c, [A + 3, B + 1]); // reserved 2 …
    // … one of which expires: it counts as free at once.
    await server.sql`update booking_seats set held_until = now() - interval '1 second' where seat_id = ${B + 1}`;
    await client.book(d, EVENT); // an empty booking still counts
    const cancelled = await take(d, [B + 4]);
    expect((await client.cancel(d, cancelled)).status).toBe(200);
    await pay(await take(b, [B + 2])); // sold 1 × 999.50

    const totals = await client.get(`/api/analytics?id=${EVENT}`, a.auth);
    expect(totals.status).toBe(200);
    expect(totals.json()).toEqual({
      event_id: EVENT,
      total_seats: 15,
      sold_seats: 3,
      reserved_seats: 3,
      free_seats: 9,
      total_revenue: '3999.50',
      bookings_count: 5,
    });

    const zones = (await client.get(`/api/analytics/zones?id=${EVENT}`, a.auth)).json();
    expect(zones).toMatchObject({ ...totals.json() });
    expect(zones.zones).toEqual([
      {
        zone_id: expect.any(Number),
        name: 'A',
        price: '1500.00',
        total_seats: 10,
        sold_seats: 2,
        reserved_seats: 2,
        free_seats: 6,
        revenue: '3000.00',
      },
      {
        zone_id: expect.any(Number),
        name: 'B',
        price: '999.50',
        total_seats: 5,
        sold_seats: 1,
        reserved_seats: 1,
        free_seats: 3,
        revenue: '999.50',
      },
    ]);

    // The seat listing agrees with the counts.
    const seats = (await client.get(`/api/seats?event_id=${EVENT}`, a.auth)).json() as { status: string }[];
    const by = (status: string) => seats.filter((s) => s.status === status).length;
    expect([by('FREE'), by('RESERVED'), by('SOLD')]).toEqual([9, 3, 3]);
  });

  it('answers an event with no seats on sale with zeros', async () => {
    await makeEvent(server.sql, 5002, { days: -2 });
    const answer = (await client.get('/api/analytics?id=5002', users[0]!.auth)).json();
    expect(answer).toEqual({
      event_id: 5002,
      total_seats: 0,
      sold_seats: 0,
      reserved_seats: 0,
      free_seats: 0,
      total_revenue: '0.00',
      bookings_count: 0,
    });
  });
});

describe('POST /api/reset', () => {
  let server: BookingServer;
  let client: Client;
  let a: TestUser;
  let b: TestUser;
  const EVENT = 5101;
  const S = firstSeatId(EVENT);

  beforeAll(async () => {
    // With the analytics cache and the taken-seat cache on (the defaults), which a reset must clear.
    server = await startBookingServer({ BOOKING_ANALYTICS_CACHE_MS: '60000' });
    client = new Client(server.url);
    [a, b] = (await makeUsers(server.sql, 2)) as [TestUser, TestUser];
    await makeEvent(server.sql, EVENT, { layout: SMALL_HALL });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const count = async (table: string) =>
    (await server.sql<{ n: number }[]>`select count(*)::int as n from ${server.sql(table)}`)[0]!.n;

  it('removes every booking and hold, keeps users, events and seats, and clears what is cached', async () => {
    const booking = await client.book(a, EVENT);
    expect((await client.select(a, booking, S)).status).toBe(200);
    const paid = await client.book(a, EVENT);
    expect((await client.select(a, paid, S + 1)).status).toBe(200);
    await server.sql.begin((tx) => beginPayment(tx, paid, null));
    await server.sql.begin((tx) => confirmPayment(tx, paid));
    // B is told the seat is taken (so the taken-seat cache knows it), and analytics are cached.
    expect((await client.select(b, await client.book(b, EVENT), S)).status).toBe(419);
    expect((await client.get(`/api/analytics?id=${EVENT}`, a.auth)).json().reserved_seats).toBe(1);
    const before = {
      users: await count('users'),
      seats: await count('seats'),
      venues: await count('venues'),
    };

    const answer = await client.post('/api/reset', undefined);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('');

    expect(await count('bookings')).toBe(0);
    expect(await count('booking_seats')).toBe(0);
    expect({
      users: await count('users'),
      seats: await count('seats'),
      venues: await count('venues'),
    }).toEqual(before);
    expect(await getEvent(server.sql, EVENT)).toBeDefined();
    expect((await client.get(`/api/analytics?id=${EVENT}`, a.auth)).json()).toMatchObject({
      sold_seats: 0,
      reserved_seats: 0,
      free_seats: 15,
      total_revenue: '0.00',
      bookings_count: 0,
    });
    expect((await client.get('/api/bookings', a.auth)).json()).toEqual([]);
    // The seat B was refused a moment ago is B's for the taking now; booking ids are never reused.
    const fresh = await client.book(b, EVENT);
    expect(fresh).toBeGreaterThan(paid);
    expect((await client.select(b, fresh, S)).status).toBe(200);
    const [event] = await server.sql<{ payload: { lastBookingId: number } }[]>`
      select payload from outbox_events where topic = 'booking.reset'`;
    expect(event!.payload.lastBookingId).toBeGreaterThanOrEqual(paid);
  });

  it.each([
    ['NODE_ENV=production', { NODE_ENV: 'production' }, 403],
    ['BOOKING_RESET_ENABLED=false', { BOOKING_RESET_ENABLED: 'false' }, 403],
    [
      'NODE_ENV=production with BOOKING_RESET_ENABLED=true',
      { NODE_ENV: 'production', BOOKING_RESET_ENABLED: 'true' },
      200,
    ],
  ])('with %s answers %i', async (_label, overrides, status) => {
    const booking = await client.book(a, EVENT);
    const running = await startOn(server.db, overrides);
    const other = new Client(running.url!);
    try {
      const answer = await other.post('/api/reset', undefined);
      expect(answer.status).toBe(status);
      if (status === 403) {
        expect(answer.json()).toMatchObject({
          code: 'BOOKING_RESET_DISABLED',
          message: expect.stringContaining('BOOKING_RESET_ENABLED=true'),
        });
        expect(await server.sql`select 1 from bookings where id = ${booking}`).toHaveLength(1);
      } else {
        expect(await count('bookings')).toBe(0);
      }
    } finally {
      other.close();
      await running.stop();
    }
  });
});
