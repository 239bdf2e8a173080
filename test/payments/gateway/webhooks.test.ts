import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type GatewayClient,
  parseWebhook,
  signWebhookBody,
  verifyWebhookSignature,
  WebhookPayloadError,
} from '../../../src/payments/gateway/index.ts';
import { DEFAULT_BEHAVIOUR, type GatewaySimulator, TEST_CARDS } from '../../../src/sims/gateway/index.ts';
import {
  clientFor,
  FAST,
  MERCHANT,
  orderId,
  startReceiver,
  startSim,
  submitCard,
  waitFor,
} from './harness.ts';

describe('webhook signature and body', () => {
  const body = '{"paymentId":"pay_1","status":"CONFIRMED","teamSlug":"t","timestamp":"2025-01-01T00:00:00Z"}';

  it('verifies exactly the signed bytes under the right secret', () => {
    const header = signWebhookBody(body, 'secret');
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(body, header, 'secret')).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), header, 'secret')).toBe(true);
    expect(verifyWebhookSignature(body, header.toUpperCase().replace('SHA256=', 'sha256='), 'secret')).toBe(
      true,
    );
    expect(verifyWebhookSignature(body, header, 'other')).toBe(false);
    expect(verifyWebhookSignature(`${body} `, header, 'secret')).toBe(false);
    expect(verifyWebhookSignature(body, undefined, 'secret')).toBe(false);
    expect(verifyWebhookSignature(body, header.replace('sha256=', 'md5='), 'secret')).toBe(false);
    expect(verifyWebhookSignature(body, 'sha256=abc', 'secret')).toBe(false);
  });

  it('accepts any of several signatures and any of several secrets (rotation)', () => {
    const header = `${signWebhookBody(body, 'old')}, ${signWebhookBody(body, 'unrelated')}`;
    expect(verifyWebhookSignature(body, header, ['new', 'old'])).toBe(true);
    expect(verifyWebhookSignature(body, header, ['new'])).toBe(false);
    expect(verifyWebhookSignature(body, signWebhookBody(body, 'x'), [])).toBe(false);
  });

  it('parses the gateway body and names the status it announces', () => {
    expect(parseWebhook(body)).toMatchObject({
      paymentId: 'pay_1',
      status: 'CONFIRMED',
      paymentStatus: 'CONFIRMED',
    });
    expect(parseWebhook('{"paymentId":"p","status":"completed"}').paymentStatus).toBe('CONFIRMED');
    expect(
      parseWebhook('{"paymentId":"p","status":"failed","data":{"failure_reason":"EXPIRED"}}'),
    ).toMatchObject({ paymentStatus: 'EXPIRED', failureReason: 'EXPIRED' });
    expect(parseWebhook('{"paymentId":"p","status":"failed","data":{}}').paymentStatus).toBe('FAILED');
    expect(parseWebhook('{"paymentId":"p","status":"SOMETHING_NEW"}').paymentStatus).toBeNull();
  });

  it('refuses what is not a gateway webhook', () => {
    for (const bad of [
      'not json',
      '[]',
      '{"status":"CONFIRMED"}',
      '{"paymentId":"p"}',
      '{"paymentId":"","status":"x"}',
    ])
      expect(() => parseWebhook(bad), bad).toThrow(WebhookPayloadError);
    expect(() => parseWebhook('nope')).toThrow(
      expect.objectContaining({ code: 'PAYMENT_WEBHOOK_INVALID', statusCode: 400 }),
    );
  });
});

