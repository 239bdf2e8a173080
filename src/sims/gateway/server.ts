import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { CURRENCIES } from '../../payments/gateway/types.ts';
import {
  API_CALLS,
  type ApiCall,
  applyBehaviourPatch,
  BANK_FAILURES,
  type BankFailure,
  BehaviourError,
  type BehaviourPatch,
  DEFAULT_BEHAVIOUR,
  type Fault,
  parseFault,
  type SimulatorBehaviour,
} from './behaviour.ts';
import {
  type CardForm,
  cardFingerprint,
  decideCard,
  maskCard,
  readCardForm,
  validateCardForm,
} from './cards.ts';
import { formPage, HTML_HEADERS, messagePage, resultPage, returnUrl } from './html.ts';
import { BLOCKS_ORDER, PaymentBook, paymentView, type SimPayment, UNPAID } from './payments.ts';
import { type WebhookDelivery, WebhookDispatcher } from './webhooks.ts';

/** A merchant the simulator knows: requests are verified with its password, webhooks signed with its secret. */
export interface MerchantAccount {
  teamSlug: string;
  password: string;
  webhookSecret: string;
}

export interface GatewaySimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** The origin buyers' browsers use (paymentURL links); default: the listening address. */
  publicUrl?: string;
  merchants: MerchantAccount[];
  /** Changes from DEFAULT_BEHAVIOUR (failure modes, timings, auto-pay…). */
  behaviour?: BehaviourPatch;
  /** Source of randomness for the failure modes (default Math.random). */
  random?: () => number;
  logger?: Logger;
}

export interface SimulatorStats {
  /** TCP connections accepted. */
  connections: number;
  /** Requests that reached the gateway routes (admin routes excluded), outages included. */
  received: number;
  /** Requests handled per endpoint. */
  handled: Record<ApiCall | 'render' | 'submit', number>;
}

