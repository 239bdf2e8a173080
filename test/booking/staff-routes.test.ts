import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, makeStaff, signIn } from '../identity/staff/harness.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import {
  bookingStatus,
  bookingWith,
  type PaymentsServer,
  paymentState,
  payWithCard,
  seat,
  startPayment,
  startPaymentsServer,
  untilBooking,
} from '../payments/harness.ts';

type Caller = 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY' | 'admin' | 'manager' | 'analyst' | 'none';
const CALLERS: Caller[] = ['ADMIN', 'USER', 'AUDITOR', 'READONLY', 'admin', 'manager', 'analyst', 'none'];
const SALES_READ = new Set<Caller>(['ADMIN', 'READONLY', 'admin', 'manager', 'analyst']);
const SALES_REFUND = new Set<Caller>(['ADMIN', 'admin']);

/** The staff box-office routes (src/booking/staff-routes.ts): who may call them, and what they answer. */
describe('booking: the staff routes', () => {
  let server: PaymentsServer;
  const tokens = new Map<Caller, string>();
  const browsers = new Map<Caller, Browser>();

  beforeAll(async () => {
    server = await startPaymentsServer({ users: 3 });
    for (const role of ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const) {
      tokens.set(role, await tokenFor(server.running.app!, await createAccount(server.db, role)));
    }
    for (const role of ['admin', 'manager', 'analyst'] as const) {
      browsers.set(role, await signIn(server.running, await makeStaff(server.sql, role)));
    }
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const as = async (caller: Caller, options: InjectOptions) => {
    const app = server.running.app!;
    if (caller === 'none') return app.inject(options);
    const token = tokens.get(caller);
    if (token) return app.inject({ ...options, headers: { authorization: `Bearer ${token}` } });
    return browsers.get(caller)!.send(server.running, options);
  };

  const reads: [string, string][] = [
    ['GET /api/admin/events', '/api/admin/events?q=Test'],
    ['GET /api/admin/events/{id}/sales', '/api/admin/events/1/sales'],
    ['GET /api/admin/events/{id}/seat-map', '/api/admin/events/1/seat-map'],
    ['GET /api/admin/bookings', '/api/admin/bookings?event_id=1'],
  ];
  for (const [route, url] of reads) {
    it.each(CALLERS)(`${route} as %s (sales:read)`, async (caller) => {
      const answer = await as(caller, { method: 'GET', url });
      const expected = caller === 'none' ? 401 : SALES_READ.has(caller) ? 200 : 403;
      expect(answer.statusCode, answer.body).toBe(expected);
    });
  }

  it.each(CALLERS)('POST /api/admin/bookings/{id}/refund as %s (sales:refund)', async (caller) => {
    const bookingId = await bookingWith(server, server.users[2]!, [seat(15)]);
    const answer = await as(caller, { method: 'POST', url: `/api/admin/bookings/${bookingId}/refund` });
    const expected = caller === 'none' ? 401 : SALES_REFUND.has(caller) ? 200 : 403;
    expect(answer.statusCode, answer.body).toBe(expected);
    if (expected !== 200) await server.client.cancel(server.users[2]!, bookingId);
    expect(await bookingStatus(server.sql, bookingId)).toBe('cancelled');
  });

  it('documents every staff route in /openapi.json', async () => {
    const spec = (await server.running.app!.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of [
      '/api/admin/events',
      '/api/admin/events/{id}/sales',
      '/api/admin/events/{id}/seat-map',
      '/api/admin/bookings',
    ]) {
      expect(spec.paths[path]?.get, path).toBeDefined();
    }
    expect(spec.paths['/api/admin/bookings/{id}/refund']?.post).toBeDefined();
  });

  it('searches the catalog and gives the totals of events with a seat map', async () => {
    const answer = await as('analyst', { method: 'GET', url: '/api/admin/events?q=Test%20event' });
    expect(answer.statusCode, answer.body).toBe(200);
    const event = answer.json().events.find((e: { id: number }) => e.id === 1);
    expect(event.title).toBe('Test event 1');
    expect(event.totals).toMatchObject({ total_seats: 15 });
  });

  it('the seat map agrees with GET /api/seats: a hold is R, a sale S, the rest F', async () => {
    const [buyer] = server.users;
    const held = await bookingWith(server, buyer!, [seat(3)]);
    const map = (await as('manager', { method: 'GET', url: '/api/admin/events/1/seat-map' })).json();
    expect(map).toMatchObject({ event_id: 1, capacity: 15, first_seat_id: 1 });
    expect(map.zones.map((z: { name: string }) => z.name)).toEqual(['A', 'B']);
    // Three rows: A (2 × 5), B (1 × 5); five integers per run.
    expect(map.runs).toEqual([0, 1, 0, 1, 5, 5, 2, 0, 1, 5, 10, 3, 1, 1, 5]);
    expect(map.status).toHaveLength(15);
    expect(map.status[2]).toBe('R');
    expect(map.counts.reserved).toBeGreaterThanOrEqual(1);
    const listed = await server.client.get('/api/seats?event_id=1&page=1&pageSize=15', buyer!.auth);
    const statuses = listed
      .json()
      .map((s: { status: string }) => s.status[0])
      .join('');
    expect(map.status).toBe(statuses);
    await server.client.cancel(buyer!, held);
    const after = (await as('manager', { method: 'GET', url: '/api/admin/events/1/seat-map' })).json();
    expect(after.status[2]).toBe('F');
  });

  it('rejects bad input with 400 and an unknown event with 404', async () => {
    expect((await as('admin', { method: 'GET', url: '/api/admin/events/abc/sales' })).statusCode).toBe(400);
    expect((await as('admin', { method: 'GET', url: '/api/admin/events?pageSize=500' })).statusCode).toBe(
      400,
    );
    expect((await as('admin', { method: 'GET', url: '/api/admin/bookings?event_id=0' })).statusCode).toBe(
      400,
    );
    expect((await as('admin', { method: 'GET', url: '/api/admin/events/999/seat-map' })).statusCode).toBe(
      404,
    );
    expect((await as('admin', { method: 'GET', url: '/api/admin/events/999/sales' })).statusCode).toBe(404);
    expect((await as('admin', { method: 'POST', url: '/api/admin/bookings/99999/refund' })).statusCode).toBe(
      404,
    );
  });

  it('looks bookings up by id, user id and email, with seats, buyer and payment', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(4), seat(5)]);
    for (const query of [
      `booking_id=${bookingId}`,
      `user=${buyer!.id}`,
      `user=${encodeURIComponent(buyer!.email)}`,
    ]) {
      const answer = await as('analyst', { method: 'GET', url: `/api/admin/bookings?${query}` });
      expect(answer.statusCode, answer.body).toBe(200);
      const found = answer.json().bookings.find((b: { id: number }) => b.id === bookingId);
      expect(found, query).toMatchObject({
        event_id: 1,
        status: 'created',
        buyer: { id: buyer!.id, email: buyer!.email },
        seats: [
          { id: 4, row: 1, number: 4, zone: 'A' },
          { id: 5, row: 1, number: 5, zone: 'A' },
        ],
        payment: null,
        action: 'cancel',
      });
    }
    const none = await as('analyst', { method: 'GET', url: '/api/admin/bookings?user=nobody%40x.test' });
    expect(none.json().bookings).toEqual([]);
    await server.client.cancel(buyer!, bookingId);
  });

  it('an admin refunds a paid booking through the gateway, audited as the staff member; twice is 409', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(6)]);
    await payWithCard(server, await startPayment(server, buyer!, bookingId));
    await untilBooking(server, bookingId, 'paid');
    await server.sim.webhooksIdle();
    const listed = await as('admin', { method: 'GET', url: `/api/admin/bookings?booking_id=${bookingId}` });
    expect(listed.json().bookings[0]).toMatchObject({
      status: 'paid',
      action: 'refund',
      payment: { status: 'completed', state: 'confirmed' },
    });

    const answer = await as('admin', { method: 'POST', url: `/api/admin/bookings/${bookingId}/refund` });
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json()).toEqual({
      booking_id: bookingId,
      previous_status: 'paid',
      status: 'refunded',
      result: 'refunded',
    });
    expect(await bookingStatus(server.sql, bookingId)).toBe('refunded');
    expect(await paymentState(server.sql, bookingId)).toBe('refunded');
    const [entry] = await server.sql<{ actor_type: string; action: string; result: string }[]>`
      select actor_type, action, result from audit_log
      where resource = ${`booking:${bookingId}`} order by id desc limit 1`;
    expect(entry).toEqual({ actor_type: 'staff', action: 'booking.refund', result: 'success' });

    const again = await as('admin', { method: 'POST', url: `/api/admin/bookings/${bookingId}/refund` });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('BOOKING_NOT_CANCELLABLE');
  });
});