describe('webhooks from the simulator', () => {
  let sim: GatewaySimulator;
  let client: GatewayClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    sim = await startSim();
    client = clientFor(sim);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sim?.stop();
    await receiver?.close();
  });
  beforeEach(() => {
    sim.reset();
    sim.configure({ ...DEFAULT_BEHAVIOUR, ...FAST });
    receiver.received.length = 0;
    receiver.answer([]);
  });

  const newPayment = (amount = 10_000) =>
    client.init({ orderId: orderId(), amount, notificationUrl: receiver.url });
  const forPayment = (paymentId: string) =>
    receiver.received.filter((w) => parseWebhook(w.raw).paymentId === paymentId);

  it('announces every status change, signed, named and with a unique delivery id', async () => {
    const payment = await newPayment(12_500);
    expect((await fetch(payment.paymentUrl)).status).toBe(200);
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[1] });
    await client.confirm({ paymentId: payment.paymentId, amount: 12_500 });
    await sim.webhooksIdle();

    const received = forPayment(payment.paymentId);
    expect(received.map((w) => w.headers['x-webhook-event']).sort()).toEqual([
      'payment.authorized',
      'payment.confirmed',
      'payment.form_showed',
    ]);
    for (const webhook of received) {
      const signature = webhook.headers['x-webhook-signature'];
      expect(verifyWebhookSignature(webhook.raw, signature, MERCHANT.webhookSecret)).toBe(true);
      expect(verifyWebhookSignature(webhook.raw, signature, 'not-the-secret')).toBe(false);
      expect(webhook.headers['content-type']).toBe('application/json');
      const parsed = parseWebhook(webhook.raw);
      expect(parsed).toMatchObject({ paymentId: payment.paymentId, teamSlug: MERCHANT.teamSlug });
      expect(parsed.data).toMatchObject({ orderId: payment.orderId, amount: 12_500, currency: 'KZT' });
      expect(`payment.${parsed.paymentStatus?.toLowerCase()}`).toBe(webhook.headers['x-webhook-event']);
      expect(Date.parse(parsed.timestamp!)).not.toBeNaN();
    }
    const ids = received.map((w) => w.headers['x-webhook-delivery']);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('announces a declined card as failed with failure_reason REJECTED', async () => {
    const payment = await newPayment();
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.insufficientFunds });
    await sim.webhooksIdle();
    const failed = forPayment(payment.paymentId)
      .map((w) => parseWebhook(w.raw))
      .find((w) => w.status === 'failed');
    expect(failed).toMatchObject({ paymentStatus: 'REJECTED', failureReason: 'REJECTED' });
    expect(failed!.data).toMatchObject({ failure_reason: 'REJECTED', reason: 'INSUFFICIENT_FUNDS' });
  });

  it('retries a delivery the receiver answered 500, keeping its delivery id', async () => {
    const payment = await newPayment();
    receiver.answer([500, 500]);
    await client.cancel({ paymentId: payment.paymentId });
    await sim.webhooksIdle();

    const received = forPayment(payment.paymentId);
    expect(received.map((w) => w.answeredWith)).toEqual([500, 500, 200]);
    expect(received.map((w) => w.headers['x-webhook-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(received.map((w) => w.headers['x-webhook-delivery'])).size).toBe(1);
    for (const w of received)
      expect(verifyWebhookSignature(w.raw, w.headers['x-webhook-signature'], MERCHANT.webhookSecret)).toBe(
        true,
      );
    const [delivery] = sim.deliveries().filter((d) => d.paymentId === payment.paymentId);
    expect(delivery).toMatchObject({ state: 'delivered', event: 'payment.cancelled' });
    expect(delivery!.attempts.map((a) => a.outcome)).toEqual([500, 500, 200]);
  });

  it('gives up after the configured number of retries', async () => {
    sim.configure({ webhookRetries: 1 });
    const payment = await newPayment();
    receiver.answer([503, 503, 503]);
    await client.cancel({ paymentId: payment.paymentId });
    await sim.webhooksIdle();
    expect(forPayment(payment.paymentId)).toHaveLength(2);
    expect(sim.deliveries().find((d) => d.paymentId === payment.paymentId)).toMatchObject({
      state: 'failed',
    });
  });

  it('retries when the receiver is not listening at all', async () => {
    sim.configure({ webhookRetries: 2 });
    const payment = await client.init({
      orderId: orderId(),
      amount: 1_000,
      notificationUrl: 'http://127.0.0.1:9/unreachable',
    });
    await client.cancel({ paymentId: payment.paymentId });
    await sim.webhooksIdle();
    const delivery = sim.deliveries().find((d) => d.paymentId === payment.paymentId)!;
    expect(delivery.state).toBe('failed');
    expect(delivery.attempts).toHaveLength(3);
    for (const attempt of delivery.attempts) expect(String(attempt.outcome)).toMatch(/^error: /);
  });

  it('failure mode 4: a dropped webhook never arrives, a duplicated one arrives twice with one delivery id', async () => {
    const dropped = await newPayment();
    sim.inject({ call: 'webhook', fault: 'drop' });
    await client.cancel({ paymentId: dropped.paymentId });

    const doubled = await newPayment();
    sim.inject({ call: 'webhook', fault: 'duplicate' });
    await client.cancel({ paymentId: doubled.paymentId });
    await sim.webhooksIdle();

    expect(forPayment(dropped.paymentId)).toHaveLength(0);
    expect(sim.deliveries().find((d) => d.paymentId === dropped.paymentId)).toMatchObject({
      state: 'dropped',
    });
    const twice = forPayment(doubled.paymentId);
    expect(twice).toHaveLength(2);
    expect(twice[0]!.headers['x-webhook-delivery']).toBe(twice[1]!.headers['x-webhook-delivery']);
    expect(twice[0]!.raw.equals(twice[1]!.raw)).toBe(true);
  });

  it('failure mode 4: a delayed webhook waits, then arrives', async () => {
    const payment = await newPayment();
    sim.inject({ call: 'webhook', fault: 'delay', delayMs: 800 });
    await client.cancel({ paymentId: payment.paymentId });
    expect(sim.deliveries().find((d) => d.paymentId === payment.paymentId)).toMatchObject({
      state: 'scheduled',
    });
    await sim.webhooksIdle();
    expect(forPayment(payment.paymentId)).toHaveLength(1);
  });

  it('failure mode 4 by probability: with loss at 100 % nothing is sent', async () => {
    sim.configure({ webhookLossProbability: 1 });
    const payment = await newPayment();
    await client.cancel({ paymentId: payment.paymentId });
    await sim.webhooksIdle();
    expect(forPayment(payment.paymentId)).toHaveLength(0);
    expect(sim.deliveries().every((d) => d.state === 'dropped')).toBe(true);
  });

  it('an expired payment moves to EXPIRED and announces it', async () => {
    sim.configure({ expiryMinuteMs: 50 });
    const payment = await client.init({
      orderId: orderId(),
      amount: 1_000,
      notificationUrl: receiver.url,
      paymentExpiryMinutes: 1,
    });
    const webhook = await waitFor(() =>
      forPayment(payment.paymentId)
        .map((w) => parseWebhook(w.raw))
        .find((w) => w.paymentStatus === 'EXPIRED'),
    );
    expect(webhook).toMatchObject({ status: 'failed', failureReason: 'EXPIRED' });
    expect(sim.payment(payment.paymentId)!.status).toBe('EXPIRED');
  });
});
