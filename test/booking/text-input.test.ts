import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookBody } from '../../src/payments/gateway/index.ts';
import { MERCHANT, type PaymentsServer, startPaymentsServer } from '../payments/harness.ts';

const basic = (credentials: Buffer | string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

/**
 * Text PostgreSQL cannot store, sent to the Biletter routes over real HTTP (the inputs a fuzz found answered
 * 500): a clear 4xx, never a 500. The guard itself: test/platform/text-guard.test.ts.
 */
describe('text PostgreSQL cannot store, on the Biletter routes', () => {
  let server: PaymentsServer;
  beforeAll(async () => {
    server = await startPaymentsServer({ users: 1 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['a NUL in the email', basic('payer1@booking.test\0x:pw:payer-1')],
    ['a NUL in the password', basic('payer1@booking.test:pw:payer-1\0')],
    [
      'bytes that are not UTF-8',
      basic(Buffer.concat([Buffer.from('payer1@booking.test:pw'), Buffer.from([0xe2, 0x82])])),
    ],
  ])('answers Basic credentials with %s with 401 and a challenge', async (_case, auth) => {
    const answer = await server.client.post('/api/bookings', { event_id: server.eventId }, auth);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Basic /);
    expect(answer.json()).toMatchObject({ code: 'UNAUTHENTICATED', requestId: expect.any(String) });
  });

  it('still signs the same user in with clean credentials (the control)', async () => {
    const answer = await server.client.post(
      '/api/bookings',
      { event_id: server.eventId },
      server.users[0]!.auth,
    );
    expect(answer.status).toBe(201);
  });

  it.each([
    ['/api/payments/fail?id=%E2%82&orderId=%00', /^querystring\/orderId must not contain a NUL/],
    ['/api/payments/success?paymentId=%00', /^querystring\/paymentId must not contain a NUL/],
    ['/api/events?query=%00', /^querystring\/query must not contain a NUL/],
    ['/api/events/search?q=a%00', /^querystring\/q must not contain a NUL/],
  ])('answers GET %s with 400 naming the parameter', async (path, message) => {
    const answer = await server.client.get(path, server.users[0]!.auth);
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'VALIDATION_FAILED', requestId: expect.any(String) });
    expect(answer.json().message).toMatch(message);
  });

  it('answers a signed webhook with a NUL in it with 400, not 500', async () => {
    const raw = JSON.stringify({ paymentId: 'pay\u0000-1', status: 'CONFIRMED', data: { orderId: 'x' } });
    const answer = await server.client.send('POST', '/api/payments/notifications', {
      raw,
      headers: { 'x-webhook-signature': signWebhookBody(raw, MERCHANT.webhookSecret) },
    });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'PAYMENT_WEBHOOK_INVALID' });
    expect(answer.json().message).toMatch(/^body\/paymentId must not contain a NUL/);
  });
});
