import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookBody } from '../../src/payments/gateway/index.ts';
import { paymentsModule } from '../../src/payments/index.ts';
import { pruneDeliveries } from '../../src/payments/store.ts';
import {
  assertConsistent,
  bookingStatus,
  bookingWith,
  initiate,
  MERCHANT,
  type PaymentsServer,
  paymentState,
  payWithCard,
  seat,
  seatsOf,
  startPayment,
  startPaymentsServer,
  untilBooking,
  waitFor,
} from './harness.ts';

/**
 * The gateway's failure modes (specs/payment-gateway.md) and the webhook's, one booking each; every scenario
 * ends with the same invariants checked against the simulator's books (assertConsistent).
 */
describe('payments: failure modes end consistent', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    // No taken-seat cache: one scenario expires a hold behind the service's back, in SQL.
    server = await startPaymentsServer({ users: 4, env: { BOOKING_TAKEN_CACHE_MS: '0' } });
  });
  afterEach(async () => {
    server.sim.configure({
      webhookLossProbability: 0,
      webhookDuplicateProbability: 0,
      autoPay: null,
    });
    await assertConsistent(server);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const paidSoon = (bookingId: number) => untilBooking(server, bookingId, 'paid');

  it('init answer lost: the client repeats init with the same order id and gets the same payment', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(1)]);
    server.sim.inject({ call: 'init', fault: 'abort' });
    const paymentId = await startPayment(server, buyer!, bookingId);
    const order = server.sim.payment(paymentId)!.orderId;
    expect(server.sim.payments().filter((p) => p.orderId === order)).toHaveLength(1);
    await payWithCard(server, paymentId);
    await paidSoon(bookingId);
  });

  it('init answer lost on every attempt: 504, and the buyer’s repeat gets the payment the gateway registered', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(2)]);
    server.sim.inject({ call: 'init', fault: 'abort' });
    server.sim.inject({ call: 'init', fault: 'abort' });
    const lost = await initiate(server, buyer!, bookingId);
    expect(lost.status).toBe(504);
    expect(lost.json().code).toBe('PAYMENT_INIT_UNKNOWN');
    expect(await paymentState(server.sql, bookingId)).toBe('initiating');
    // Holds do not lapse under a buyer who is paying.
    expect(await bookingStatus(server.sql, bookingId)).toBe('pending_payment');
    const again = await initiate(server, buyer!, bookingId);
    expect(again.status).toBe(200);
    const order = server.sim.payment(again.json().payment_id)!.orderId;
    expect(server.sim.payments().filter((p) => p.orderId === order)).toHaveLength(1);
  });

  it('stalled gateway: the attempt times out, the repeat gets the same payment', async () => {
    const [, , buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(3)]);
    server.sim.inject({ call: 'init', fault: 'stall', stallMs: 3_000 });
    const paymentId = await startPayment(server, buyer!, bookingId);
    const order = server.sim.payment(paymentId)!.orderId;
    expect(server.sim.payments().filter((p) => p.orderId === order)).toHaveLength(1);
  });

  it('bank decline: the booking is cancelled and its seats are free for everyone', async () => {
    const [buyer, other] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(4), seat(5)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    await payWithCard(server, paymentId, '4000000000000002');
    await waitFor(async () =>
      (await bookingStatus(server.sql, bookingId)) === 'cancelled' ? true : undefined,
    );
    expect(await paymentState(server.sql, bookingId)).toBe('failed');
    expect(await seatsOf(server.sql, bookingId)).toEqual([]);
    const status = await server.client.get(`/api/bookings/${bookingId}/payment-status`, buyer!.auth);
    expect(status.json()).toMatchObject({
      booking_status: 'cancelled',
      payment_status: 'failed',
      payment: { gateway_status: 'REJECTED', failure_reason: 'DECLINED' },
    });
    // The seat is free again at once.
    const otherBooking = await bookingWith(server, other!, [seat(4)]);
    expect(otherBooking).toBeGreaterThan(bookingId);
  });

  it('bank failure (failure mode 3): FAILED, the booking is cancelled', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(6)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    server.sim.inject({ call: 'submit', fault: 'bank', bankFailure: 'NETWORK_ERROR' });
    await payWithCard(server, paymentId);
    await waitFor(async () =>
      (await bookingStatus(server.sql, bookingId)) === 'cancelled' ? true : undefined,
    );
    expect(await paymentState(server.sql, bookingId)).toBe('failed');
  });

  it('webhooks lost: reconciliation finds the authorized payment and completes it', async () => {
    const [, , buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(7)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    server.sim.configure({ webhookLossProbability: 1 });
    await payWithCard(server, paymentId);
    expect(server.sim.payment(paymentId)?.status).toBe('AUTHORIZED');
    expect(await bookingStatus(server.sql, bookingId)).toBe('pending_payment');
    // PAYMENT_RECONCILE_AFTER_SECONDS=1: once the payment has been quiet that long, the job checks it.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const pass = await server.service.reconcile();
    expect(pass.checked).toBeGreaterThanOrEqual(1);
    expect(await bookingStatus(server.sql, bookingId)).toBe('paid');
    const status = await server.client.get(`/api/bookings/${bookingId}/payment-status`, buyer!.auth);
    expect(status.json().history.some((h: { source: string }) => h.source === 'reconciliation')).toBe(true);
  });

  it('webhooks duplicated: applied once, confirmed once', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(8)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    server.sim.configure({ webhookDuplicateProbability: 1 });
    await payWithCard(server, paymentId);
    await paidSoon(bookingId);
    await server.sim.webhooksIdle();
    const [row] = await server.sql<{ confirmed: number; duplicates: number }[]>`
      select
        (select count(*) from payment_transitions t join payments p on p.id = t.payment_id
          where p.booking_id = ${bookingId} and t.to_state = 'confirmed')::int as confirmed,
        (select count(*) from payment_webhook_deliveries where gateway_payment_id = ${paymentId})::int as duplicates`;
    expect(row!.confirmed).toBe(1);
    // Each notification (FORM_SHOWED, AUTHORIZED, CONFIRMED) recorded once, though each was sent twice.
    expect(row!.duplicates).toBe(3);
    const sent = server.sim.deliveries().filter((d) => d.paymentId === paymentId);
    expect(sent.length).toBe(6);
    expect(new Set(sent.map((d) => d.deliveryId)).size).toBe(3);
  });

  it('webhook before the init answer: the order id names the payment; the late answer changes nothing', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(9)]);
    // The simulator pays at once; our init's answer hangs until the client gives up and repeats it.
    server.sim.configure({ autoPay: { card: '4111111111111111', delayMs: 0 } });
    server.sim.inject({ call: 'init', fault: 'stall', stallMs: 900 });
    const answer = await initiate(server, buyer!, bookingId);
    expect([200, 409]).toContain(answer.status);
    await paidSoon(bookingId);
    const [row] = await server.sql<
      { n: number }[]
    >`select count(*)::int as n from payments where booking_id = ${bookingId}`;
    expect(row!.n).toBe(1);
  });

  it('webhook for an unknown payment: acknowledged, recorded, nothing changes', async () => {
    const body = JSON.stringify({
      paymentId: 'pay_not_ours',
      status: 'CONFIRMED',
      teamSlug: MERCHANT.teamSlug,
      timestamp: new Date().toISOString(),
      data: { orderId: 'someone-else-1' },
    });
    const answer = await server.client.send('POST', '/api/payments/notifications', {
      raw: body,
      headers: {
        'x-webhook-signature': signWebhookBody(body, MERCHANT.webhookSecret),
        'x-webhook-delivery': 'd-1',
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ success: true, outcome: 'unknown_payment' });
    const [row] = await server.sql<{ outcome: string }[]>`
      select outcome from payment_webhook_deliveries where delivery_id = 'd-1'`;
    expect(row?.outcome).toBe('unknown_payment');
  });

  it('the daily job deletes webhook deliveries past the retention, in batches, and keeps the rest', async () => {
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    const insert = (prefix: string, count: number, at: Date) => server.sql`
      insert into payment_webhook_deliveries (delivery_id, status, gateway_payment_id, outcome, received_at)
      select ${prefix} || i, 'CONFIRMED', 'pay_old', 'unknown_payment', ${at}
      from generate_series(1, ${count}) as i`;
    await insert('old-', 25, days(31));
    await insert('older-', 7, days(400));
    await insert('recent-', 3, days(29));
    const left = async () =>
      (
        await server.sql<{ id: string }[]>`
          select delivery_id as id from payment_webhook_deliveries
          where delivery_id ~ '^(old|older|recent)-' order by 1`
      ).map((r) => r.id);

    // Batches of 5: the 7 rows older than a year take two statements (the loop stops on the short one).
    expect(await pruneDeliveries(server.sql, days(365), 5)).toBe(7);
    expect(await left()).toHaveLength(28);
    // The scheduled task, with the default retention of 30 days.
    const task = paymentsModule.tasks!(server.running.platform)['payments:prune-deliveries']!;
    await task(undefined, { attempt: 1, maxAttempts: 1, signal: new AbortController().signal });
    expect(await left()).toEqual(['recent-1', 'recent-2', 'recent-3']);
    expect(paymentsModule.cron).toContainEqual(
      expect.objectContaining({ task: 'payments:prune-deliveries', pattern: '17 3 * * *' }),
    );
  });

  it('webhooks with a wrong or missing signature get 401; malformed ones 400', async () => {
    const body = JSON.stringify({ paymentId: 'pay_x', status: 'CONFIRMED' });
    const forged = await server.client.send('POST', '/api/webhook/payment', {
      raw: body,
      headers: { 'x-webhook-signature': signWebhookBody(body, 'not-the-secret') },
    });
    expect(forged.status).toBe(401);
    expect(forged.json().code).toBe('WEBHOOK_BAD_SIGNATURE');
    const unsigned = await server.client.send('POST', '/api/webhook/payment', { raw: body });
    expect(unsigned.status).toBe(401);
    for (const raw of [
      'not json',
      '[]',
      JSON.stringify({ status: 'CONFIRMED' }),
      JSON.stringify({ paymentId: 'p', status: 'MAYBE' }),
    ]) {
      const bad = await server.client.send('POST', '/api/payments/notifications', {
        raw,
        headers: { 'x-webhook-signature': signWebhookBody(raw, MERCHANT.webhookSecret) },
      });
      expect(bad.status).toBe(400);
    }
  });

  it('out of order: an AUTHORIZED webhook arriving after the payment is confirmed changes nothing', async () => {
    const [, , buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(10)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    await payWithCard(server, paymentId);
    await paidSoon(bookingId);
    const late = JSON.stringify({ paymentId, status: 'AUTHORIZED', data: { orderId: 'x' } });
    const answer = await server.client.send('POST', '/api/payments/notifications', {
      raw: late,
      headers: {
        'x-webhook-signature': signWebhookBody(late, MERCHANT.webhookSecret),
        'x-webhook-delivery': 'late-1',
      },
    });
    expect(answer.json()).toEqual({ success: true, outcome: 'confirmed' });
    const stale = JSON.stringify({ paymentId, status: 'failed', data: { failure_reason: 'EXPIRED' } });
    await server.client.send('POST', '/api/payments/notifications', {
      raw: stale,
      headers: {
        'x-webhook-signature': signWebhookBody(stale, MERCHANT.webhookSecret),
        'x-webhook-delivery': 'late-2',
      },
    });
    expect(await bookingStatus(server.sql, bookingId)).toBe('paid');
  });

  it('the seats were lost before the buyer paid: the authorization is given back automatically', async () => {
    const [buyer, other] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(11)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    // As if the payment outlived its hold: the hold expires and another buyer takes the seat.
    await server.sql`update booking_seats set held_until = now() - interval '1 second' where booking_id = ${bookingId}`;
    const otherBooking = await bookingWith(server, other!, [seat(11)]);
    await payWithCard(server, paymentId);
    await waitFor(() => (server.sim.payment(paymentId)?.status === 'CANCELLED' ? true : undefined));
    await waitFor(async () =>
      (await paymentState(server.sql, bookingId)) === 'cancelled' ? true : undefined,
    );
    expect(await bookingStatus(server.sql, bookingId)).toBe('cancelled');
    // The other buyer still holds the seat.
    const [held] = await seatsOf(server.sql, otherBooking);
    expect(held).toMatchObject({ seat_id: String(seat(11)), live: true });
  });

  it('a confirmation that lands after the buyer cancelled is refunded automatically', async () => {
    const [, buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(12)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    // Our confirm is applied but its answer hangs; meanwhile the buyer cancels the booking.
    server.sim.inject({ call: 'confirm', fault: 'stall', stallMs: 1_500 });
    await payWithCard(server, paymentId);
    await waitFor(async () =>
      (await paymentState(server.sql, bookingId)) === 'capturing' ? true : undefined,
    );
    expect((await server.client.cancel(buyer!, bookingId)).status).toBe(200);
    await waitFor(() => (server.sim.payment(paymentId)?.status === 'REFUNDED' ? true : undefined), 10_000);
    await waitFor(async () =>
      (await paymentState(server.sql, bookingId)) === 'refunded' ? true : undefined,
    );
    expect(await bookingStatus(server.sql, bookingId)).toBe('cancelled');
    expect(await seatsOf(server.sql, bookingId)).toEqual([]);
  });

  it('cancelling while paying stops the payment at the gateway', async () => {
    const [, , buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(13)]);
    const paymentId = await startPayment(server, buyer!, bookingId);
    expect((await server.client.cancel(buyer!, bookingId)).status).toBe(200);
    await waitFor(() => (server.sim.payment(paymentId)?.status === 'CANCELLED' ? true : undefined));
    await waitFor(async () =>
      (await paymentState(server.sql, bookingId)) === 'cancelled' ? true : undefined,
    );
    const page = await payWithCard(server, paymentId);
    expect(page.status).toBe(409);
  });

  it('the gateway expires an unpaid payment: the booking is cancelled, its seats freed', async () => {
    const [buyer] = server.users;
    server.sim.configure({ expiryMinuteMs: 20 });
    try {
      const bookingId = await bookingWith(server, buyer!, [seat(14)]);
      const paymentId = await startPayment(server, buyer!, bookingId);
      await waitFor(() => (server.sim.payment(paymentId)?.status === 'EXPIRED' ? true : undefined));
      await waitFor(async () =>
        (await bookingStatus(server.sql, bookingId)) === 'cancelled' ? true : undefined,
      );
      expect(await paymentState(server.sql, bookingId)).toBe('expired');
      expect(await seatsOf(server.sql, bookingId)).toEqual([]);
    } finally {
      server.sim.configure({ expiryMinuteMs: 60_000 });
    }
  });

  it('money arriving for a payment given up long ago goes back, and the booking’s new payment is untouched', async () => {
    const [buyer] = server.users;
    const bookingId = await bookingWith(server, buyer!, [seat(15)]);
    const abandoned = await startPayment(server, buyer!, bookingId);
    // As if we had concluded this payment never started (reconciliation's ABSENT) and reopened the booking.
    await server.sql`update payments set state = 'failed' where booking_id = ${bookingId}`;
    await server.sql`update bookings set status = 'created' where id = ${bookingId}`;
    const current = await startPayment(server, buyer!, bookingId);
    expect(current).not.toBe(abandoned);
    // The buyer pays the old one after all: it is cancelled at the gateway, the booking waits for the new one.
    await payWithCard(server, abandoned);
    await waitFor(() => (server.sim.payment(abandoned)?.status === 'CANCELLED' ? true : undefined));
    await server.sim.webhooksIdle();
    expect(await bookingStatus(server.sql, bookingId)).toBe('pending_payment');
    await payWithCard(server, current);
    await untilBooking(server, bookingId, 'paid');
  });
});
