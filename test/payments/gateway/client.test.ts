import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  cancelToken,
  checkToken,
  confirmToken,
  GatewayApiError,
  GatewayCancelledError,
  type GatewayClient,
  GatewayNetworkError,
  GatewayOutcomeUnknownError,
  GatewayResponseError,
  GatewayStateError,
  GatewayTimeoutError,
  initToken,
} from '../../../src/payments/gateway/index.ts';
import { DEFAULT_BEHAVIOUR, type GatewaySimulator, TEST_CARDS } from '../../../src/sims/gateway/index.ts';
import { freePort } from '../../helpers/process.ts';
import { clientFor, FAST, MERCHANT, orderId, startSim, submitCard } from './harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('request tokens', () => {
  const m = { teamSlug: 'MerchantTeamSlug', password: 'usaf8fw8fsw21g' };
  it('concatenate the fields in the order the gateway specifies, with no separators', () => {
    expect(initToken(m, 19200, 'RUB', '21090')).toBe(sha256('19200RUB21090usaf8fw8fsw21gMerchantTeamSlug'));
    expect(checkToken(m, 'pay_1')).toBe(sha256('pay_1usaf8fw8fsw21gMerchantTeamSlug'));
    expect(confirmToken(m, 19200, 'pay_1')).toBe(sha256('19200pay_1MerchantTeamSlugusaf8fw8fsw21g'));
    expect(cancelToken(m, 'pay_1')).toBe(sha256('pay_1MerchantTeamSlugusaf8fw8fsw21g'));
  });
});

