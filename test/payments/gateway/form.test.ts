import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../src/payments/gateway/index.ts';
import {
  BANK_FAILURES,
  type BankFailure,
  DEFAULT_BEHAVIOUR,
  type GatewaySimulator,
  TEST_CARDS,
} from '../../../src/sims/gateway/index.ts';
import { clientFor, FAST, orderId, startSim, submitCard, waitFor } from './harness.ts';

describe('the card form and the payment lifecycle', () => {
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

  const newPayment = (extra: Partial<Parameters<GatewayClient['init']>[0]> = {}) =>
    client.init({
      orderId: orderId(),
      amount: 12_345,
      successUrl: 'http://shop.test/api/payments/success',
      failUrl: 'http://shop.test/api/payments/fail',
      ...extra,
    });

  it('renders a real HTML form and moves NEW to FORM_SHOWED once', async () => {
    const payment = await newPayment({ description: 'Row 3 <script>alert(1)</script>' });
    const page = await fetch(payment.paymentUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/api/v1/paymentform/submit"');
    expect(html).toContain(`name="PaymentId" value="${payment.paymentId}"`);
    for (const name of ['CardNumber', 'ExpiryDate', 'Cvv', 'CardholderName', 'Email'])
      expect(html).toContain(`name="${name}"`);
    expect(html).toContain('123.45 KZT');
    expect(html).toContain('Row 3 &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(sim.payment(payment.paymentId)!.status).toBe('FORM_SHOWED');

    expect((await fetch(payment.paymentUrl)).status).toBe(200);
    expect(sim.payment(payment.paymentId)!.history.map((h) => h.status)).toEqual(['NEW', 'FORM_SHOWED']);
  });

  it('an unknown payment gets a 404 page', async () => {
    const page = await fetch(`${sim.apiUrl}/paymentform/render/pay_nope`);
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('Payment not found');
    expect((await submitCard(sim, 'pay_nope', { number: TEST_CARDS.approved[0] })).status).toBe(404);
  });

  it.each([...TEST_CARDS.approved, '4242424242424242'])(
    'approved card %s authorizes and sends the buyer to successURL',
    async (card) => {
      const payment = await newPayment();
      await fetch(payment.paymentUrl);
      const page = await submitCard(sim, payment.paymentId, {
        number: card.replace(/(\d{4})/g, '$1 ').trim(),
      });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('data-status="AUTHORIZED"');
      const back = `http://shop.test/api/payments/success?paymentId=${payment.paymentId}&amp;orderId=${payment.orderId}`;
      expect(html).toContain(`<meta http-equiv="refresh" content="3;url=${back}">`);
      expect((await client.getPayment(payment.paymentId)).status).toBe('AUTHORIZED');
    },
  );

  it.each([
    [TEST_CARDS.declined, 'DECLINED'],
    [TEST_CARDS.insufficientFunds, 'INSUFFICIENT_FUNDS'],
  ])('card %s is rejected (%s) and the buyer goes to failURL', async (card, reason) => {
    const payment = await newPayment();
    const page = await submitCard(sim, payment.paymentId, { number: card });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-status="REJECTED"');
    expect(html).toContain('http://shop.test/api/payments/fail?paymentId=');
    expect(sim.payment(payment.paymentId)).toMatchObject({ status: 'REJECTED', reason });
    // submitted without opening the form first: the lifecycle still passes through FORM_SHOWED
    expect(sim.payment(payment.paymentId)!.history.map((h) => h.status)).toEqual([
      'NEW',
      'FORM_SHOWED',
      'REJECTED',
    ]);
  });

  it('bad card fields re-render the form with the problems and change nothing', async () => {
    const payment = await newPayment();
    await fetch(payment.paymentUrl);
    const page = await submitCard(sim, payment.paymentId, {
      number: '4111111111111112',
      expiry: '01/20',
      cvv: 'ab',
      name: ' ',
    });
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain('<form method="post"');
    for (const problem of [
      'not valid (checksum)',
      'The card has expired',
      'CVV must be 3 or 4 digits',
      'Cardholder name',
    ])
      expect(html).toContain(problem);
    expect(sim.payment(payment.paymentId)!.status).toBe('FORM_SHOWED');

    const json = await submitCard(
      sim,
      payment.paymentId,
      { number: '12', expiry: '13/30' },
      'application/json',
    );
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({
      success: false,
      error: 'Validation failed',
      details: ['Card number must be 12 to 19 digits', 'Expiry date must be MM/YY'],
      paymentId: payment.paymentId,
      status: 'FORM_SHOWED',
    });
  });

  it('failure mode 2: a submit whose answer is lost can be resubmitted identically for the same result', async () => {
    const payment = await newPayment();
    sim.inject({ call: 'submit', fault: 'abort' });
    await expect(submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[2] })).rejects.toThrow();
    expect(sim.payment(payment.paymentId)!.status).toBe('AUTHORIZED');

    const again = await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[2] });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('data-status="AUTHORIZED"');
    expect(sim.payment(payment.paymentId)!.history.filter((h) => h.status === 'AUTHORIZED')).toHaveLength(1);

    const otherCard = await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[3] });
    expect(otherCard.status).toBe(409);
  });

  it('failure mode 2, stalled: the browser gives up; the resubmit gets the result', async () => {
    const payment = await newPayment();
    sim.inject({ call: 'submit', fault: 'stall' });
    const stalled = fetch(`${sim.apiUrl}/paymentform/submit`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `PaymentId=${payment.paymentId}&CardNumber=${TEST_CARDS.declined}&ExpiryDate=10%2F35&Cvv=321&CardholderName=B`,
      signal: AbortSignal.timeout(200),
    });
    await expect(stalled).rejects.toThrow();
    const again = await submitCard(sim, payment.paymentId, {
      number: TEST_CARDS.declined,
      expiry: '10/35',
      cvv: '321',
      name: 'B',
    });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('data-status="REJECTED"');
  });

  it('failure mode 3: each bank failure ends the payment as the spec says', async () => {
    for (const [failure, { status, message }] of Object.entries(BANK_FAILURES)) {
      const payment = await newPayment();
      sim.inject({ call: 'submit', fault: 'bank', bankFailure: failure as BankFailure });
      const page = await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] });
      expect(page.status).toBe(200);
      expect(sim.payment(payment.paymentId), failure).toMatchObject({
        status,
        reason: failure,
        statusDescription: message,
      });
    }
    expect(BANK_FAILURES.NETWORK_ERROR.status).toBe('FAILED');
    expect(BANK_FAILURES.FRAUD_SUSPECTED.status).toBe('REJECTED');
  });

  it('failure mode 3 by probability, limited to chosen failures', async () => {
    sim.configure({ bankFailureProbability: 1, bankFailures: ['NO_3DS'] });
    const payment = await newPayment();
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] });
    expect(sim.payment(payment.paymentId)).toMatchObject({ status: 'REJECTED', reason: 'NO_3DS' });
  });

  it('an unpaid payment expires: EXPIRED everywhere, the form is gone, and the order can be paid anew', async () => {
    sim.configure({ expiryMinuteMs: 30 });
    const payment = await newPayment({ paymentExpiryMinutes: 1 });
    await fetch(payment.paymentUrl);
    await waitFor(async () =>
      (await client.getPayment(payment.paymentId)).status === 'EXPIRED' ? true : undefined,
    );
    const page = await fetch(payment.paymentUrl);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('Payment expired');
    expect((await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] })).status).toBe(410);
    await expect(client.confirm({ paymentId: payment.paymentId, amount: 12_345 })).rejects.toMatchObject({
      code: 'GATEWAY_BUSINESS_RULE',
    });
    const anew = await client.init({ orderId: payment.orderId, amount: 12_345 });
    expect(anew.paymentId).not.toBe(payment.paymentId);
  });

  it('auto-pay: the simulator pays by itself; the merchant still confirms', async () => {
    sim.configure({ autoPay: { card: TEST_CARDS.approved[0], delayMs: 20 } });
    const payment = await newPayment();
    await waitFor(async () =>
      (await client.getPayment(payment.paymentId)).status === 'AUTHORIZED' ? true : undefined,
    );
    expect(sim.payment(payment.paymentId)!.history.map((h) => h.status)).toEqual([
      'NEW',
      'FORM_SHOWED',
      'AUTHORIZED',
    ]);
    expect(await client.confirm({ paymentId: payment.paymentId, amount: 12_345 })).toMatchObject({
      status: 'CONFIRMED',
    });

    sim.configure({ autoPay: { card: TEST_CARDS.declined, delayMs: 0 } });
    const declined = await newPayment();
    await waitFor(async () =>
      (await client.getPayment(declined.paymentId)).status === 'REJECTED' ? true : undefined,
    );
  });

  it('the result page shows where a payment stands', async () => {
    const payment = await newPayment();
    await submitCard(sim, payment.paymentId, { number: TEST_CARDS.approved[0] });
    await client.confirm({ paymentId: payment.paymentId, amount: 12_345 });
    const page = await fetch(`${sim.apiUrl}/paymentform/result/${payment.paymentId}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-status="CONFIRMED"');
    // a confirmed payment's form shows the result instead of taking another card
    expect(await (await fetch(payment.paymentUrl)).text()).toContain('data-status="CONFIRMED"');
  });
});
