import { createHash } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayClient, openPaymentGateway } from '../../../src/payments/gateway/index.ts';
import {
  DEFAULT_BEHAVIOUR,
  type GatewaySimulator,
  simulatorOptionsFromConfig,
  TEST_CARDS,
} from '../../../src/sims/gateway/index.ts';
import { PaymentBook } from '../../../src/sims/gateway/payments.ts';
import { testConfig } from '../../helpers/config.ts';
import { freePort, spawnNode, waitForOk } from '../../helpers/process.ts';
import { clientFor, FAST, MERCHANT, orderId, startSim, submitCard } from './harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const { teamSlug, password } = MERCHANT;

/** A valid init body, with overrides (a token computed from the final fields unless given). */
function initBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    teamSlug,
    amount: 5_000,
    orderId: orderId(),
    currency: 'RUB',
    ...overrides,
  };
  if (!('token' in overrides))
    body.token = sha256(`${body.amount}${body.currency ?? 'KZT'}${body.orderId}${password}${teamSlug}`);
  return body;
}

describe('the simulator over raw HTTP', () => {
  let sim: GatewaySimulator;

  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(async () => {
    await sim?.stop();
  });
  beforeEach(() => {
    sim.reset();
    sim.configure({ ...DEFAULT_BEHAVIOUR, ...FAST });
  });

  const post = async (path: string, body: unknown, raw = false) => {
    const response = await fetch(`${sim.apiUrl}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  const expectError = async (path: string, body: unknown, status: number, code: number, raw = false) => {
    const answer = await post(path, body, raw);
    expect(answer.status, JSON.stringify(body).slice(0, 120)).toBe(status);
    expect(answer.body, JSON.stringify(body).slice(0, 120)).toMatchObject({
      success: false,
      errorCode: String(code),
    });
    expect(typeof answer.body.message).toBe('string');
    return answer;
  };

  it('answers a valid init in the spec shape, on case-insensitive routes', async () => {
    const body = initBody();
    const answer = await post('paymentinit/init', body);
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual(
      [
        'amount',
        'createdAt',
        'currency',
        'expiresAt',
        'orderId',
        'paymentId',
        'paymentURL',
        'status',
        'success',
      ].sort(),
    );
    expect(answer.body).toMatchObject({
      success: true,
      status: 'NEW',
      amount: 5_000,
      currency: 'RUB',
      orderId: body.orderId,
    });
    expect((await post('PaymentInit/init', body)).body).toEqual(answer.body);
  });

  it('a malformed body is 400/1000', async () => {
    await expectError('PaymentInit/init', 'not json', 400, 1000, true);
    await expectError('PaymentInit/init', '[1,2]', 400, 1000, true);
    await expectError('PaymentInit/init', initBody({ amount: undefined }), 400, 1000);
    await expectError('PaymentInit/init', initBody({ amount: '5000' }), 400, 1000);
    await expectError('PaymentInit/init', initBody({ orderId: 42 }), 400, 1000);
    await expectError('PaymentInit/init', initBody({ description: 'x'.repeat(70 * 1024) }), 400, 1000);
    await expectError('PaymentCheck/check', { teamSlug, token: 'x' }, 400, 1000);
    await expectError(
      'PaymentCancel/cancel',
      { teamSlug, token: 'x', paymentId: 'p', force: 'yes' },
      400,
      1000,
    );
  });

  it('a missing or wrong token, or an unknown merchant, is 401/1001', async () => {
    await expectError('PaymentInit/init', initBody({ token: undefined }), 401, 1001);
    await expectError('PaymentInit/init', initBody({ token: sha256('anything') }), 401, 1001);
    await expectError('PaymentInit/init', initBody({ teamSlug: 'nobody' }), 401, 1001);
    // the token of another merchant's password
    const other = initBody();
    other.token = sha256(`${other.amount}RUB${other.orderId}other-password${teamSlug}`);
    await expectError('PaymentInit/init', other, 401, 1001);
    // the right fields in the wrong order
    const swapped = initBody();
    swapped.token = sha256(`RUB${swapped.amount}${swapped.orderId}${password}${teamSlug}`);
    await expectError('PaymentInit/init', swapped, 401, 1001);
    expect(sim.payments()).toHaveLength(0);
  });

  it('an unacceptable value is 400/1003', async () => {
    const cases: Record<string, unknown>[] = [
      { amount: 999 },
      { amount: 1000.5 },
      { currency: 'GBP' },
      { orderId: 'o'.repeat(65) },
      { paymentExpiry: 0 },
      { paymentExpiry: 10_081 },
      { successURL: 'ftp://shop.test/ok' },
      { notificationURL: 'not a url' },
      { email: 'nope' },
      { language: 'russian' },
    ];
    for (const overrides of cases) await expectError('PaymentInit/init', initBody(overrides), 400, 1003);
    expect(sim.payments()).toHaveLength(0);
  });

  it('check can include the transaction history and the card mask', async () => {
    const client = clientFor(sim);
    const payment = await client.init({ orderId: orderId(), amount: 1_000 });
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] });
    const answer = await post('PaymentCheck/check', {
      teamSlug,
      token: sha256(`${payment.paymentId}${password}${teamSlug}`),
      paymentId: payment.paymentId,
      includeTransactions: true,
      includeCardDetails: true,
    });
    expect(answer.status).toBe(200);
    const [view] = answer.body.payments as Record<string, unknown>[];
    expect(view).toMatchObject({ status: 'AUTHORIZED', cardMask: '411111******1111' });
    expect((view!.transactions as { status: string }[]).map((t) => t.status)).toEqual([
      'NEW',
      'FORM_SHOWED',
      'AUTHORIZED',
    ]);
  });

  it('unknown routes are 404, wrong methods 405, a rate-limited call carries Retry-After', async () => {
    expect((await fetch(`${sim.apiUrl}/PaymentRefund/refund`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${sim.apiUrl}/PaymentInit/init`)).status).toBe(405);
    sim.configure({ rateLimitPerSecond: 1 });
    const answers = await Promise.all([1, 2, 3].map(() => post('PaymentInit/init', initBody())));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const a of limited) {
      expect(a.body.errorCode).toBe('1429');
      expect(a.headers.get('retry-after')).toBe('1');
    }
  });

  it('admin: behaviour, faults, payments, deliveries, stats and reset over HTTP', async () => {
    const admin = (path: string, body?: unknown) =>
      fetch(
        `${sim.url}/__sim/${path}`,
        body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) },
      );

    expect(await (await admin('config')).json()).toMatchObject({ outage: 'none', minAmount: 1000 });
    const changed = await admin('config', { outage: 'unavailable', stallShare: 0.25 });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ outage: 'unavailable', stallShare: 0.25 });
    await expectError('PaymentInit/init', initBody(), 503, 3503);

    const invalid = await admin('config', { outage: 'sometimes', nonsense: 1 });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({
      error: expect.stringMatching(/unknown behaviour setting\(s\): nonsense/),
    });
    const badValue = await admin('config', { stallShare: 2 });
    expect(await badValue.json()).toEqual({
      error: expect.stringMatching(/stallShare=2: must be a number from 0 to 1/),
    });
    await admin('config', { outage: 'none' });

    expect((await admin('faults', { call: 'init', fault: 'error', status: 402, code: 1004 })).status).toBe(
      200,
    );
    await expectError('PaymentInit/init', initBody(), 402, 1004);
    expect((await admin('faults', { call: 'webhook', fault: 'abort' })).status).toBe(400);

    const body = initBody();
    await post('PaymentInit/init', body);
    const listed = (await (await admin(`payments?orderId=${body.orderId}`)).json()) as Record<
      string,
      unknown
    >[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ orderId: body.orderId, teamSlug, status: 'NEW' });
    expect(await (await admin('deliveries')).json()).toEqual([]);
    // the 503 of the outage was received but never handled
    expect(await (await admin('stats')).json()).toMatchObject({ received: 3, handled: { init: 2 } });

    expect((await admin('reset', {})).status).toBe(200);
    expect(await (await admin('payments')).json()).toEqual([]);
  });
});

