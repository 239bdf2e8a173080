import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertConsistent,
  bookingStatus,
  bookingWith,
  initiate,
  type PaymentsServer,
  paymentState,
  payWithCard,
  seat,
  seatsOf,
  startPayment,
  startPaymentsServer,
  untilBooking,
} from './harness.ts';

describe('payments: the whole flow against the gateway simulator (real HTTP both ways)', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    server = await startPaymentsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('hold → initiate → the buyer pays on the card form → webhook → confirm → paid, seats SOLD', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(1), seat(11)]);
    const answer = await initiate(server, buyer!, bookingId);
    expect(answer.status).toBe(200);
    const body = answer.json();
    expect(body).toMatchObject({ amount: '2499.50', currency: 'KZT' });
    expect(body.payment_url).toContain(`/paymentform/render/${body.payment_id}`);
    expect(server.sim.payment(body.payment_id)).toMatchObject({ amount: 249_950, status: 'NEW' });
    expect(await bookingStatus(server.sql, bookingId)).toBe('pending_payment');

    await payWithCard(server, body.payment_id);
    await untilBooking(server, bookingId, 'paid');
    expect(server.sim.payment(body.payment_id)?.status).toBe('CONFIRMED');
    expect(await paymentState(server.sql, bookingId)).toBe('confirmed');
    expect((await seatsOf(server.sql, bookingId)).map((s) => s.sold)).toEqual([true, true]);

    const status = await server.client.get(`/api/bookings/${bookingId}/payment-status`, buyer!.auth);
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({
      booking_status: 'paid',
      payment_status: 'completed',
      payment: { payment_id: body.payment_id, state: 'confirmed', gateway_status: 'CONFIRMED' },
    });
    // The ledger: every step with the gateway's status and what told us.
    const story = status
      .json()
      .history.map(
        (h: { to_state: string; gateway_status: string | null; source: string }) =>
          `${h.to_state}:${h.gateway_status ?? '-'}:${h.source}`,
      );
    expect(story).toEqual([
      'initiating:-:buyer',
      'pending:NEW:api',
      'pending:FORM_SHOWED:webhook',
      'capturing:AUTHORIZED:webhook',
      'confirmed:CONFIRMED:api',
    ]);
    await assertConsistent(server);
  });

  it('answers the spec’s 302 with Location by default, and browsers get the 302 even when they accept JSON', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(2)]);
    const redirect = await server.client.send('PATCH', '/api/bookings/initiatePayment', {
      auth: buyer!.auth,
      body: { booking_id: bookingId },
    });
    expect(redirect.status).toBe(302);
    const location = String(redirect.headers.location);
    expect(location).toMatch(/\/api\/v1\/paymentform\/render\/pay_/);
    const browser = await server.client.send('PATCH', '/api/bookings/initiatePayment', {
      auth: buyer!.auth,
      body: { booking_id: bookingId },
      headers: { accept: 'text/html,application/json', 'sec-fetch-mode': 'navigate' },
    });
    expect(browser.status).toBe(302);
    // A repeat is the same payment.
    expect(browser.headers.location).toBe(location);
    const json = await initiate(server, buyer!, bookingId);
    expect(json.status).toBe(200);
    expect(location).toContain(json.json().payment_id);
    expect(server.sim.payments().filter((p) => p.paymentId === json.json().payment_id)).toHaveLength(1);
  });

  it('parallel initiatePayment of one booking: one payment at the gateway, every answer names it', async () => {
    const [, , buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(3), seat(4)]);
    const answers = await Promise.all(Array.from({ length: 12 }, () => initiate(server, buyer!, bookingId)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const ids = new Set(answers.map((a) => a.json().payment_id));
    expect(ids.size).toBe(1);
    const [row] = await server.sql<{ n: number; orders: number }[]>`
      select count(*)::int as n, count(distinct order_id)::int as orders from payments where booking_id = ${bookingId}`;
    expect(row).toEqual({ n: 1, orders: 1 });
    const orderId = server.sim.payment([...ids][0])!.orderId;
    expect(server.sim.payments().filter((p) => p.orderId === orderId)).toHaveLength(1);
  });

  it('refuses what it must: not yours 403, unknown 404, no seats 409, bad body 400, anonymous 401', async () => {
    const [owner, other] = server.users;
    const bookingId = await bookingWith(server, owner!, [seat(5)]);
    expect((await initiate(server, other!, bookingId)).status).toBe(403);
    expect((await initiate(server, owner!, 999_999)).status).toBe(404);
    const empty = await server.client.book(owner!, server.eventId);
    const noSeats = await initiate(server, owner!, empty);
    expect(noSeats.status).toBe(409);
    expect(noSeats.json().code).toBe('BOOKING_EMPTY');
    for (const body of [{}, { booking_id: 'x' }, { booking_id: 0 }, { booking_id: 1.5 }]) {
      const bad = await server.client.send('PATCH', '/api/bookings/initiatePayment', {
        auth: owner!.auth,
        body,
      });
      expect(bad.status).toBe(400);
      expect(bad.json().message).toMatch(/booking_id/);
    }
    const anonymous = await server.client.send('PATCH', '/api/bookings/initiatePayment', {
      body: { booking_id: 1 },
    });
    expect(anonymous.status).toBe(401);
    expect((await server.client.get(`/api/bookings/${bookingId}/payment-status`, other!.auth)).status).toBe(
      403,
    );
    expect((await server.client.get('/api/bookings/abc/payment-status', owner!.auth)).status).toBe(400);
    const none = await server.client.get(`/api/bookings/${empty}/payment-status`, owner!.auth);
    expect(none.json()).toMatchObject({
      booking_status: 'created',
      payment_status: 'none',
      payment: null,
      history: [],
    });
  });

  it('the browser callbacks check with the gateway and never trust the query', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(6)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    // "success" before anything was paid: the gateway says NEW, so nothing is paid.
    const early = await server.client.get(
      `/api/payments/success?paymentId=${paymentId}&orderId=${bookingId}`,
    );
    expect(early.status).toBe(200);
    expect(early.json()).toMatchObject({
      success: false,
      booking_id: bookingId,
      payment: { state: 'pending' },
    });
    expect(await bookingStatus(server.sql, bookingId)).toBe('pending_payment');

    // Paid, with every webhook lost: the buyer's return settles it (via the gateway's answer).
    server.sim.configure({ webhookLossProbability: 1 });
    try {
      await payWithCard(server, paymentId);
      const back = await server.client.send('GET', `/api/payments/fail?orderId=${bookingId}`, {
        headers: { accept: 'text/html' },
      });
      expect(back.status).toBe(200);
      expect(back.headers['content-type']).toContain('text/html');
      expect(back.body).toContain('Payment received');
      expect(await bookingStatus(server.sql, bookingId)).toBe('paid');
    } finally {
      server.sim.configure({ webhookLossProbability: 0 });
    }
    expect((await server.client.get('/api/payments/success?paymentId=pay_unknown')).status).toBe(404);
    expect((await server.client.get('/api/payments/success')).status).toBe(400);
    await assertConsistent(server);
  });

  it('GET /api/payments/circuit-breaker-status answers seed 000’s shape', async () => {
    const answer = await server.client.get('/api/payments/circuit-breaker-status');
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      success: true,
      circuit_breaker: {
        state: 'Closed',
        failure_count: 0,
        threshold: 3,
        timeout_seconds: 1,
        opened_at: null,
        next_attempt_at: null,
      },
    });
  });

  it('POST /api/reset forgets payments with the bookings', async () => {
    const reset = await server.client.post('/api/reset', {});
    expect(reset.status).toBe(200);
    const [row] = await server.sql<{ p: number; t: number }[]>`
      select (select count(*) from payments)::int as p, (select count(*) from payment_transitions)::int as t`;
    expect(row).toEqual({ p: 0, t: 0 });
  });
});