describe('gateway client against the simulator', () => {
  let sim: GatewaySimulator;
  let client: GatewayClient;

  beforeAll(async () => {
    sim = await startSim();
    client = clientFor(sim);
  });
  afterAll(async () => {
    await sim?.stop();
  });
  beforeEach(() => {
    sim.reset();
    sim.configure({ ...DEFAULT_BEHAVIOUR, ...FAST });
  });

  async function authorized(amount = 150_000) {
    const payment = await client.init({ orderId: orderId(), amount });
    const page = await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] });
    expect(page.status).toBe(200);
    expect((await client.getPayment(payment.paymentId)).status).toBe('AUTHORIZED');
    return payment;
  }

  it('init registers a NEW payment and returns the card form URL', async () => {
    const id = orderId();
    const payment = await client.init({
      orderId: id,
      amount: 250_000,
      description: 'Two tickets',
      successUrl: 'http://shop.test/success',
      failUrl: 'http://shop.test/fail',
      email: 'buyer@example.com',
      language: 'ru',
    });
    expect(payment).toMatchObject({ orderId: id, status: 'NEW', amount: 250_000, currency: 'KZT' });
    expect(payment.paymentId).toMatch(/^pay_/);
    expect(payment.paymentUrl).toBe(`${sim.apiUrl}/paymentform/render/${payment.paymentId}`);
    expect(Date.parse(payment.expiresAt!) - Date.parse(payment.createdAt!)).toBe(30 * 60_000);
    expect(sim.payment(payment.paymentId)).toMatchObject({
      teamSlug: MERCHANT.teamSlug,
      description: 'Two tickets',
      successUrl: 'http://shop.test/success',
      email: 'buyer@example.com',
    });
  });

  it('check finds a payment by paymentId and by orderId', async () => {
    const id = orderId();
    const created = await client.init({
      orderId: id,
      amount: 5_000,
      currency: 'USD',
      paymentExpiryMinutes: 15,
    });
    const byPayment = await client.check({ paymentId: created.paymentId });
    expect(byPayment.totalCount).toBe(1);
    expect(byPayment.payments[0]).toMatchObject({
      paymentId: created.paymentId,
      orderId: id,
      status: 'NEW',
      amount: 5_000,
      currency: 'USD',
      expiresAt: created.expiresAt,
    });
    const byOrder = await client.check({ orderId: id });
    expect(byOrder).toMatchObject({ totalCount: 1, orderId: id });
    expect(byOrder.payments[0]!.paymentId).toBe(created.paymentId);
    expect((await client.getPayment(created.paymentId)).statusDescription).toBeTruthy();
  });

  it('runs the two-step flow: init, card authorized, confirm, then a refund through cancel', async () => {
    const payment = await authorized(150_000);
    const confirmed = await client.confirm({ paymentId: payment.paymentId, amount: 150_000 });
    expect(confirmed).toMatchObject({
      paymentId: payment.paymentId,
      orderId: payment.orderId,
      status: 'CONFIRMED',
      confirmedAmount: 150_000,
      recovered: false,
    });
    expect((await client.getPayment(payment.paymentId)).status).toBe('CONFIRMED');
    const refunded = await client.cancel({ paymentId: payment.paymentId, reason: 'event cancelled' });
    expect(refunded).toMatchObject({ status: 'REFUNDED', cancelledAmount: 150_000, recovered: false });
    expect(sim.payment(payment.paymentId)!.history.map((h) => h.status)).toEqual([
      'NEW',
      'FORM_SHOWED',
      'AUTHORIZED',
      'CONFIRMED',
      'REFUNDED',
    ]);
  });

  it('cancel: a NEW payment is cancelled, an AUTHORIZED one reversed, an open form only with force', async () => {
    const fresh = await client.init({ orderId: orderId(), amount: 1_000 });
    expect(await client.cancel({ paymentId: fresh.paymentId })).toMatchObject({ status: 'CANCELLED' });

    const auth = await authorized();
    expect(await client.cancel({ paymentId: auth.paymentId })).toMatchObject({ status: 'CANCELLED' });
    expect(sim.payment(auth.paymentId)!.statusDescription).toBe('The authorization was reversed');

    const shown = await client.init({ orderId: orderId(), amount: 1_000 });
    expect((await fetch(shown.paymentUrl)).status).toBe(200);
    const refused = await client.cancel({ paymentId: shown.paymentId }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayApiError);
    expect(refused).toMatchObject({ code: 'GATEWAY_BUSINESS_RULE', gatewayStatus: 422, gatewayCode: 1422 });
    expect(await client.cancel({ paymentId: shown.paymentId, force: true })).toMatchObject({
      status: 'CANCELLED',
    });
  });

  it('a wrong password is 401/1001, not retried, and creates nothing', async () => {
    const wrong = clientFor(sim, {}, { teamSlug: MERCHANT.teamSlug, password: 'wrong' });
    const id = orderId();
    const error = await wrong.init({ orderId: id, amount: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayApiError);
    expect(error).toMatchObject({
      code: 'GATEWAY_BAD_TOKEN',
      gatewayStatus: 401,
      gatewayCode: 1001,
      peerFailure: false,
    });
    expect(sim.stats().handled.init).toBe(1);
    expect(sim.payments()).toHaveLength(0);

    const unknown = clientFor(sim, {}, { teamSlug: 'nobody', password: MERCHANT.password });
    await expect(unknown.check({ orderId: id })).rejects.toMatchObject({ code: 'GATEWAY_BAD_TOKEN' });
  });

  it("a merchant cannot see or touch another merchant's payments", async () => {
    const payment = await client.init({ orderId: orderId(), amount: 1_000 });
    const other = clientFor(sim, {}, { teamSlug: 'other-team', password: 'other-password' });
    await expect(other.check({ paymentId: payment.paymentId })).rejects.toMatchObject({
      code: 'GATEWAY_NOT_FOUND',
    });
    await expect(other.cancel({ paymentId: payment.paymentId })).rejects.toMatchObject({
      code: 'GATEWAY_NOT_FOUND',
    });
    expect(sim.payment(payment.paymentId)!.status).toBe('NEW');
  });

  it('init is idempotent per orderId: same answer twice, 409/1002 for a different one, a new payment once the old one ended', async () => {
    const id = orderId();
    const first = await client.init({ orderId: id, amount: 3_000 });
    const again = await client.init({ orderId: id, amount: 3_000 });
    expect(again).toEqual(first);
    expect(sim.payments().filter((p) => p.orderId === id)).toHaveLength(1);

    const conflict = await client.init({ orderId: id, amount: 4_000 }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(GatewayApiError);
    expect(conflict).toMatchObject({
      code: 'GATEWAY_DUPLICATE_PAYMENT',
      gatewayStatus: 409,
      gatewayCode: 1002,
    });

    await client.cancel({ paymentId: first.paymentId });
    const second = await client.init({ orderId: id, amount: 4_000 });
    expect(second.paymentId).not.toBe(first.paymentId);
    const order = await client.check({ orderId: id });
    expect(order.totalCount).toBe(2);
    expect(order.payments.map((p) => p.status)).toEqual(['CANCELLED', 'NEW']);
  });

  it('maps every error answer of the gateway to its code', async () => {
    const once = clientFor(sim, { retry: { attempts: 1 } });
    const table: [number, number, string, boolean][] = [
      [400, 1000, 'GATEWAY_BAD_REQUEST', false],
      [401, 1001, 'GATEWAY_BAD_TOKEN', false],
      [409, 1002, 'GATEWAY_DUPLICATE_PAYMENT', false],
      [400, 1003, 'GATEWAY_BAD_ARGUMENT', false],
      [402, 1004, 'GATEWAY_INSUFFICIENT_FUNDS', false],
      [402, 1007, 'GATEWAY_PROVIDER_ERROR', false],
      [404, 1404, 'GATEWAY_NOT_FOUND', false],
      [408, 1408, 'GATEWAY_PEER_TIMEOUT', true],
      [422, 1422, 'GATEWAY_BUSINESS_RULE', false],
      [429, 1429, 'GATEWAY_RATE_LIMITED', false],
      [429, 3015, 'GATEWAY_DAILY_LIMIT', false],
      [409, 2409, 'GATEWAY_ALREADY_CONFIRMED', false],
      [409, 3409, 'GATEWAY_ALREADY_CANCELLED', false],
      [503, 3503, 'GATEWAY_UNAVAILABLE', true],
      [500, 9999, 'GATEWAY_INTERNAL', true],
      // per-endpoint variants of the real gateway, and codes the table does not name
      [404, 2404, 'GATEWAY_NOT_FOUND', false],
      [401, 3001, 'GATEWAY_BAD_TOKEN', false],
      [418, 7777, 'GATEWAY_REJECTED', false],
      [502, 7777, 'GATEWAY_UNAVAILABLE', true],
    ];
    for (const [status, code, expected, peerFailure] of table) {
      sim.inject({ call: 'check', fault: 'error', status, code, message: `injected ${code}` });
      const error = await once.check({ orderId: 'any' }).catch((e: unknown) => e);
      expect(error, `${status}/${code}`).toBeInstanceOf(GatewayApiError);
      expect(error, `${status}/${code}`).toMatchObject({
        code: expected,
        gatewayStatus: status,
        gatewayCode: code,
        gatewayMessage: `injected ${code}: injected ${code}`,
        peerFailure,
        operation: 'check',
      });
    }
  });

  it("maps the simulator's own refusals", async () => {
    const once = clientFor(sim, { retry: { attempts: 1 } });
    await expect(once.getPayment('pay_missing')).rejects.toMatchObject({
      code: 'GATEWAY_NOT_FOUND',
      gatewayCode: 1404,
    });
    await expect(once.init({ orderId: orderId(), amount: 999 })).rejects.toMatchObject({
      code: 'GATEWAY_BAD_ARGUMENT',
      gatewayStatus: 400,
      gatewayCode: 1003,
    });
    const fresh = await once.init({ orderId: orderId(), amount: 1_000 });
    await expect(once.confirm({ paymentId: fresh.paymentId, amount: 1_000 })).rejects.toMatchObject({
      code: 'GATEWAY_BUSINESS_RULE',
      gatewayCode: 1422,
    });
    const auth = await authorized(2_000);
    await expect(once.confirm({ paymentId: auth.paymentId, amount: 1_999 })).rejects.toMatchObject({
      code: 'GATEWAY_BUSINESS_RULE',
    });
    await once.confirm({ paymentId: auth.paymentId, amount: 2_000 });
    await expect(once.confirm({ paymentId: auth.paymentId, amount: 2_000 })).rejects.toMatchObject({
      code: 'GATEWAY_ALREADY_CONFIRMED',
      gatewayStatus: 409,
      gatewayCode: 2409,
    });
    await once.cancel({ paymentId: fresh.paymentId });
    await expect(once.cancel({ paymentId: fresh.paymentId })).rejects.toMatchObject({
      code: 'GATEWAY_ALREADY_CANCELLED',
      gatewayStatus: 409,
      gatewayCode: 3409,
    });

    sim.configure({ dailyPaymentLimit: sim.payments().length });
    await expect(once.init({ orderId: orderId(), amount: 1_000 })).rejects.toMatchObject({
      code: 'GATEWAY_DAILY_LIMIT',
      gatewayStatus: 429,
      gatewayCode: 3015,
    });
    sim.configure({ dailyPaymentLimit: null, rateLimitPerSecond: 1 });
    const burst = await Promise.allSettled([1, 2, 3].map(() => once.check({ paymentId: fresh.paymentId })));
    const limited = burst
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const error of limited)
      expect(error).toMatchObject({ code: 'GATEWAY_RATE_LIMITED', gatewayCode: 1429 });
  });

  it('retries init and check on a 5xx but never on a 4xx', async () => {
    sim.inject({ call: 'init', fault: 'error', status: 503, code: 3503 });
    const id = orderId();
    const payment = await client.init({ orderId: id, amount: 1_000 });
    expect(payment.status).toBe('NEW');
    expect(sim.stats().handled.init).toBe(2);

    sim.inject({ call: 'check', fault: 'error', status: 500, code: 9999 });
    sim.inject({ call: 'check', fault: 'error', status: 408, code: 1408 });
    expect((await client.getPayment(payment.paymentId)).paymentId).toBe(payment.paymentId);
    expect(sim.stats().handled.check).toBe(3);

    sim.inject({ call: 'check', fault: 'error', status: 400, code: 1000 });
    await expect(client.getPayment(payment.paymentId)).rejects.toMatchObject({ code: 'GATEWAY_BAD_REQUEST' });
    expect(sim.stats().handled.check).toBe(4);
  });

  it('failure mode 1, answer cut after registering: the retried init gets the same payment, and only one exists', async () => {
    sim.inject({ call: 'init', fault: 'abort' });
    const id = orderId();
    const payment = await client.init({ orderId: id, amount: 7_000 });
    const stored = sim.payments().filter((p) => p.orderId === id);
    expect(stored).toHaveLength(1);
    expect(payment.paymentId).toBe(stored[0]!.paymentId);
    expect(sim.stats().handled.init).toBe(2);
  });

  it('failure mode 1, stalled answer: the attempt times out, the retry gets the same payment', async () => {
    const quick = clientFor(sim, { timeoutMs: 300 });
    sim.inject({ call: 'init', fault: 'stall' });
    const id = orderId();
    const payment = await quick.init({ orderId: id, amount: 7_000 });
    expect(
      sim
        .payments()
        .filter((p) => p.orderId === id)
        .map((p) => p.paymentId),
    ).toEqual([payment.paymentId]);
    expect(sim.stats().handled.init).toBe(2);
  });

  it('failure mode 1 on every attempt: the client gives up, and the gateway still holds exactly one payment', async () => {
    sim.configure({ lostAnswerProbability: 1, stallShare: 0 });
    const id = orderId();
    const error = await client.init({ orderId: id, amount: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayNetworkError);
    expect(sim.stats().handled.init).toBe(3);
    expect(sim.payments().filter((p) => p.orderId === id)).toHaveLength(1);
  });

  it('a stalled call times out within the configured timeout', async () => {
    const quick = clientFor(sim, { timeoutMs: 300, retry: { attempts: 1 } });
    sim.configure({ outage: 'stall' });
    const error = await quick.check({ orderId: 'whatever' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayTimeoutError);
    expect(error).toMatchObject({
      code: 'GATEWAY_TIMEOUT',
      timeoutMs: 300,
      peerFailure: true,
      statusCode: 504,
    });
  });

  it("the caller's AbortSignal ends the call as cancelled, not as a gateway failure", async () => {
    sim.configure({ outage: 'stall' });
    const error = await client
      .check({ orderId: 'whatever' }, { signal: AbortSignal.timeout(100) })
      .catch((e) => e);
    expect(error).toBeInstanceOf(GatewayCancelledError);
    expect(error).toMatchObject({ peerFailure: false });
  });

  it('confirm whose answer was lost: checks, finds it CONFIRMED, and does not confirm twice', async () => {
    const payment = await authorized(9_000);
    sim.inject({ call: 'confirm', fault: 'abort' });
    const confirmed = await client.confirm({ paymentId: payment.paymentId, amount: 9_000 });
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', confirmedAmount: 9_000, recovered: true });
    expect(sim.stats().handled.confirm).toBe(1);
    expect(sim.payment(payment.paymentId)!.history.filter((h) => h.status === 'CONFIRMED')).toHaveLength(1);
  });

  it('confirm refused by an unhealthy gateway is repeated once a check shows the payment still AUTHORIZED', async () => {
    const payment = await authorized(9_000);
    sim.inject({ call: 'confirm', fault: 'error', status: 503, code: 3503 });
    const checksBefore = sim.stats().handled.check;
    const confirmed = await client.confirm({ paymentId: payment.paymentId, amount: 9_000 });
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', recovered: false });
    expect(sim.stats().handled.confirm).toBe(2);
    expect(sim.stats().handled.check).toBe(checksBefore + 1);
  });

  it('confirm recovery that finds the payment in another state reports that state', async () => {
    const payment = await client.init({ orderId: orderId(), amount: 1_000 });
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.declined });
    sim.inject({ call: 'confirm', fault: 'error', status: 500, code: 9999 });
    const error = await client
      .confirm({ paymentId: payment.paymentId, amount: 1_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayStateError);
    expect(error).toMatchObject({
      code: 'GATEWAY_WRONG_STATE',
      status: 'REJECTED',
      paymentId: payment.paymentId,
    });
  });

  it('confirm whose answer is lost and whose checks fail too: outcome unknown (and the gateway did confirm)', async () => {
    const payment = await authorized(9_000);
    sim.inject({ call: 'confirm', fault: 'abort' });
    for (let i = 0; i < 3; i++) sim.inject({ call: 'check', fault: 'error', status: 503, code: 3503 });
    const error = await client
      .confirm({ paymentId: payment.paymentId, amount: 9_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayOutcomeUnknownError);
    expect(error).toMatchObject({ code: 'GATEWAY_OUTCOME_UNKNOWN', paymentId: payment.paymentId });
    expect(sim.payment(payment.paymentId)!.status).toBe('CONFIRMED');
  });

  it('cancel whose answer stalled: times out, checks, reports it cancelled without a second cancel', async () => {
    const quick = clientFor(sim, { timeoutMs: 300 });
    const payment = await authorized(4_000);
    sim.inject({ call: 'cancel', fault: 'stall' });
    const cancelled = await quick.cancel({ paymentId: payment.paymentId, reason: 'buyer left' });
    expect(cancelled).toMatchObject({ status: 'CANCELLED', recovered: true, cancelledAmount: 4_000 });
    expect(sim.stats().handled.cancel).toBe(1);
  });

  it('reuses connections (keep-alive) across calls', async () => {
    const payment = await client.init({ orderId: orderId(), amount: 1_000 });
    const before = sim.stats().connections;
    for (let i = 0; i < 10; i++) await client.getPayment(payment.paymentId);
    expect(sim.stats().connections - before).toBeLessThanOrEqual(1);
  });

  it('a bare origin as endpoint gets /api/v1, and bad input is refused before any request', async () => {
    const bare = clientFor(sim, { endpoint: `${sim.url}/` });
    expect(bare.endpoint).toBe(sim.apiUrl);
    expect((await bare.init({ orderId: orderId(), amount: 1_000 })).status).toBe('NEW');
    const before = sim.stats().received;
    await expect(client.init({ orderId: orderId(), amount: 10.5 })).rejects.toThrow(RangeError);
    await expect(client.init({ orderId: '', amount: 1_000 })).rejects.toThrow(RangeError);
    await expect(client.confirm({ paymentId: 'pay_x', amount: -1 })).rejects.toThrow(RangeError);
    expect(sim.stats().received).toBe(before);
  });
});

describe('gateway client against broken peers', () => {
  let server: Server;
  let base: string;
  const answers: { status: number; body: string; type: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      const next = answers.shift() ?? { status: 200, body: '{}', type: 'application/json' };
      res.writeHead(next.status, { 'content-type': next.type });
      res.end(next.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const client = () => clientFor({ apiUrl: base } as GatewaySimulator, { retry: { attempts: 1 } });

  it('a 2xx that is not JSON is a bad response (a peer failure)', async () => {
    answers.push({ status: 200, body: '<html>maintenance</html>', type: 'text/html' });
    const error = await client()
      .check({ orderId: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayResponseError);
    expect(error).toMatchObject({ code: 'GATEWAY_BAD_RESPONSE', peerFailure: true });
  });

  it("a proxy's 502 page is the gateway being unavailable", async () => {
    answers.push({ status: 502, body: '<html>Bad Gateway</html>', type: 'text/html' });
    const error = await client()
      .check({ orderId: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayApiError);
    expect(error).toMatchObject({ code: 'GATEWAY_UNAVAILABLE', gatewayStatus: 502, gatewayCode: undefined });
  });

  it('a 200 with success: false is an error answer, and a 200 missing fields is a bad response', async () => {
    answers.push({ status: 200, body: '{"success":false,"errorCode":"1404"}', type: 'application/json' });
    await expect(client().check({ orderId: 'x' })).rejects.toMatchObject({ code: 'GATEWAY_NOT_FOUND' });
    answers.push({ status: 200, body: '{"success":true,"status":"NEW"}', type: 'application/json' });
    await expect(client().init({ orderId: 'x', amount: 1_000 })).rejects.toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
    });
  });

  it('nothing listening is a network error', async () => {
    const port = await freePort();
    const down = clientFor({ apiUrl: `http://127.0.0.1:${port}/api/v1` } as GatewaySimulator, {
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const error = await down.check({ orderId: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayNetworkError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});
