import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  beginPayment,
  bookingModule,
  confirmPayment,
  firstSeatId,
  layoutFor,
} from '../../src/booking/index.ts';
import { capacityOf } from '../../src/booking/seating/layout.ts';
import { getEvent } from '../../src/catalog/index.ts';
import { identityModule } from '../../src/identity/index.ts';
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

/**
 * The Biletter API contract of the booking routes, over real sockets: every endpoint, every documented
 * status, the exact shapes, and bad input of every kind answered with a clear 4xx.
 */
describe('booking API contract', () => {
  let server: BookingServer;
  let client: Client;
  let a: TestUser;
  let b: TestUser;
  const EVENT = 1001;
  const OTHER = 1002;
  const PAST = 1003;
  const LAZY = 1004;
  const S = firstSeatId(EVENT); // seats S .. S+14: rows 1-2 zone A (1500.00), row 3 zone B (999.50)

  beforeAll(async () => {
    server = await startBookingServer();
    client = new Client(server.url);
    [a, b] = (await makeUsers(server.sql, 2)) as [TestUser, TestUser];
    await makeEvent(server.sql, EVENT, { layout: SMALL_HALL });
    await makeEvent(server.sql, OTHER, { layout: SMALL_HALL });
    await makeEvent(server.sql, PAST, { days: -1 });
    await makeEvent(server.sql, LAZY);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const topics = async (topic: string) =>
    server.sql<{ key: string; payload: Record<string, unknown> }[]>`
      select key, payload from outbox_events where topic = ${topic} order by id`;

  describe('GET /api/seats', () => {
    it('lists the seats in id order with row, number, status and a decimal price', async () => {
      const answer = await client.get(`/api/seats?event_id=${EVENT}`, a.auth);
      expect(answer.status).toBe(200);
      const seats = answer.json();
      expect(seats).toHaveLength(15);
      expect(seats[0]).toEqual({ id: S, row: 1, number: 1, status: 'FREE', price: '1500.00' });
      expect(seats[5]).toEqual({ id: S + 5, row: 2, number: 1, status: 'FREE', price: '1500.00' });
      expect(seats[14]).toEqual({ id: S + 14, row: 3, number: 5, status: 'FREE', price: '999.50' });
      expect(seats.map((s: { id: number }) => s.id)).toEqual(Array.from({ length: 15 }, (_, i) => S + i));
    });

    it('pages with page and pageSize (default 20, at most 20)', async () => {
      const page2 = (await client.get(`/api/seats?event_id=${EVENT}&page=2&pageSize=4`, a.auth)).json();
      expect(page2.map((s: { id: number }) => s.id)).toEqual([S + 4, S + 5, S + 6, S + 7]);
      const beyond = await client.get(`/api/seats?event_id=${EVENT}&page=5&pageSize=4`, a.auth);
      expect(beyond.status).toBe(200);
      expect(beyond.json()).toEqual([]);
    });

    it('filters by row and by status; a held seat never shows as FREE', async () => {
      const row3 = (await client.get(`/api/seats?event_id=${EVENT}&row=3`, a.auth)).json();
      expect(row3.map((s: { number: number }) => s.number)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(row3.map((s: { price: string }) => s.price))).toEqual(new Set(['999.50']));

      const booking = await client.book(a, EVENT);
      expect((await client.select(a, booking, S + 1)).status).toBe(200);
      const reserved = (await client.get(`/api/seats?event_id=${EVENT}&status=RESERVED`, b.auth)).json();
      expect(reserved).toEqual([{ id: S + 1, row: 1, number: 2, status: 'RESERVED', price: '1500.00' }]);
      const free = (await client.get(`/api/seats?event_id=${EVENT}&status=FREE`, b.auth)).json();
      expect(free).toHaveLength(14);
      expect(free.some((s: { id: number }) => s.id === S + 1)).toBe(false);
      const freeRow1 = (await client.get(`/api/seats?event_id=${EVENT}&status=FREE&row=1`, b.auth)).json();
      expect(freeRow1.map((s: { number: number }) => s.number)).toEqual([1, 3, 4, 5]);
      const sold = (await client.get(`/api/seats?event_id=${EVENT}&status=SOLD`, b.auth)).json();
      expect(sold).toEqual([]);
      expect((await client.cancel(a, booking)).status).toBe(200);
    });

    it('shows SOLD for a paid booking and RESERVED while its payment is pending', async () => {
      const booking = await client.book(a, EVENT);
      expect((await client.select(a, booking, S + 10)).status).toBe(200);
      await server.sql.begin((tx) => beginPayment(tx, booking, null));
      const pending = (await client.get(`/api/seats?event_id=${EVENT}&row=3&pageSize=1`, b.auth)).json();
      expect(pending).toEqual([{ id: S + 10, row: 3, number: 1, status: 'RESERVED', price: '999.50' }]);
      await server.sql.begin((tx) => confirmPayment(tx, booking));
      const sold = (await client.get(`/api/seats?event_id=${EVENT}&status=SOLD`, b.auth)).json();
      expect(sold).toEqual([{ id: S + 10, row: 3, number: 1, status: 'SOLD', price: '999.50' }]);
    });

    it('generates the seat map of an event without one on first use, deterministically', async () => {
      const before = await server.sql`select 1 from venues where event_id = ${LAZY}`;
      expect(before).toHaveLength(0);
      const answer = await client.get(`/api/seats?event_id=${LAZY}&pageSize=3`, a.auth);
      expect(answer.status).toBe(200);
      const seats = answer.json();
      expect(seats.map((s: { id: number }) => s.id)).toEqual([0, 1, 2].map((i) => firstSeatId(LAZY) + i));
      const event = await getEvent(server.sql, LAZY);
      const layout = layoutFor(1, LAZY, event!.type);
      const [venue] = await server.sql<{ name: string; capacity: number }[]>`
        select name, capacity from venues where event_id = ${LAZY}`;
      expect(venue).toEqual({ name: layout.name, capacity: capacityOf(layout) });
      expect(seats[0]).toMatchObject({
        row: 1,
        number: 1,
        status: 'FREE',
        price: `${layout.zones[0]!.price}.00`,
      });
    });

    it('answers an event that has started and has no seat map with an empty list', async () => {
      const answer = await client.get(`/api/seats?event_id=${PAST}`, a.auth);
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual([]);
      const [venue] = await server.sql`select 1 from venues where event_id = ${PAST}`;
      expect(venue).toBeUndefined();
    });

    it('answers an unknown event with 404', async () => {
      const answer = await client.get('/api/seats?event_id=987654', a.auth);
      expect(answer.status).toBe(404);
      expect(answer.json()).toMatchObject({
        code: 'BOOKING_EVENT_NOT_FOUND',
        message: 'event 987654 does not exist',
      });
    });

    it.each([
      ['', /must have required property 'event_id'/],
      ['event_id=abc', /event_id must be integer/],
      ['event_id=1.5', /event_id must be integer/],
      ['event_id=0', /event_id must be >= 1/],
      [`event_id=${EVENT}&pageSize=21`, /pageSize must be <= 20/],
      [`event_id=${EVENT}&pageSize=0`, /pageSize must be >= 1/],
      [`event_id=${EVENT}&page=0`, /page must be >= 1/],
      [`event_id=${EVENT}&row=0`, /row must be >= 1/],
      [`event_id=${EVENT}&status=TAKEN`, /status/],
    ])('answers bad query %s with 400', async (query, message) => {
      const answer = await client.get(`/api/seats?${query}`, a.auth);
      expect(answer.status).toBe(400);
      expect(answer.json().code).toBe('VALIDATION_FAILED');
      expect(answer.json().message).toMatch(message);
    });

    it('wants HTTP Basic credentials (401 with a challenge)', async () => {
      const anonymous = await client.get(`/api/seats?event_id=${EVENT}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Basic /);
      const wrong = await client.get(
        `/api/seats?event_id=${EVENT}`,
        `Basic ${Buffer.from(`${a.email}:nope`).toString('base64')}`,
      );
      expect(wrong.status).toBe(401);
      // Authentication comes before validation: an anonymous caller learns nothing about the parameters.
      expect((await client.get('/api/seats?event_id=abc')).status).toBe(401);
    });
  });

  describe('POST /api/bookings', () => {
    it('creates an empty booking of the caller: 201 {id}', async () => {
      const answer = await client.post('/api/bookings', { event_id: EVENT }, a.auth);
      expect(answer.status).toBe(201);
      const body = answer.json();
      expect(Object.keys(body)).toEqual(['id']);
      expect(Number.isInteger(body.id)).toBe(true);
      const [row] = await server.sql<{ event_id: string; user_id: string; status: string }[]>`
        select event_id, user_id, status from bookings where id = ${body.id}`;
      expect(row).toEqual({ event_id: String(EVENT), user_id: String(a.id), status: 'created' });
      const created = await topics('booking.created');
      expect(created.find((e) => e.key === String(body.id))?.payload).toMatchObject({
        bookingId: body.id,
        eventId: EVENT,
        userId: a.id,
      });
    });

    it.each([
      ['{}', /body must have required properties event_id/],
      ['{"event_id":"1001"}', /body\/event_id must be integer/],
      ['{"event_id":1.5}', /body\/event_id must be integer/],
      ['{"event_id":true}', /body\/event_id must be integer/],
      ['{"event_id":null}', /body\/event_id must be integer/],
      ['{"event_id":-3}', /body\/event_id must be >= 1/],
      ['{"event_id":1e300}', /body\/event_id must be <= 9007199254740991/],
      ['[1001]', /body must be object/],
      ['{"event_id":', /./],
    ])('answers body %s with 400', async (raw, message) => {
      const answer = await client.send('POST', '/api/bookings', { raw, auth: a.auth });
      expect(answer.status).toBe(400);
      expect(answer.json().message).toMatch(message);
    });

    it('answers a missing body and a wrong media type with 4xx', async () => {
      expect((await client.send('POST', '/api/bookings', { auth: a.auth })).status).toBe(400);
      const xml = await client.send('POST', '/api/bookings', {
        raw: '<event_id>1</event_id>',
        auth: a.auth,
        headers: { 'content-type': 'application/xml' },
      });
      expect(xml.status).toBe(415);
    });

    it('answers an unknown event with 404 and an event that has started with 409', async () => {
      const unknown = await client.post('/api/bookings', { event_id: 987654 }, a.auth);
      expect(unknown.status).toBe(404);
      expect(unknown.json().code).toBe('BOOKING_EVENT_NOT_FOUND');
      const past = await client.post('/api/bookings', { event_id: PAST }, a.auth);
      expect(past.status).toBe(409);
      expect(past.json().code).toBe('BOOKING_SALES_CLOSED');
    });

    it('wants credentials', async () => {
      expect((await client.post('/api/bookings', { event_id: EVENT })).status).toBe(401);
    });
  });

  describe('GET /api/bookings', () => {
    it("lists only the caller's bookings, newest first, with the seats each holds", async () => {
      const [c] = await makeUsers(server.sql, 1, 'lister');
      const first = await client.book(c!, EVENT);
      const second = await client.book(c!, OTHER);
      expect((await client.select(c!, second, firstSeatId(OTHER) + 3)).status).toBe(200);
      expect((await client.select(c!, second, firstSeatId(OTHER) + 1)).status).toBe(200);
      const otherUsers = await client.book(b, EVENT);
      const answer = await client.get('/api/bookings', c!.auth);
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual([
        {
          id: second,
          event_id: OTHER,
          seats: [{ id: firstSeatId(OTHER) + 1 }, { id: firstSeatId(OTHER) + 3 }],
        },
        { id: first, event_id: EVENT, seats: [] },
      ]);
      expect(answer.body).not.toContain(`"id":${otherUsers},`);
      // A released seat leaves the list.
      expect((await client.release(c!, firstSeatId(OTHER) + 3)).status).toBe(200);
      const after = (await client.get('/api/bookings?pageSize=1', c!.auth)).json();
      expect(after).toEqual([{ id: second, event_id: OTHER, seats: [{ id: firstSeatId(OTHER) + 1 }] }]);
      expect((await client.get('/api/bookings?pageSize=1001', c!.auth)).status).toBe(400);
      expect((await client.get('/api/bookings')).status).toBe(401);
    });
  });

  describe('PATCH /api/seats/select', () => {
    it('holds the seat: 200 with no body, the hold in the database and a seat.selected event', async () => {
      const booking = await client.book(a, EVENT);
      const answer = await client.select(a, booking, S + 2);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('');
      const [hold] = await server.sql<{ booking_id: string; held_until: Date; price: string }[]>`
        select booking_id, held_until, price::text from booking_seats where seat_id = ${S + 2}`;
      expect(hold!.booking_id).toBe(String(booking));
      expect(hold!.price).toBe('1500.00');
      const remaining = hold!.held_until.getTime() - Date.now();
      expect(remaining).toBeGreaterThan(200_000);
      expect(remaining).toBeLessThanOrEqual(300_000);
      const selected = await topics('seat.selected');
      expect(selected.find((e) => e.key === String(S + 2))?.payload).toMatchObject({
        seatId: S + 2,
        bookingId: booking,
        eventId: EVENT,
        userId: a.id,
        price: '1500.00',
      });

      // Selecting it again into the same booking is answered 200 and does not extend the hold.
      expect((await client.select(a, booking, S + 2)).status).toBe(200);
      const [again] = await server.sql<{ held_until: Date }[]>`
        select held_until from booking_seats where seat_id = ${S + 2}`;
      expect(again!.held_until.getTime()).toBe(hold!.held_until.getTime());
      expect((await topics('seat.selected')).filter((e) => e.key === String(S + 2))).toHaveLength(1);
    });

    it('answers a seat held by someone else with 419', async () => {
      const mine = await client.book(a, EVENT);
      const theirs = await client.book(b, EVENT);
      expect((await client.select(a, mine, S + 3)).status).toBe(200);
      const answer = await client.select(b, theirs, S + 3);
      expect(answer.status).toBe(419);
      expect(answer.json()).toMatchObject({ code: 'BOOKING_SEAT_TAKEN' });
      // Also the caller's own seat in another of their bookings.
      const mine2 = await client.book(a, EVENT);
      expect((await client.select(a, mine2, S + 3)).status).toBe(419);
    });

    it("answers another user's booking with 403", async () => {
      const theirs = await client.book(b, EVENT);
      const answer = await client.select(a, theirs, S + 4);
      expect(answer.status).toBe(403);
      expect(answer.json().code).toBe('BOOKING_FORBIDDEN');
      const [hold] = await server.sql`select 1 from booking_seats where seat_id = ${S + 4}`;
      expect(hold).toBeUndefined();
    });

    it('answers an unknown booking, an unknown seat and a seat of another event with 404', async () => {
      const booking = await client.book(a, EVENT);
      const noBooking = await client.select(a, 99_999_999, S);
      expect(noBooking.status).toBe(404);
      expect(noBooking.json().code).toBe('BOOKING_NOT_FOUND');
      const noSeat = await client.select(a, booking, S + 15);
      expect(noSeat.status).toBe(404);
      expect(noSeat.json().code).toBe('BOOKING_SEAT_NOT_FOUND');
      const elsewhere = await client.select(a, booking, firstSeatId(OTHER));
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.json().message).toBe(
        `seat ${firstSeatId(OTHER)} is not a seat of event ${EVENT}, the booking's event`,
      );
      expect((await client.select(a, booking, 7)).status).toBe(404);
    });

    it('answers a cancelled booking with 419 BOOKING_NOT_OPEN', async () => {
      const booking = await client.book(a, EVENT);
      expect((await client.cancel(a, booking)).status).toBe(200);
      const answer = await client.select(a, booking, S + 5);
      expect(answer.status).toBe(419);
      expect(answer.json()).toMatchObject({ code: 'BOOKING_NOT_OPEN', details: { status: 'cancelled' } });
    });

    it.each([
      ['{"booking_id":1}', /body must have required properties seat_id/],
      ['{"seat_id":1}', /body must have required properties booking_id/],
      ['{"booking_id":"1","seat_id":1}', /body\/booking_id must be integer/],
      ['{"booking_id":1,"seat_id":2.5}', /body\/seat_id must be integer/],
      ['{"booking_id":1,"seat_id":0}', /body\/seat_id must be >= 1/],
      ['{"booking_id":1,"seat_id":false}', /body\/seat_id must be integer/],
      ['"1,2"', /body must be object/],
      ['nope', /./],
    ])('answers body %s with 400', async (raw, message) => {
      const answer = await client.send('PATCH', '/api/seats/select', { raw, auth: a.auth });
      expect(answer.status).toBe(400);
      expect(answer.json().message).toMatch(message);
    });

    it('wants credentials', async () => {
      expect((await client.patch('/api/seats/select', { booking_id: 1, seat_id: S })).status).toBe(401);
    });
  });

  describe('PATCH /api/seats/release', () => {
    it('gives the seat back: 200, the row gone, FREE again, a seat.released event', async () => {
      const booking = await client.book(a, EVENT);
      expect((await client.select(a, booking, S + 6)).status).toBe(200);
      const answer = await client.release(a, S + 6);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('');
      const [hold] = await server.sql`select 1 from booking_seats where seat_id = ${S + 6}`;
      expect(hold).toBeUndefined();
      const seat = (await client.get(`/api/seats?event_id=${EVENT}&row=2&pageSize=1`, b.auth)).json()[0];
      expect(seat).toMatchObject({ id: S + 5, status: 'FREE' });
      const released = await topics('seat.released');
      expect(released.find((e) => e.key === String(S + 6))?.payload).toMatchObject({
        seatId: S + 6,
        bookingId: booking,
        reason: 'released',
      });
      // And someone else can take it at once.
      expect((await client.select(b, await client.book(b, EVENT), S + 6)).status).toBe(200);
    });

    it('answers a seat nobody holds with 419, and someone else’s with 403', async () => {
      const free = await client.release(a, S + 7);
      expect(free.status).toBe(419);
      expect(free.json().code).toBe('BOOKING_SEAT_NOT_HELD');
      const booking = await client.book(b, EVENT);
      expect((await client.select(b, booking, S + 7)).status).toBe(200);
      const theirs = await client.release(a, S + 7);
      expect(theirs.status).toBe(403);
      expect(theirs.json().code).toBe('BOOKING_SEAT_FORBIDDEN');
      const [hold] = await server.sql`select 1 from booking_seats where seat_id = ${S + 7}`;
      expect(hold).toBeDefined();
    });

    it('answers a seat whose booking is pending payment with 419 BOOKING_SEAT_LOCKED', async () => {
      const booking = await client.book(a, EVENT);
      expect((await client.select(a, booking, S + 11)).status).toBe(200);
      await server.sql.begin((tx) => beginPayment(tx, booking, null));
      const answer = await client.release(a, S + 11);
      expect(answer.status).toBe(419);
      expect(answer.json()).toMatchObject({
        code: 'BOOKING_SEAT_LOCKED',
        details: { status: 'pending_payment' },
      });
    });

    it('answers an unknown seat with 404 and bad bodies with 400', async () => {
      expect((await client.release(a, S + 15)).status).toBe(404);
      expect((await client.release(a, 42)).status).toBe(404);
      for (const raw of ['{}', '{"seat_id":"x"}', '{"seat_id":-1}', '[]']) {
        const answer = await client.send('PATCH', '/api/seats/release', { raw, auth: a.auth });
        expect(answer.status).toBe(400);
        expect(answer.json().code).toBe('VALIDATION_FAILED');
      }
      expect((await client.patch('/api/seats/release', { seat_id: S })).status).toBe(401);
    });
  });

  describe('PATCH /api/bookings/cancel', () => {
    it('cancels: 200, the seats freed, status cancelled, a booking.cancelled event; again: 200', async () => {
      const booking = await client.book(a, EVENT);
      expect((await client.select(a, booking, S + 8)).status).toBe(200);
      expect((await client.select(a, booking, S + 9)).status).toBe(200);
      const answer = await client.cancel(a, booking);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('');
      const [row] = await server.sql<{ status: string }[]>`select status from bookings where id = ${booking}`;
      expect(row!.status).toBe('cancelled');
      const holds = await server.sql`select 1 from booking_seats where booking_id = ${booking}`;
      expect(holds).toHaveLength(0);
      const cancelled = await topics('booking.cancelled');
      expect(cancelled.find((e) => e.key === String(booking))?.payload).toMatchObject({
        bookingId: booking,
        seatIds: [S + 8, S + 9],
        reason: 'cancelled',
      });
      expect((await client.cancel(a, booking)).status).toBe(200);
      expect((await topics('booking.cancelled')).filter((e) => e.key === String(booking))).toHaveLength(1);
    });

    it("answers another user's booking with 403, an unknown one with 404, a paid one with 409", async () => {
      const theirs = await client.book(b, EVENT);
      const forbidden = await client.cancel(a, theirs);
      expect(forbidden.status).toBe(403);
      const [row] = await server.sql<{ status: string }[]>`select status from bookings where id = ${theirs}`;
      expect(row!.status).toBe('created');
      expect((await client.cancel(a, 99_999_999)).status).toBe(404);

      const paid = await client.book(a, EVENT);
      expect((await client.select(a, paid, S + 12)).status).toBe(200);
      await server.sql.begin((tx) => beginPayment(tx, paid, null));
      await server.sql.begin((tx) => confirmPayment(tx, paid));
      const answer = await client.cancel(a, paid);
      expect(answer.status).toBe(409);
      expect(answer.json().code).toBe('BOOKING_NOT_CANCELLABLE');
    });

    it('answers bad bodies with 400 and no credentials with 401', async () => {
      for (const raw of ['{}', '{"booking_id":"7"}', '{"booking_id":0}', 'null']) {
        const answer = await client.send('PATCH', '/api/bookings/cancel', { raw, auth: a.auth });
        expect(answer.status).toBe(400);
      }
      expect((await client.patch('/api/bookings/cancel', { booking_id: 1 })).status).toBe(401);
    });
  });

  describe('GET /api/analytics', () => {
    it('answers the spec shape, 404 for an unknown event, 400 for a bad id', async () => {
      const answer = await client.get(`/api/analytics?id=${OTHER}`, a.auth);
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.json()).sort()).toEqual(
        [
          'bookings_count',
          'event_id',
          'free_seats',
          'reserved_seats',
          'sold_seats',
          'total_revenue',
          'total_seats',
        ].sort(),
      );
      expect(answer.json()).toMatchObject({ event_id: OTHER, total_seats: 15 });
      expect(answer.json().total_revenue).toMatch(/^\d+\.\d\d$/);
      expect((await client.get('/api/analytics?id=987654', a.auth)).status).toBe(404);
      expect((await client.get('/api/analytics?id=x', a.auth)).status).toBe(400);
      expect((await client.get('/api/analytics', a.auth)).status).toBe(400);
      expect((await client.get(`/api/analytics?id=${OTHER}`)).status).toBe(401);
      expect((await client.get('/api/analytics/zones?id=987654', a.auth)).status).toBe(404);
    });
  });

  it('documents the routes with their statuses in the OpenAPI document', async () => {
    // A platform of its own with identity and booking only, so the document is about these routes.
    const running = await startOn(server.db, {}, [identityModule, bookingModule]);
    try {
      const doc = (await running.app!.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(Object.keys(doc.paths['/api/seats/select'].patch.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '404', '419']),
      );
      expect(doc.paths['/api/bookings'].post.responses['201']).toBeDefined();
      expect(doc.paths['/api/seats'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
        'event_id',
        'page',
        'pageSize',
        'row',
        'status',
      ]);
      expect(doc.paths['/api/reset'].post).toBeDefined();
    } finally {
      await running.stop();
    }
  });
});