describe('the simulator from configuration', () => {
  it('takes merchant and failure modes from the environment', () => {
    const options = simulatorOptionsFromConfig(
      testConfig({
        MERCHANT_ID: 'team-x',
        MERCHANT_PASSWORD: 'pw-x',
        PAYMENT_WEBHOOK_SECRET: 'secret-x',
        SIM_GATEWAY_PORT: '0',
        SIM_LOST_ANSWER_PERCENT: '10',
        SIM_WEBHOOK_LOSS_PERCENT: '25',
        SIM_WEBHOOK_DELAY_MIN_MS: '500',
        SIM_WEBHOOK_DELAY_MAX_MS: '100',
        SIM_AUTO_PAY_DELAY_MS: '250',
      }),
    );
    expect(options.merchants).toEqual([{ teamSlug: 'team-x', password: 'pw-x', webhookSecret: 'secret-x' }]);
    expect(options.port).toBe(0);
    expect(options.behaviour).toMatchObject({
      lostAnswerProbability: 0.1,
      webhookLossProbability: 0.25,
      webhookDelayMinMs: 500,
      webhookDelayMaxMs: 500,
      autoPay: { card: '4111111111111111', delayMs: 250 },
    });
    expect(simulatorOptionsFromConfig(testConfig()).behaviour).toMatchObject({
      autoPay: null,
      lostAnswerProbability: 0,
    });
  });

  it('openPaymentGateway runs the simulator in-process when PAYMENT_ENDPOINT is unset', async () => {
    const gateway = await openPaymentGateway(
      testConfig({ SIM_GATEWAY_PORT: '0' }),
      pino({ level: 'silent' }),
    );
    try {
      expect(gateway.simulator).toBeDefined();
      expect(gateway.client.endpoint).toBe(gateway.simulator!.apiUrl);
      const payment = await gateway.client.init({ orderId: orderId(), amount: 1_000 });
      expect(gateway.simulator!.payment(payment.paymentId)!.teamSlug).toBe('boxoffice');
      expect(await gateway.breaker.status()).toMatchObject({
        state: 'Closed',
        threshold: 5,
        timeoutSeconds: 60,
      });
    } finally {
      await gateway.stop();
    }
  });

  it('names the variables to change when the simulator’s port is taken, and a worker never starts one', async () => {
    const taken = await openPaymentGateway(testConfig({ SIM_GATEWAY_PORT: '0' }), pino({ level: 'silent' }));
    try {
      const port = new URL(taken.simulator!.url).port;
      await expect(
        openPaymentGateway(testConfig({ SIM_GATEWAY_PORT: port }), pino({ level: 'silent' })),
      ).rejects.toThrow(
        new RegExp(
          `cannot start the built-in gateway simulator on 127\\.0\\.0\\.1:${port} \\(SIM_GATEWAY_HOST, SIM_GATEWAY_PORT\\): EADDRINUSE; set PAYMENT_ENDPOINT`,
        ),
      );
      const worker = await openPaymentGateway(
        testConfig({ SIM_GATEWAY_PORT: port }),
        pino({ level: 'silent' }),
        {
          startSimulator: false,
        },
      );
      expect(worker.simulator).toBeUndefined();
      expect(worker.client.endpoint).toBe(taken.simulator!.apiUrl);
    } finally {
      await taken.stop();
    }
  });

  it('refuses the development credentials with a real gateway in production', async () => {
    const config = testConfig({ NODE_ENV: 'production', PAYMENT_ENDPOINT: 'https://gateway.example/api/v1' });
    await expect(openPaymentGateway(config, pino({ level: 'silent' }))).rejects.toThrow(
      /MERCHANT_PASSWORD and PAYMENT_WEBHOOK_SECRET must be set in production/,
    );
  });
});

