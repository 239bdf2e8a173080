import type { Logger } from 'pino';
import { type Breaker, isCircuitOpenError } from '../../platform/resilience/circuit-breaker.ts';
import {
  GatewayApiError,
  GatewayCancelledError,
  GatewayError,
  GatewayNetworkError,
  GatewayOutcomeUnknownError,
  GatewayResponseError,
  GatewayStateError,
  GatewayTimeoutError,
} from './errors.ts';
import { cancelToken, checkToken, confirmToken, initToken, type MerchantCredentials } from './token.ts';
import {
  type CancelPaymentRequest,
  type CancelPaymentResult,
  type CheckPaymentResult,
  type ConfirmPaymentRequest,
  type ConfirmPaymentResult,
  DEFAULT_CURRENCY,
  type GatewayOperation,
  type InitPaymentRequest,
  type InitPaymentResult,
  isPaymentStatus,
  type PaymentInfo,
  type PaymentStatus,
} from './types.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  /** Backoff before retry n is a random delay up to min(maxDelayMs, baseDelayMs × 2^(n-1)). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface GatewayClientOptions {
  /** The gateway's base URL, e.g. `https://gateway.example/api/v1`; a bare origin gets `/api/v1`. */
  endpoint: string;
  teamSlug: string;
  password: string;
  /** Deadline of each attempt, connection and whole body included. */
  timeoutMs: number;
  retry?: Partial<RetryPolicy>;
  /** Every attempt goes through it; when it is open, calls fail at once with `CircuitOpenError`. */
  breaker?: Breaker;
  logger?: Logger;
}

export interface CallOptions {
  /** Gives up the call (and any retry) when it fires: `GatewayCancelledError`. */
  signal?: AbortSignal;
}

export type CheckQuery = { paymentId: string; orderId?: never } | { orderId: string; paymentId?: never };

const PATHS: Record<GatewayOperation, string> = {
  init: '/PaymentInit/init',
  check: '/PaymentCheck/check',
  confirm: '/PaymentConfirm/confirm',
  cancel: '/PaymentCancel/cancel',
};

const HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 };

type Json = Record<string, unknown>;

/**
 * The merchant side of the payment gateway API (shared/specs/payment-gateway.md); see docs/payments.md.
 *
 * - Every attempt has a deadline (`timeoutMs`, an AbortSignal covering connect, send and the whole body).
 * - Retries only where repeating is safe: `init` (the gateway answers a repeat with the same orderId and
 *   body with the same payment) and `check` (read-only), on failures that leave the outcome unknown or
 *   show the gateway unhealthy (timeouts, connection errors, 5xx, 408), with jittered exponential backoff.
 * - `confirm` and `cancel` are never repeated blind: after an attempt whose outcome is unknown the client
 *   checks the payment first; if the call took effect it reports success (`recovered: true`), if the
 *   payment is unchanged it tries again, otherwise it reports the state (`GatewayStateError`) or, when it
 *   cannot find out, `GatewayOutcomeUnknownError`.
 * - Connections are reused: Node's global fetch keeps them alive per origin and honours the server's
 *   keep-alive timeout.
 */
export class GatewayClient {
  readonly endpoint: string;
  readonly breaker: Breaker | undefined;
  private readonly merchant: MerchantCredentials;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger | undefined;