export interface GatewaySimulator {
  /** `http://host:port` */
  readonly url: string;
  /** `url/api/v1`: the endpoint a GatewayClient is given. */
  readonly apiUrl: string;
  behaviour(): SimulatorBehaviour;
  /** Changes the behaviour while it runs (as `POST /__sim/config` does); throws BehaviourError when invalid. */
  configure(patch: BehaviourPatch): SimulatorBehaviour;
  /** Queues a fault for the next matching event (as `POST /__sim/faults` does). */
  inject(fault: Fault): void;
  /** Copies of the payments, oldest first. */
  payments(): SimPayment[];
  payment(paymentId: string): SimPayment | undefined;
  deliveries(): WebhookDelivery[];
  /** Resolves when no webhook is waiting or being sent. */
  webhooksIdle(): Promise<void>;
  stats(): SimulatorStats;
  /** Forgets payments, deliveries, queued faults and request counts (the behaviour stays). */
  reset(): void;
  stop(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const BODY_LIMIT = 64 * 1024;
const MAX_AMOUNT = 1_000_000_000_000;

/** A refusal in the gateway's terms: HTTP status, numeric code, message. */
class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const badBody = (message: string) => new ApiFailure(400, 1000, message);
const badToken = (message = 'Authentication failed: bad teamSlug or token') =>
  new ApiFailure(401, 1001, message);
const badArgument = (message: string) => new ApiFailure(400, 1003, message);
const notFound = (message = 'Payment not found') => new ApiFailure(404, 1404, message);
const businessRule = (message: string) => new ApiFailure(422, 1422, message);

function failureBody(code: number, message: string): string {
  return JSON.stringify({ success: false, errorCode: String(code), message, details: message });
}

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  body: string;
}

/**
 * Starts the payment gateway simulator: the gateway API (shared/specs/payment-gateway.md) under
 * `/api/v1/`, the card form, status webhooks and the spec's failure modes, all in memory. See
 * docs/payments.md for the behaviour settings and the `/__sim/*` admin endpoints.
 */
export async function startGatewaySimulator(options: GatewaySimulatorOptions): Promise<GatewaySimulator> {
  if (options.merchants.length === 0) throw new Error('the gateway simulator needs at least one merchant');
  const log = options.logger?.child({ component: 'gateway-sim' });
  const random = options.random ?? Math.random;
  const merchants = new Map(options.merchants.map((m) => [m.teamSlug, m]));
  let behaviour = applyBehaviourPatch(DEFAULT_BEHAVIOUR, options.behaviour ?? {});
  const faults: Fault[] = [];
  const takeFault = (match: (fault: Fault) => boolean): Fault | undefined => {
    const index = faults.findIndex(match);
    return index === -1 ? undefined : faults.splice(index, 1)[0];
  };
  const stats: SimulatorStats = {
    connections: 0,
    received: 0,
    handled: { init: 0, check: 0, confirm: 0, cancel: 0, render: 0, submit: 0 },
  };
  const rateWindows = new Map<string, { second: number; count: number }>();
  const expiryTimers = new Map<string, NodeJS.Timeout>();
  const autoPayTimers = new Map<string, NodeJS.Timeout>();
  const stallTimers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let stopped = false;

  const webhooks = new WebhookDispatcher({
    behaviour: () => behaviour,
    takeFault: () => takeFault((fault) => fault.call === 'webhook'),
    secretOf: (teamSlug) => merchants.get(teamSlug)?.webhookSecret,
    random,
    logger: log,
  });
  const book = new PaymentBook(({ payment, from, to }) => {
    log?.debug({ paymentId: payment.paymentId, from, to }, 'gateway simulator: status change');
    if (!UNPAID.has(to)) clearPaymentTimers(payment.paymentId);
    webhooks.notify(payment, from);
  });

  function clearPaymentTimers(paymentId: string): void {
    for (const timers of [expiryTimers, autoPayTimers]) {
      const timer = timers.get(paymentId);
      if (timer) clearTimeout(timer);
      timers.delete(paymentId);
    }
  }

  /** The payment, moved to EXPIRED first if its time is up (timers can lag; reads must not). */
  function current(payment: SimPayment): SimPayment {
    if (UNPAID.has(payment.status) && Date.now() >= payment.expiresAt) {
      book.move(payment, 'EXPIRED', { reason: 'EXPIRED' });
    }
    return payment;
  }

  function scheduleExpiry(payment: SimPayment): void {
    // setTimeout overflows past 2^31-1 ms; a longer expiry is re-armed when the first timer fires.
    const delay = Math.min(Math.max(0, payment.expiresAt - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      expiryTimers.delete(payment.paymentId);
      if (Date.now() < payment.expiresAt) return scheduleExpiry(payment);
      current(payment);
    }, delay);
    timer.unref();
    expiryTimers.set(payment.paymentId, timer);
  }

  function scheduleAutoPay(payment: SimPayment): void {
    const autoPay = behaviour.autoPay;
    if (!autoPay) return;
    const timer = setTimeout(() => {
      autoPayTimers.delete(payment.paymentId);
      if (!UNPAID.has(current(payment).status)) return;
      const year = (new Date().getUTCFullYear() + 5) % 100;
      const form: CardForm = {
        paymentId: payment.paymentId,
        cardNumber: autoPay.card,
        expiryDate: `12/${String(year).padStart(2, '0')}`,
        cvv: '123',
        cardholderName: 'AUTO PAY',
        email: payment.email ?? '',
      };
      const problems = validateCardForm(form);
      if (problems.length > 0) {
        log?.warn({ paymentId: payment.paymentId, problems }, 'gateway simulator: auto-pay card refused');
        return;
      }
      if (payment.status === 'NEW') book.move(payment, 'FORM_SHOWED');
      pay(payment, form, undefined);
    }, autoPay.delayMs);
    timer.unref();
    autoPayTimers.set(payment.paymentId, timer);
  }

  // ---- authentication and limits -------------------------------------------------------------------

  function authenticate(body: Json, expected: (m: MerchantAccount) => string): MerchantAccount {
    const { teamSlug, token } = body;
    if (typeof teamSlug !== 'string' || typeof token !== 'string' || teamSlug === '' || token === '')
      throw badToken('Authentication failed: teamSlug and token are required');
    const merchant = merchants.get(teamSlug);
    // An unknown merchant is checked against a throwaway value, so both failures take the same time.
    const want = Buffer.from(expected(merchant ?? { teamSlug, password: '\0', webhookSecret: '' }), 'utf8');
    const got = Buffer.from(token.toLowerCase(), 'utf8');
    const equal = want.length === got.length && timingSafeEqual(want, got);
    if (!merchant || !equal) throw badToken();
    admit(merchant.teamSlug);
    return merchant;
  }

  function admit(teamSlug: string): void {
    const limit = behaviour.rateLimitPerSecond;
    if (limit === null) return;
    const second = Math.floor(Date.now() / 1000);
    const window = rateWindows.get(teamSlug);
    if (!window || window.second !== second) {
      rateWindows.set(teamSlug, { second, count: 1 });
      return;
    }
    if (++window.count > limit)
      throw new ApiFailure(429, 1429, `Rate limit exceeded: ${limit} requests a second`);
  }

  function ownPayment(merchant: MerchantAccount, paymentId: string): SimPayment {
    const payment = book.get(paymentId);
    if (!payment || payment.teamSlug !== merchant.teamSlug) throw notFound(`Payment ${paymentId} not found`);
    return current(payment);
  }

  // ---- the API -------------------------------------------------------------------------------------

  function init(body: Json): Answer {
    const amount = field(body, 'amount', 'number', true);
    const orderId = field(body, 'orderId', 'string', true);
    const currency = field(body, 'currency', 'string') ?? 'KZT';
    const description = field(body, 'description', 'string');
    const successUrl = field(body, 'successURL', 'string');
    const failUrl = field(body, 'failURL', 'string');
    const notificationUrl = field(body, 'notificationURL', 'string');
    const expiry = field(body, 'paymentExpiry', 'number');
    const email = field(body, 'email', 'string');
    const language = field(body, 'language', 'string');
    const merchant = authenticate(body, (m) =>
      sha256(`${amount}${currency}${orderId}${m.password}${m.teamSlug}`),
    );

    if (!Number.isSafeInteger(amount) || amount < behaviour.minAmount || amount > MAX_AMOUNT)
      throw badArgument(
        `amount must be an integer from ${behaviour.minAmount} to ${MAX_AMOUNT} (minor units)`,
      );
    if (!(CURRENCIES as readonly string[]).includes(currency))
      throw badArgument(`currency must be one of ${CURRENCIES.join(', ')}`);
    if (orderId.length === 0 || orderId.length > 64) throw badArgument('orderId must be 1 to 64 characters');
    if (description !== undefined && description.length > 500)
      throw badArgument('description must be at most 500 characters');
    for (const [name, value] of [
      ['successURL', successUrl],
      ['failURL', failUrl],
      ['notificationURL', notificationUrl],
    ] as const) {
      if (value !== undefined && !isHttpUrl(value)) throw badArgument(`${name} must be an http(s) URL`);
    }
    if (expiry !== undefined && (!Number.isInteger(expiry) || expiry < 1 || expiry > 10_080))
      throw badArgument('paymentExpiry must be an integer number of minutes from 1 to 10080');
    if (email !== undefined && email !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
      throw badArgument('email is not a valid address');
    if (language !== undefined && !/^[a-z]{2}$/.test(language))
      throw badArgument('language must be a two-letter code such as en or ru');

    const latest = book.forOrder(merchant.teamSlug, orderId).at(-1);
    if (latest && BLOCKS_ORDER.has(current(latest).status)) {
      if (latest.amount === amount && latest.currency === currency)
        return { status: 200, body: latest.initAnswer };
      throw new ApiFailure(
        409,
        1002,
        `Duplicate payment: order ${orderId} already has payment ${latest.paymentId} (${latest.status}) ` +
          `for ${latest.amount} ${latest.currency}`,
      );
    }
    const now = Date.now();
    if (
      behaviour.dailyPaymentLimit !== null &&
      book.createdOn(merchant.teamSlug, now) >= behaviour.dailyPaymentLimit
    )
      throw new ApiFailure(
        429,
        3015,
        `Daily payment limit reached (${behaviour.dailyPaymentLimit} payments)`,
      );

    const payment = book.create(
      {
        teamSlug: merchant.teamSlug,
        orderId,
        amount,
        currency,
        description: description ?? null,
        successUrl: successUrl ?? null,
        failUrl: failUrl ?? null,
        notificationUrl: notificationUrl ?? null,
        email: email ?? null,
        language: language ?? null,
        createdAt: now,
        expiresAt: now + (expiry ?? behaviour.defaultExpiryMinutes) * behaviour.expiryMinuteMs,
      },
      (p) => ({
        success: true,
        paymentId: p.paymentId,
        orderId: p.orderId,
        status: 'NEW',
        amount: p.amount,
        currency: p.currency,
        paymentURL: `${publicUrl}/api/v1/paymentform/render/${p.paymentId}`,
        expiresAt: new Date(p.expiresAt).toISOString(),
        createdAt: new Date(p.createdAt).toISOString(),
      }),
    );
    scheduleExpiry(payment);
    scheduleAutoPay(payment);
    log?.debug({ paymentId: payment.paymentId, orderId, amount }, 'gateway simulator: payment created');
    return { status: 200, body: payment.initAnswer };
  }

  function check(body: Json): Answer {
    const paymentId = field(body, 'paymentId', 'string');
    const orderId = field(body, 'orderId', 'string');
    const transactions = field(body, 'includeTransactions', 'boolean') ?? false;
    const cardDetails = field(body, 'includeCardDetails', 'boolean') ?? false;
    const key = paymentId ?? orderId;
    if (key === undefined || key === '') throw badBody('paymentId or orderId is required');
    const merchant = authenticate(body, (m) => sha256(`${key}${m.password}${m.teamSlug}`));
    const payments =
      paymentId !== undefined
        ? [ownPayment(merchant, paymentId)]
        : book.forOrder(merchant.teamSlug, orderId!).map(current);
    if (payments.length === 0) throw notFound(`No payments for order ${orderId}`);
    return ok({
      success: true,
      payments: payments.map((p) => paymentView(p, { transactions, cardDetails })),
      totalCount: payments.length,
      orderId: payments[0]!.orderId,
    });
  }

  function confirm(body: Json): Answer {
    const paymentId = field(body, 'paymentId', 'string', true);
    const amount = field(body, 'amount', 'number', true);
    field(body, 'description', 'string');
    const merchant = authenticate(body, (m) => sha256(`${amount}${paymentId}${m.teamSlug}${m.password}`));
    if (!Number.isSafeInteger(amount) || amount <= 0) throw badArgument('amount must be a positive integer');
    const payment = ownPayment(merchant, paymentId);
    if (payment.status === 'CONFIRMED') throw new ApiFailure(409, 2409, 'Payment already confirmed');
    if (payment.status === 'CANCELLED') throw new ApiFailure(409, 3409, 'Payment already cancelled');
    if (payment.status !== 'AUTHORIZED')
      throw businessRule(`Only an AUTHORIZED payment can be confirmed; this one is ${payment.status}`);
    if (amount !== payment.amount)
      throw businessRule(
        `amount must equal the authorized amount ${payment.amount}: partial confirmation is not supported`,
      );
    book.move(payment, 'CONFIRMED');
    return ok({
      success: true,
      paymentId: payment.paymentId,
      orderId: payment.orderId,
      status: 'CONFIRMED',
      authorizedAmount: payment.amount,
      confirmedAmount: payment.amount,
      remainingAmount: 0,
      currency: payment.currency,
      confirmedAt: new Date(payment.confirmedAt!).toISOString(),
    });
  }

  function cancel(body: Json): Answer {
    const paymentId = field(body, 'paymentId', 'string', true);
    const reason = field(body, 'reason', 'string');
    const force = field(body, 'force', 'boolean') ?? false;
    const merchant = authenticate(body, (m) => sha256(`${paymentId}${m.teamSlug}${m.password}`));
    if (reason !== undefined && reason.length > 500)
      throw badArgument('reason must be at most 500 characters');
    const payment = ownPayment(merchant, paymentId);
    const was = payment.status;
    let type: string;
    if (was === 'CANCELLED' || was === 'REFUNDED')
      throw new ApiFailure(409, 3409, `Payment already ${was.toLowerCase()}`);
    if (was === 'NEW' || (was === 'FORM_SHOWED' && force)) {
      type = 'FULL_CANCELLATION';
      book.move(payment, 'CANCELLED', { reason: reason ?? 'CANCELLED_BY_MERCHANT' });
    } else if (was === 'FORM_SHOWED') {
      throw businessRule('The buyer has the card form open; pass force: true to cancel anyway');
    } else if (was === 'AUTHORIZED') {
      type = 'FULL_REVERSAL';
      book.move(payment, 'CANCELLED', {
        reason: reason ?? 'REVERSED_BY_MERCHANT',
        description: 'The authorization was reversed',
      });
    } else if (was === 'CONFIRMED') {
      type = 'FULL_REFUND';
      book.move(payment, 'REFUNDED', { reason: reason ?? 'REFUNDED_BY_MERCHANT' });
    } else {
      throw businessRule(`A ${was} payment cannot be cancelled`);
    }
    return ok({
      success: true,
      paymentId: payment.paymentId,
      orderId: payment.orderId,
      status: payment.status,
      cancellationType: type,
      originalAmount: payment.amount,
      cancelledAmount: payment.amount,
      remainingAmount: 0,
      currency: payment.currency,
      cancelledAt: new Date(payment.cancelledAt!).toISOString(),
      details: { reason: reason ?? null, wasForced: force },
    });
  }

  const handlers: Record<ApiCall, (body: Json) => Answer> = { init, check, confirm, cancel };

  /** Decides a card payment: an injected or random bank failure, else the card's own outcome. */
  function pay(payment: SimPayment, form: CardForm, fault: Fault | undefined): void {
    let failure: BankFailure | undefined;
    if (fault?.fault === 'bank') failure = fault.bankFailure;
    else if (random() < behaviour.bankFailureProbability)
      failure = behaviour.bankFailures[Math.floor(random() * behaviour.bankFailures.length)];
    payment.submission = {
      fingerprint: cardFingerprint(form),
      cardMask: maskCard(form.cardNumber),
      at: Date.now(),
    };
    if (failure) {
      const { status, message } = BANK_FAILURES[failure];
      book.move(payment, status, { reason: failure, description: message });
      return;
    }
    const decision = decideCard(form.cardNumber);
    if (decision.outcome === 'approved') book.move(payment, 'AUTHORIZED');
    else book.move(payment, 'REJECTED', { reason: decision.reason, description: decision.message });
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  async function handleApi(call: ApiCall, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST') return send(res, 405, failureBody(1000, 'Use POST'), { allow: 'POST' });
    stats.handled[call]++;
    const body = parseApiBody(raw);
    const named = body instanceof ApiFailure ? undefined : body.paymentId;
    const injected = takeFault(
      (f) => f.call === call && f.fault === 'error' && (f.paymentId === undefined || f.paymentId === named),
    );
    if (injected?.fault === 'error')
      return send(res, injected.status, failureBody(injected.code, injected.message ?? 'Injected failure'));
    let answer: Answer;
    try {
      if (body instanceof ApiFailure) throw body;
      answer = handlers[call](body);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      const headers: Record<string, string> = error.status === 429 ? { 'retry-after': '1' } : {};
      return send(res, error.status, failureBody(error.code, error.message), headers);
    }
    const lost =
      takeFault((f) => f.call === call && (f.fault === 'abort' || f.fault === 'stall')) ??
      (behaviour.lostAnswerCalls.includes(call) && random() < behaviour.lostAnswerProbability
        ? randomLoss(call)
        : undefined);
    if (lost) return loseAnswer(req, lost);
    send(res, answer.status, answer.body);
  }

  /** The call's JSON object, or the failure to answer with; read once, before faults are matched on it. */
  function parseApiBody(raw: string | null): Json | ApiFailure {
    if (raw === null) return badBody(`The body is larger than ${BODY_LIMIT} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return badBody('The body is not valid JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return badBody('The body must be a JSON object');
    return body as Json;
  }

  function randomLoss(call: ApiCall | 'submit'): Fault {
    return random() < behaviour.stallShare ? { call, fault: 'stall' } : { call, fault: 'abort' };
  }

  /** Failure modes 1 and 2: the work is done, the answer never arrives. */
  function loseAnswer(req: IncomingMessage, fault: Fault): void {
    const socket = req.socket;
    if (fault.fault !== 'stall') {
      socket.destroy();
      return;
    }
    hang(socket, fault.stallMs ?? behaviour.stallMs);
  }

  function hang(socket: Socket, ms: number): void {
    const timer = setTimeout(() => {
      stallTimers.delete(timer);
      socket.destroy();
    }, ms);
    stallTimers.add(timer);
    socket.once('close', () => {
      clearTimeout(timer);
      stallTimers.delete(timer);
    });
  }

  function paymentNotFound(paymentId: string, res: ServerResponse) {
    send(res, 404, messagePage('Payment not found', `There is no payment ${paymentId}.`), HTML_HEADERS);
  }

  function render(paymentId: string, res: ServerResponse) {
    stats.handled.render++;
    const found = book.get(paymentId);
    if (!found) return paymentNotFound(paymentId, res);
    const payment = current(found);
    if (payment.status === 'NEW') book.move(payment, 'FORM_SHOWED');
    if (payment.status === 'FORM_SHOWED') return send(res, 200, formPage(payment), HTML_HEADERS);
    send(res, payment.status === 'EXPIRED' ? 410 : 200, resultPage(payment), HTML_HEADERS);
  }

  async function submit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.handled.submit++;
    const raw = await readBody(req);
    const wantsJson =
      /application\/json/.test(req.headers.accept ?? '') && !/text\/html/.test(req.headers.accept ?? '');
    const reply = (status: number, payment: SimPayment | undefined, html: string, errors: string[] = []) => {
      if (!wantsJson) return send(res, status, html, HTML_HEADERS);
      const body: Json = { success: status === 200 && errors.length === 0 };
      if (payment) {
        body.paymentId = payment.paymentId;
        body.status = payment.status;
        body.statusDescription = payment.statusDescription;
        body.redirectUrl = returnUrl(payment);
      }
      if (errors.length > 0) Object.assign(body, { error: 'Validation failed', details: errors });
      send(res, status, JSON.stringify(body));
    };
    if (raw === null)
      return reply(400, undefined, messagePage('Bad request', 'The form is too large.'), ['too large']);
    const fields = parseFormBody(raw, req.headers['content-type']);
    if (!fields)
      return reply(400, undefined, messagePage('Bad request', 'The form could not be read.'), ['unreadable']);
    const form = readCardForm(fields);
    if (form.paymentId === '')
      return reply(400, undefined, messagePage('Bad request', 'PaymentId is missing.'), [
        'PaymentId is required',
      ]);
    const found = book.get(form.paymentId);
    if (!found)
      return reply(
        404,
        undefined,
        messagePage('Payment not found', `There is no payment ${form.paymentId}.`),
        ['Payment not found'],
      );
    const payment = current(found);
    if (!UNPAID.has(payment.status)) {
      // Failure mode 2's other half: an identical resubmit (after a lost answer) gets the same result.
      const sub = payment.submission;
      const identical =
        sub !== null &&
        sub.fingerprint === cardFingerprint(form) &&
        Date.now() - sub.at <= behaviour.resubmitWindowMs;
      if (!identical) {
        if (payment.status === 'EXPIRED')
          return reply(410, payment, resultPage(payment), ['Payment expired']);
        return reply(
          409,
          payment,
          messagePage('Already processed', `This payment is already ${payment.status}.`),
          [`Payment already ${payment.status}`],
        );
      }
    } else {
      const problems = validateCardForm(form);
      if (problems.length > 0)
        return reply(
          400,
          payment,
          formPage(payment, problems, { cardholderName: form.cardholderName, email: form.email }),
          problems,
        );
      if (payment.status === 'NEW') book.move(payment, 'FORM_SHOWED');
      pay(
        payment,
        form,
        takeFault((f) => f.call === 'submit' && f.fault === 'bank'),
      );
    }
    const lost =
      takeFault((f) => f.call === 'submit' && (f.fault === 'abort' || f.fault === 'stall')) ??
      (random() < behaviour.formFailureProbability ? randomLoss('submit') : undefined);
    if (lost) return loseAnswer(req, lost);
    reply(200, payment, resultPage(payment));
  }

  function result(paymentId: string, res: ServerResponse) {
    const found = book.get(paymentId);
    if (!found) return paymentNotFound(paymentId, res);
    send(res, 200, resultPage(current(found)), HTML_HEADERS);
  }

  /** Failure "the gateway is down": before anything is registered. */
  function outage(req: IncomingMessage, res: ServerResponse) {
    if (behaviour.outage === 'unavailable') {
      req.resume();
      return send(res, 503, failureBody(3503, 'Service temporarily unavailable'), { 'retry-after': '5' });
    }
    if (behaviour.outage === 'reset') {
      req.socket.destroy();
      return;
    }
    req.resume();
    hang(req.socket, behaviour.stallMs);
  }

  async function admin(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const post = req.method === 'POST';
    const parse = (): unknown => {
      try {
        return raw ? JSON.parse(raw) : {};
      } catch {
        throw new BehaviourError('the body is not valid JSON');
      }
    };
    try {
      if (path === '/__sim/config' && post)
        return send(res, 200, JSON.stringify(simulator.configure(parse() as BehaviourPatch)));
      if (path === '/__sim/config') return send(res, 200, JSON.stringify(behaviour));
      if (path === '/__sim/faults' && post) {
        const body = parse();
        for (const fault of Array.isArray(body) ? body : [body]) simulator.inject(fault as Fault);
        return send(res, 200, JSON.stringify({ queued: faults }));
      }
      if (path === '/__sim/payments') {
        const url = new URL(req.url ?? '/', 'http://sim');
        const orderId = url.searchParams.get('orderId');
        const list = book.all().filter((p) => orderId === null || p.orderId === orderId);
        return send(
          res,
          200,
          JSON.stringify(
            list.map((p) => ({ teamSlug: p.teamSlug, ...paymentView(current(p), { transactions: true }) })),
          ),
        );
      }
      if (path === '/__sim/deliveries') return send(res, 200, JSON.stringify(webhooks.deliveries()));
      if (path === '/__sim/stats') return send(res, 200, JSON.stringify(stats));
      if (path === '/__sim/reset' && post) {
        simulator.reset();
        return send(res, 200, JSON.stringify({ reset: true }));
      }
      send(res, 404, JSON.stringify({ error: `no admin route ${req.method} ${path}` }));
    } catch (error) {
      if (!(error instanceof BehaviourError)) throw error;
      send(res, 400, JSON.stringify({ error: error.message }));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://sim').pathname.replace(/\/+$/, '');
    // ASP.NET routes are case-insensitive, and clients in the wild use both spellings.
    const path = pathname.toLowerCase() || '/';
    if (path.startsWith('/__sim/')) return admin(path, req, res);
    if (path === '/' || path === '/health') {
      req.resume();
      return send(
        res,
        200,
        JSON.stringify({ status: 'ok', service: 'payment gateway simulator', api: apiUrl }),
      );
    }
    stats.received++;
    if (behaviour.outage !== 'none') return outage(req, res);
    const call = API_CALLS.find((c) => path === API_PATHS[c]);
    if (call) return handleApi(call, req, res);
    if (path.startsWith('/api/v1/paymentform/render/') && req.method === 'GET') {
      req.resume();
      return render(decodeURIComponent(pathname.split('/').at(-1) ?? ''), res);
    }
    if (path.startsWith('/api/v1/paymentform/result/') && req.method === 'GET') {
      req.resume();
      return result(decodeURIComponent(pathname.split('/').at(-1) ?? ''), res);
    }
    if (path === '/api/v1/paymentform/submit' && req.method === 'POST') return submit(req, res);
    req.resume();
    send(res, 404, failureBody(1404, `No endpoint ${req.method} ${pathname}`));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log?.error({ err: error }, 'gateway simulator: request failed');
      if (!res.headersSent) send(res, 500, failureBody(9999, 'Internal error'));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Memory stays bounded in long load tests: finished payments and settled deliveries are forgotten.
  const sweeper = setInterval(() => {
    const cutoff = Date.now() - behaviour.retainFinishedMs;
    book.purgeFinished(cutoff);
    webhooks.purgeSettled(cutoff);
  }, 60_000);
  sweeper.unref();
  const address = server.address() as AddressInfo;
  const shownHost =
    address.address === '0.0.0.0' || address.address === '::'
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  const url = `http://${shownHost}:${address.port}`;
  const apiUrl = `${url}/api/v1`;
  const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, '');
  log?.info({ url, merchants: [...merchants.keys()] }, 'payment gateway simulator listening');

  const simulator: GatewaySimulator = {
    url,
    apiUrl,
    behaviour: () => structuredClone(behaviour),
    configure(patch) {
      behaviour = applyBehaviourPatch(behaviour, patch);
      return structuredClone(behaviour);
    },
    inject(fault) {
      faults.push(parseFault(fault));
    },
    payments: () => book.all().map((p) => structuredClone(current(p))),
    payment(paymentId) {
      const payment = book.get(paymentId);
      return payment ? structuredClone(current(payment)) : undefined;
    },
    deliveries: () => webhooks.deliveries(),
    webhooksIdle: () => webhooks.idle(),
    stats: () => structuredClone(stats),
    reset() {
      for (const paymentId of [...expiryTimers.keys(), ...autoPayTimers.keys()])
        clearPaymentTimers(paymentId);
      book.clear();
      webhooks.clear();
      faults.length = 0;
      rateWindows.clear();
      stats.received = 0;
      for (const key of Object.keys(stats.handled) as (keyof SimulatorStats['handled'])[])
        stats.handled[key] = 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      simulator.reset();
      webhooks.stop();
      for (const timer of stallTimers) clearTimeout(timer);
      stallTimers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return simulator;
}

const API_PATHS: Record<ApiCall, string> = {
  init: '/api/v1/paymentinit/init',
  check: '/api/v1/paymentcheck/check',
  confirm: '/api/v1/paymentconfirm/confirm',
  cancel: '/api/v1/paymentcancel/cancel',
};

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function ok(body: Json): Answer {
  return { status: 200, body: JSON.stringify(body) };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = JSON_HEADERS,
): void {
  const all =
    headers === JSON_HEADERS || headers === HTML_HEADERS ? headers : { ...JSON_HEADERS, ...headers };
  res.writeHead(status, { ...all, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The body as text, or null when it is larger than the limit (the rest is drained). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseFormBody(raw: string, contentType: string | undefined): URLSearchParams | null {
  if (contentType?.includes('application/json')) {
    try {
      const body = JSON.parse(raw) as unknown;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
      const fields = new URLSearchParams();
      for (const [key, value] of Object.entries(body)) if (typeof value === 'string') fields.set(key, value);
      return fields;
    } catch {
      return null;
    }
  }
  return new URLSearchParams(raw);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

type FieldType = { string: string; number: number; boolean: boolean };

/** A body field of the given JSON type: missing is undefined (or 400/1000 when required), wrong type 400/1000. */
function field<K extends keyof FieldType>(body: Json, name: string, type: K, required: true): FieldType[K];
function field<K extends keyof FieldType>(
  body: Json,
  name: string,
  type: K,
  required?: false,
): FieldType[K] | undefined;
function field<K extends keyof FieldType>(
  body: Json,
  name: string,
  type: K,
  required = false,
): FieldType[K] | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    if (required) throw badBody(`${name} is required`);
    return undefined;
  }
  if (typeof value !== type) throw badBody(`${name} must be a ${type}`);
  return value as FieldType[K];
}