describe('boxoffice sim gateway', () => {
  it('serves the gateway API on --port with the configured merchant and stops on SIGTERM', async () => {
    const port = await freePort();
    const run = spawnNode(['sim', 'gateway', '--port', String(port)], {
      MERCHANT_ID: 'cli-team',
      MERCHANT_PASSWORD: 'cli-password',
      LOG_LEVEL: 'warn',
    });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`);
      const endpoint = `http://127.0.0.1:${port}/api/v1`;
      const client = new GatewayClient({
        endpoint,
        teamSlug: 'cli-team',
        password: 'cli-password',
        timeoutMs: 2_000,
      });
      expect(await client.init({ orderId: orderId(), amount: 1_000 })).toMatchObject({ status: 'NEW' });
      const wrong = new GatewayClient({ endpoint, teamSlug: 'cli-team', password: 'nope', timeoutMs: 2_000 });
      await expect(wrong.init({ orderId: orderId(), amount: 1_000 })).rejects.toMatchObject({
        gatewayCode: 1001,
      });
      expect(run.output()).toContain(`payment gateway simulator: ${endpoint}`);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses a bad port or an unknown simulator with exit code 2', async () => {
    const badPort = spawnNode(['sim', 'gateway', '--port', 'abc'], {});
    const unknown = spawnNode(['sim', 'sms'], {});
    const help = spawnNode(['sim', '--help'], {});
    const [badPortExit, unknownExit, helpExit] = await Promise.all([
      badPort.exited,
      unknown.exited,
      help.exited,
    ]);
    expect(badPortExit.code).toBe(2);
    expect(badPort.output()).toContain('--port must be an integer');
    expect(unknownExit.code).toBe(2);
    expect(unknown.output()).toContain('the simulators are: gateway');
    expect(helpExit.code).toBe(0);
    expect(help.output()).toContain('boxoffice sim gateway [--port N]');
  });
});