  constructor(options: GatewayClientOptions) {
    this.endpoint = normalizeEndpoint(options.endpoint);
    this.merchant = { teamSlug: options.teamSlug, password: options.password };
    if (!(options.timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.timeoutMs = options.timeoutMs;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1)
      throw new RangeError('retry.attempts must be an integer >= 1');
    this.breaker = options.breaker;
    this.logger = options.logger?.child({ component: 'payment-gateway' });
  }

  get teamSlug(): string {
    return this.merchant.teamSlug;
  }

  /** Registers a payment (status NEW) and returns where to send the buyer. Safe to repeat per orderId. */
  async init(request: InitPaymentRequest, options: CallOptions = {}): Promise<InitPaymentResult> {
    assertAmount(request.amount);
    assertId('orderId', request.orderId);
    const currency = request.currency ?? DEFAULT_CURRENCY;
    const body: Json = {
      teamSlug: this.merchant.teamSlug,
      token: initToken(this.merchant, request.amount, currency, request.orderId),
      amount: request.amount,
      orderId: request.orderId,
      currency,
      description: request.description,
      successURL: request.successUrl,
      failURL: request.failUrl,
      notificationURL: request.notificationUrl,
      paymentExpiry: request.paymentExpiryMinutes,
      email: request.email,
      language: request.language,
    };
    const answer = await this.withRetries('init', JSON.stringify(body), options.signal);
    return parseInit(answer, request.orderId, currency);
  }

  /** The payments of one paymentId, or of one orderId (an order may have several, e.g. after an expiry). */
  async check(query: CheckQuery, options: CallOptions = {}): Promise<CheckPaymentResult> {
    const byPayment = query.paymentId !== undefined;
    const key = byPayment ? query.paymentId : query.orderId;
    assertId(byPayment ? 'paymentId' : 'orderId', key);
    const body: Json = { teamSlug: this.merchant.teamSlug, token: checkToken(this.merchant, key as string) };
    if (byPayment) body.paymentId = key;
    else body.orderId = key;
    const answer = await this.withRetries('check', JSON.stringify(body), options.signal);
    return parseCheck(answer);
  }

  /** One payment's current state. */
  async getPayment(paymentId: string, options: CallOptions = {}): Promise<PaymentInfo> {
    const result = await this.check({ paymentId }, options);
    const payment = result.payments.find((p) => p.paymentId === paymentId);
    if (!payment)
      throw new GatewayResponseError('check', 200, `the answer does not list payment ${paymentId}`);
    return payment;
  }

  /** Captures an AUTHORIZED payment (two-step payments: the buyer authorizes, the merchant confirms). */
  async confirm(request: ConfirmPaymentRequest, options: CallOptions = {}): Promise<ConfirmPaymentResult> {
    assertAmount(request.amount);
    assertId('paymentId', request.paymentId);
    const payload = JSON.stringify({
      teamSlug: this.merchant.teamSlug,
      token: confirmToken(this.merchant, request.amount, request.paymentId),
      paymentId: request.paymentId,
      amount: request.amount,
      description: request.description,
    });
    return this.settle('confirm', request.paymentId, payload, options.signal, {
      done: (status) => status === 'CONFIRMED',
      pending: (status) => status === 'AUTHORIZED',
      alreadyDone: 'GATEWAY_ALREADY_CONFIRMED',
      parse: (answer) => parseConfirm(answer, request.paymentId),
      fromCheck: (payment) => ({
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        status: 'CONFIRMED',
        confirmedAmount: payment.amount,
        confirmedAt: payment.updatedAt,
        recovered: true,
      }),
    });
  }

  /** Cancels an unpaid payment, reverses an authorized one, refunds a confirmed one. */
  async cancel(request: CancelPaymentRequest, options: CallOptions = {}): Promise<CancelPaymentResult> {
    assertId('paymentId', request.paymentId);
    const payload = JSON.stringify({
      teamSlug: this.merchant.teamSlug,
      token: cancelToken(this.merchant, request.paymentId),
      paymentId: request.paymentId,
      reason: request.reason,
      force: request.force ?? false,
    });
    return this.settle('cancel', request.paymentId, payload, options.signal, {
      done: (status) => status === 'CANCELLED' || status === 'REFUNDED',
      pending: (status) =>
        status === 'NEW' || status === 'FORM_SHOWED' || status === 'AUTHORIZED' || status === 'CONFIRMED',
      alreadyDone: 'GATEWAY_ALREADY_CANCELLED',
      parse: (answer) => parseCancel(answer, request.paymentId),
      fromCheck: (payment) => ({
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        status: payment.status as 'CANCELLED' | 'REFUNDED',
        cancelledAmount: payment.amount,
        cancelledAt: payment.updatedAt,
        recovered: true,
      }),
    });
  }

  /** init and check: repeated on failures that leave the outcome unknown or show the gateway unhealthy. */
  private async withRetries(
    operation: 'init' | 'check',
    payload: string,
    signal?: AbortSignal,
  ): Promise<Json> {
    let earlier: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(operation, payload, signal);
      } catch (error) {
        // The breaker refusing a repeat says nothing of the earlier attempt, whose outcome stays unknown.
        if (earlier !== undefined && isCircuitOpenError(error)) throw earlier;
        if (!isRetryable(error) || attempt >= this.retry.attempts) throw error;
        earlier = error;
        this.logger?.warn(
          { operation, attempt, code: (error as GatewayError).code, err: error },
          'payment gateway call failed; retrying',
        );
        await this.backoff(operation, attempt, signal);
      }
    }
  }

  /**
   * confirm and cancel: an attempt whose outcome is unknown is followed by a status check, and repeated
   * only if the payment is still where it was.
   */
  private async settle<T>(
    operation: 'confirm' | 'cancel',
    paymentId: string,
    payload: string,
    signal: AbortSignal | undefined,
    rules: {
      done: (status: PaymentStatus) => boolean;
      pending: (status: PaymentStatus) => boolean;
      alreadyDone: GatewayError['code'];
      parse: (answer: Json) => T;
      fromCheck: (payment: PaymentInfo) => T;
    },
  ): Promise<T> {
    let unknownOutcome: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        return rules.parse(await this.send(operation, payload, signal));
      } catch (error) {
        // "Already confirmed/cancelled" after one of our own attempts was lost: that attempt did it.
        const ours =
          unknownOutcome !== undefined &&
          error instanceof GatewayApiError &&
          error.code === rules.alreadyDone;
        if (!ours && !isRetryable(error)) {
          if (unknownOutcome !== undefined && !(error instanceof GatewayError))
            throw new GatewayOutcomeUnknownError(operation, paymentId, error);
          throw error;
        }
        if (!ours) unknownOutcome = error;
        this.logger?.warn(
          { operation, paymentId, attempt, code: (error as GatewayError).code },
          'payment gateway answer lost or refused; checking the payment before anything else',
        );
      }
      let payment: PaymentInfo;
      try {
        payment = await this.getPayment(paymentId, { signal });
      } catch (checkError) {
        if (checkError instanceof GatewayCancelledError) throw checkError;
        throw new GatewayOutcomeUnknownError(operation, paymentId, checkError);
      }
      if (rules.done(payment.status)) return rules.fromCheck(payment);
      if (!rules.pending(payment.status)) throw new GatewayStateError(operation, paymentId, payment.status);
      if (attempt >= this.retry.attempts)
        throw new GatewayOutcomeUnknownError(operation, paymentId, unknownOutcome);
      await this.backoff(operation, attempt, signal);
    }
  }

  /** One attempt, through the breaker when there is one. */
  private send(operation: GatewayOperation, payload: string, signal?: AbortSignal): Promise<Json> {
    if (signal?.aborted) return Promise.reject(new GatewayCancelledError(operation, signal.reason));
    const attempt = () => this.attempt(operation, payload, signal);
    return this.breaker ? this.breaker.execute(attempt) : attempt();
  }

  private async attempt(
    operation: GatewayOperation,
    payload: string,
    callerSignal?: AbortSignal,
  ): Promise<Json> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${this.endpoint}${PATHS[operation]}`, {
        method: 'POST',
        headers: HEADERS,
        body: payload,
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (callerSignal?.aborted) throw new GatewayCancelledError(operation, callerSignal.reason);
      if (timeout.aborted) throw new GatewayTimeoutError(operation, this.timeoutMs);
      throw new GatewayNetworkError(operation, error);
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    const json = isObject(body) ? body : undefined;
    const ok = status >= 200 && status < 300;
    if (!ok || json?.success === false) {
      if (ok && json === undefined) throw new GatewayResponseError(operation, status, 'not a JSON object');
      throw new GatewayApiError(operation, status, errorCodeOf(json), errorMessageOf(json));
    }
    if (json === undefined) throw new GatewayResponseError(operation, status, 'not a JSON object');
    return json;
  }

  private async backoff(operation: GatewayOperation, attempt: number, signal?: AbortSignal): Promise<void> {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const delay = Math.round(Math.random() * ceiling);
    if (delay <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new GatewayCancelledError(operation, signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Failures after which the call's outcome is unknown or the gateway is unhealthy: worth another try. */
function isRetryable(error: unknown): boolean {
  return error instanceof GatewayError && error.peerFailure;
}

function normalizeEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`payment gateway endpoint is not a URL: ${endpoint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RangeError(`payment gateway endpoint must be http(s): ${endpoint}`);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/api/v1' : path}`;
}

function assertAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new RangeError(`amount must be a positive integer in minor units, got ${amount}`);
}

function assertId(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new RangeError(`${name} must be a non-empty string`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCodeOf(body: Json | undefined): number | undefined {
  const raw = body?.errorCode ?? body?.ErrorCode ?? body?.code;
  const code = typeof raw === 'string' ? Number(raw) : raw;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

function errorMessageOf(body: Json | undefined): string | undefined {
  const parts = [body?.message, body?.details].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.length > 0 ? parts.join(': ') : undefined;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

function requireString(operation: GatewayOperation, body: Json, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '')
    throw new GatewayResponseError(operation, 200, `missing ${field}`);
  return value;
}

function requireStatus(operation: GatewayOperation, body: Json): PaymentStatus {
  const status = body.status;
  if (!isPaymentStatus(status))
    throw new GatewayResponseError(operation, 200, `unknown status ${String(status)}`);
  return status;
}

function parseInit(body: Json, orderId: string, currency: string): InitPaymentResult {
  return {
    paymentId: requireString('init', body, 'paymentId'),
    orderId: str(body.orderId) ?? orderId,
    status: requireStatus('init', body),
    amount: num(body.amount) ?? 0,
    currency: str(body.currency) ?? currency,
    paymentUrl: requireString('init', body, 'paymentURL'),
    expiresAt: str(body.expiresAt),
    createdAt: str(body.createdAt),
  };
}

function parsePayment(raw: unknown): PaymentInfo {
  if (!isObject(raw)) throw new GatewayResponseError('check', 200, 'a payment is not an object');
  const amount = num(raw.amount);
  if (amount === null) throw new GatewayResponseError('check', 200, 'a payment has no amount');
  return {
    paymentId: requireString('check', raw, 'paymentId'),
    orderId: str(raw.orderId) ?? '',
    status: requireStatus('check', raw),
    statusDescription: str(raw.statusDescription),
    amount,
    currency: str(raw.currency) ?? DEFAULT_CURRENCY,
    createdAt: str(raw.createdAt),
    updatedAt: str(raw.updatedAt),
    expiresAt: str(raw.expiresAt),
  };
}

function parseCheck(body: Json): CheckPaymentResult {
  if (!Array.isArray(body.payments)) throw new GatewayResponseError('check', 200, 'missing payments');
  const payments = body.payments.map(parsePayment);
  return { payments, totalCount: num(body.totalCount) ?? payments.length, orderId: str(body.orderId) };
}

function parseConfirm(body: Json, paymentId: string): ConfirmPaymentResult {
  if (body.status !== 'CONFIRMED')
    throw new GatewayResponseError('confirm', 200, `status ${String(body.status)} instead of CONFIRMED`);
  const amount = num(body.confirmedAmount) ?? num(body.amount);
  if (amount === null) throw new GatewayResponseError('confirm', 200, 'missing confirmedAmount');
  return {
    paymentId: str(body.paymentId) ?? paymentId,
    orderId: str(body.orderId),
    status: 'CONFIRMED',
    confirmedAmount: amount,
    confirmedAt: str(body.confirmedAt),
    recovered: false,
  };
}

function parseCancel(body: Json, paymentId: string): CancelPaymentResult {
  const status = body.status;
  if (status !== 'CANCELLED' && status !== 'REFUNDED')
    throw new GatewayResponseError(
      'cancel',
      200,
      `status ${String(status)} instead of CANCELLED or REFUNDED`,
    );
  return {
    paymentId: str(body.paymentId) ?? paymentId,
    orderId: str(body.orderId),
    status,
    cancelledAmount: num(body.cancelledAmount),
    cancelledAt: str(body.cancelledAt),
    recovered: false,
  };
}
