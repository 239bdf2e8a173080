import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookBody } from '../../src/payments/gateway/index.ts';
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
  startPayment,
  startPaymentsServer,
  untilBooking,
  waitFor,
} from './harness.ts';

/**
 * The gateway goes down: calls fail until the breaker opens (threshold 3), new payments then get 503 at once
 * without reaching the gateway, webhooks are still processed, and after the open timeout (1 s) one trial call
 * closes it again. The payments caught in the outage end consistent through reconciliation.
 */
describe('payments: gateway down until the breaker opens and half-opens', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    server = await startPaymentsServer({ users: 3, env: { BOOKING_TAKEN_CACHE_MS: '0' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const breaker = async () =>
    (await server.client.get('/api/payments/circuit-breaker-status')).json().circuit_breaker;

  it('opens, fails fast, keeps taking webhooks, half-opens and closes; caught payments are settled', async () => {
    const [a, b, c] = server.users;
    // One payment started before the outage: its webhooks must still be processed while the breaker is open.
    const paying = await bookingWith(server, c!, [seat(9)]);
    const payingId = await startPayment(server, c!, paying);

    server.sim.configure({ outage: 'unavailable' });
    const first = await bookingWith(server, a!, [seat(1)]);
    const second = await bookingWith(server, b!, [seat(2)]);
    // Two attempts each (503 answers are retried): the breaker opens on the third failure.
    expect((await initiate(server, a!, first)).status).toBe(504);
    const cut = await initiate(server, b!, second);
    expect(cut.status).toBe(504);
    expect((await breaker()).state).toBe('Open');
    expect(await paymentState(server.sql, second)).toBe('initiating');

    // Open: a new payment is refused at once, and the gateway sees nothing of it.
    const third = await bookingWith(server, a!, [seat(3)]);
    const before = server.sim.stats().received;
    const fast = await initiate(server, a!, third);
    expect(fast.status).toBe(503);
    expect(fast.json().code).toBe('CIRCUIT_OPEN');
    expect(server.sim.stats().received).toBe(before);
    expect(await bookingStatus(server.sql, third)).toBe('created');

    // Webhooks still work: a failure notice for the earlier payment cancels its booking without the gateway.
    const body = JSON.stringify({
      paymentId: payingId,
      status: 'failed',
      teamSlug: MERCHANT.teamSlug,
      data: { failure_reason: 'REJECTED', reason: 'FRAUD_SUSPECTED' },
    });
    const hook = await server.client.send('POST', '/api/webhook/payment', {
      raw: body,
      headers: {
        'x-webhook-signature': signWebhookBody(body, MERCHANT.webhookSecret),
        'x-webhook-delivery': 'open-1',
      },
    });
    expect(hook.json()).toEqual({ success: true, outcome: 'failed' });
    expect(await bookingStatus(server.sql, paying)).toBe('cancelled');

    // The gateway recovers; after the open timeout one trial goes through and closes the breaker.
    server.sim.configure({ outage: 'none' });
    await waitFor(async () => ((await breaker()).state === 'HalfOpen' ? true : undefined), 3_000);
    const paymentId = await startPayment(server, a!, third);
    expect((await breaker()).state).toBe('Closed');
    await payWithCard(server, paymentId);
    await untilBooking(server, third, 'paid');

    // The outage's payments: the gateway never registered them, so reconciliation ends them and reopens
    // their bookings for another try (the seats held again for the buyer).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await server.service.reconcile();
    for (const bookingId of [first, second]) {
      expect(await paymentState(server.sql, bookingId)).toBe('failed');
      expect(await bookingStatus(server.sql, bookingId)).toBe('created');
    }
    const retry = await startPayment(server, b!, second);
    await payWithCard(server, retry);
    await untilBooking(server, second, 'paid');
    await assertConsistent(server);
  });
});