describe('boxoffice sim notify', () => {
  it('runs the SMTP sink with its inbox, the SMS provider and the push service on the given ports', async () => {
    const [smtp, inbox, sms, push] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const run = spawnNode(
      [
        'sim',
        'notify',
        '--smtp-port',
        String(smtp),
        '--inbox-port',
        String(inbox),
        '--sms-port',
        String(sms),
      ].concat(['--push-port', String(push)]),
      { LOG_LEVEL: 'warn' },
    );
    try {
      await waitForOk(`http://127.0.0.1:${inbox}/api/messages`);
      const sent = await fetch(`http://127.0.0.1:${sms}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: '+79001234567', text: 'Ваш билет' }),
      });
      expect(sent.status).toBe(202);
      const kept = (await (await fetch(`http://127.0.0.1:${sms}/messages`)).json()) as unknown;
      expect(JSON.stringify(kept)).toContain('Ваш билет');
      expect(run.output()).toContain(`smtp://127.0.0.1:${smtp}`);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect((await run.exited).code).toBe(0);
  });

  it('refuses a bad port, and an option of the gateway simulator, with exit 2', async () => {
    const bad = spawnNode(['sim', 'notify', '--sms-port', '70000'], {});
    expect((await bad.exited).code).toBe(2);
    expect(bad.output()).toContain('--sms-port must be an integer');
    const foreign = spawnNode(['sim', 'notify', '--port', '9000'], {});
    expect((await foreign.exited).code).toBe(2);
    expect(foreign.output()).toContain('--port is not its option');
  });
});

describe("the simulator's memory", () => {
  it('forgets finished payments after the retention period, and keeps live ones', () => {
    const book = new PaymentBook(() => {});
    const make = (orderIdValue: string) =>
      book.create(
        {
          teamSlug,
          orderId: orderIdValue,
          amount: 1_000,
          currency: 'KZT',
          description: null,
          successUrl: null,
          failUrl: null,
          notificationUrl: null,
          email: null,
          language: null,
          createdAt: Date.now(),
          expiresAt: Date.now() + 60_000,
        },
        () => ({}),
      );
    const live = make('a');
    const authorized = make('b');
    book.move(authorized, 'FORM_SHOWED');
    book.move(authorized, 'AUTHORIZED');
    const cancelled = make('c');
    book.move(cancelled, 'CANCELLED');
    const again = make('c');

    expect(book.purgeFinished(Date.now() - 60_000)).toBe(0);
    expect(book.purgeFinished(Date.now() + 1)).toBe(1);
    expect(book.get(cancelled.paymentId)).toBeUndefined();
    expect(book.forOrder(teamSlug, 'c').map((p) => p.paymentId)).toEqual([again.paymentId]);
    for (const kept of [live, authorized, again]) expect(book.get(kept.paymentId)).toBe(kept);
  });
});
