import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestUser } from '../booking/harness.ts';
import {
  assertConsistent,
  bookingStatus,
  bookingWith,
  gatewayPaymentId,
  type PaymentsServer,
  paymentState,
  payWithCard,
  seat,
  seatsOf,
  startPayment,
  startPaymentsServer,
  untilBooking,
} from './harness.ts';

async function paidBooking(server: PaymentsServer, buyer: TestUser, seats: number[]): Promise<number> {
  const bookingId = await bookingWith(server, buyer, seats);
  await payWithCard(server, await startPayment(server, buyer, bookingId));
  await untilBooking(server, bookingId, 'paid');
  // The booking is paid on our own confirm call's answer; the gateway's webhooks of the payment
  // (AUTHORIZED, CONFIRMED) may still be on their way. Queued behind a refund, a late CONFIRMED webhook
  // drives the `refunding` payment too (decide: refunding + CONFIRMED → reverse) and makes a cancel
  // call of its own, on this very payment: wait for them so that the refund is the only one calling.
  await server.sim.webhooksIdle();
  return bookingId;
}

describe('payments: cancelling a paid booking refunds it through the gateway', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    server = await startPaymentsServer({ users: 2 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refunds: the booking is refunded, the seats go back on sale, the money story is complete', async () => {
    const [buyer, other] = server.users;
    const bookingId = await paidBooking(server, buyer!, [seat(1), seat(2)]);
    const paymentId = (
      await server.sql<{ id: string }[]>`
      select gateway_payment_id as id from payments where booking_id = ${bookingId}`
    )[0]!.id;
    expect((await server.client.cancel(buyer!, bookingId)).status).toBe(200);
    expect(await bookingStatus(server.sql, bookingId)).toBe('refunded');
    expect(await paymentState(server.sql, bookingId)).toBe('refunded');
    expect(server.sim.payment(paymentId)?.status).toBe('REFUNDED');
    expect(await seatsOf(server.sql, bookingId)).toEqual([]);
    // Back on sale: another buyer can take them.
    await bookingWith(server, other!, [seat(1)]);
    // Cancelling again is a no-op.
    expect((await server.client.cancel(buyer!, bookingId)).status).toBe(200);

    const topics = await server.sql<{ topic: string }[]>`
      select topic from outbox_events
      where key = ${String(bookingId)} and (topic like 'booking.%' or topic like 'payment.%') order by id`;
    expect(topics.map((t) => t.topic)).toEqual([
      'booking.created',
      'booking.payment_pending',
      'payment.initiated',
      'booking.paid',
      'payment.confirmed',
      'booking.refunded',
      'payment.refunded',
    ]);
    const story = (await server.client.get(`/api/bookings/${bookingId}/payment-status`, buyer!.auth)).json();
    expect(story.payment_status).toBe('refunded');
    expect(
      story.history.slice(-2).map((h: { to_state: string; source: string }) => `${h.to_state}:${h.source}`),
    ).toEqual(['refunding:buyer', 'refunded:api']);
    await assertConsistent(server);
  });

  it('gateway down during the refund: 202, the booking stays paid, reconciliation completes the refund', async () => {
    const [buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [seat(3)]);
    // Every cancel attempt answered 503 (not applied); the client checks between attempts.
    // Scoped to this payment: a reconciliation pass cancelling another one must not take a fault.
    const paymentId = await gatewayPaymentId(server.sql, bookingId);
    server.sim.inject({ call: 'cancel', fault: 'error', status: 503, code: 3503, paymentId });
    server.sim.inject({ call: 'cancel', fault: 'error', status: 503, code: 3503, paymentId });
    const answer = await server.client.cancel(buyer!, bookingId);
    expect(answer.status).toBe(202);
    expect(answer.json().status).toBe('refund_pending');
    expect(await bookingStatus(server.sql, bookingId)).toBe('paid');
    expect(await paymentState(server.sql, bookingId)).toBe('refunding');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await server.service.reconcile();
    expect(await bookingStatus(server.sql, bookingId)).toBe('refunded');
    await assertConsistent(server);
  });
});

describe('payments: refunds close 12 hours before the event', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    // The event starts in 6 hours: still on sale, too late to refund.
    server = await startPaymentsServer({ users: 1, eventDays: 0.25 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 409 BOOKING_REFUND_CLOSED and keeps the booking paid', async () => {
    const [buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [seat(1)]);
    const answer = await server.client.cancel(buyer!, bookingId);
    expect(answer.status).toBe(409);
    expect(answer.json().code).toBe('BOOKING_REFUND_CLOSED');
    expect(await bookingStatus(server.sql, bookingId)).toBe('paid');
    expect(await paymentState(server.sql, bookingId)).toBe('confirmed');
    await assertConsistent(server);
  });
});
