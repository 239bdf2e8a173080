import { AppError } from '../../platform/http/errors.ts';
import type { GatewayOperation, PaymentStatus } from './types.ts';

/**
 * Every way a gateway call can fail, as one stable code. The gateway's own answers (HTTP status +
 * numeric code, shared/specs/payment-gateway.md) map onto the first group; the rest are failures on the
 * way there. As AppErrors they answer 502 (504 when we gave up waiting) if they reach the HTTP edge
 * unhandled; the booking flow is expected to translate the ones it cares about.
 */
export type GatewayErrorCode =
  // the gateway answered with an error
  | 'GATEWAY_BAD_REQUEST' // 400/1000 bad body
  | 'GATEWAY_BAD_TOKEN' // 401/1001 bad token or unknown merchant
  | 'GATEWAY_DUPLICATE_PAYMENT' // 409/1002 another payment for this orderId is in progress
  | 'GATEWAY_BAD_ARGUMENT' // 400/1003 a field's value is not acceptable
  | 'GATEWAY_INSUFFICIENT_FUNDS' // 402/1004
  | 'GATEWAY_PROVIDER_ERROR' // 402/1007 the acquiring bank refused or failed
  | 'GATEWAY_NOT_FOUND' // 404/1404 no such payment
  | 'GATEWAY_PEER_TIMEOUT' // 408/1408 the gateway timed out internally
  | 'GATEWAY_BUSINESS_RULE' // 422/1422 not allowed in the payment's state
  | 'GATEWAY_RATE_LIMITED' // 429/1429
  | 'GATEWAY_DAILY_LIMIT' // 429/3015 daily payment limit reached
  | 'GATEWAY_ALREADY_CONFIRMED' // 409/2409
  | 'GATEWAY_ALREADY_CANCELLED' // 409/3409
  | 'GATEWAY_UNAVAILABLE' // 503/3503 (and 502/504 without a known code)
  | 'GATEWAY_INTERNAL' // 500/9999 (and other 5xx)
  | 'GATEWAY_REJECTED' // another 4xx the table does not name
  // failures on the way
  | 'GATEWAY_TIMEOUT' // no complete answer within the call's timeout: outcome unknown
  | 'GATEWAY_NETWORK' // connection refused, reset or closed before a complete answer: outcome unknown
  | 'GATEWAY_BAD_RESPONSE' // an answer that is not the gateway's JSON
  | 'GATEWAY_CANCELLED' // the caller's AbortSignal fired
  | 'GATEWAY_OUTCOME_UNKNOWN' // confirm/cancel: an attempt's answer was lost and checking could not settle it
  | 'GATEWAY_WRONG_STATE'; // confirm/cancel recovery found the payment in a state the call cannot reach

interface TableEntry {
  code: GatewayErrorCode;
  /** The answer shows the gateway is unhealthy: counts for the circuit breaker, worth a retry if idempotent. */
  peerFailure: boolean;
}

const entry = (code: GatewayErrorCode, peerFailure = false): TableEntry => ({ code, peerFailure });

/**
 * Gateway code → our code. The spec names the 1xxx codes; the real gateway also answers per-endpoint
 * variants (2xxx for confirm, 3xxx for cancel) of the same meanings, which map by their last three digits.
 */
const BY_GATEWAY_CODE = new Map<number, TableEntry>([
  [1000, entry('GATEWAY_BAD_REQUEST')],
  [1001, entry('GATEWAY_BAD_TOKEN')],
  [1002, entry('GATEWAY_DUPLICATE_PAYMENT')],
  [1003, entry('GATEWAY_BAD_ARGUMENT')],
  [1004, entry('GATEWAY_INSUFFICIENT_FUNDS')],
  [1005, entry('GATEWAY_BAD_ARGUMENT')], // amount limits exceeded
  [1006, entry('GATEWAY_BAD_ARGUMENT')], // unsupported currency
  [1007, entry('GATEWAY_PROVIDER_ERROR')],
  [1100, entry('GATEWAY_BAD_ARGUMENT')], // validation failed
  [1404, entry('GATEWAY_NOT_FOUND')],
  [1408, entry('GATEWAY_PEER_TIMEOUT', true)],
  [1422, entry('GATEWAY_BUSINESS_RULE')],
  [1429, entry('GATEWAY_RATE_LIMITED')],
  [2409, entry('GATEWAY_ALREADY_CONFIRMED')],
  [3015, entry('GATEWAY_DAILY_LIMIT')],
  [3409, entry('GATEWAY_ALREADY_CANCELLED')],
  [3503, entry('GATEWAY_UNAVAILABLE', true)],
  [9998, entry('GATEWAY_INTERNAL', true)],
  [9999, entry('GATEWAY_INTERNAL', true)],
]);

/** The classification of an error answer: by the gateway's code when known, else by the HTTP status. */
export function classifyGatewayAnswer(httpStatus: number, gatewayCode: number | undefined): TableEntry {
  if (gatewayCode !== undefined) {
    const known = BY_GATEWAY_CODE.get(gatewayCode);
    if (known) return known;
    if (gatewayCode >= 2000 && gatewayCode < 4000) {
      const variant = BY_GATEWAY_CODE.get(1000 + (gatewayCode % 1000));
      if (variant) return variant;
    }
  }
  if (httpStatus === 502 || httpStatus === 503 || httpStatus === 504)
    return entry('GATEWAY_UNAVAILABLE', true);
  if (httpStatus >= 500) return entry('GATEWAY_INTERNAL', true);
  if (httpStatus === 408) return entry('GATEWAY_PEER_TIMEOUT', true);
  if (httpStatus === 429) return entry('GATEWAY_RATE_LIMITED');
  if (httpStatus === 404) return entry('GATEWAY_NOT_FOUND');
  if (httpStatus === 401) return entry('GATEWAY_BAD_TOKEN');
  return entry('GATEWAY_REJECTED');
}

export interface GatewayErrorDetails {
  operation: GatewayOperation;
  /** Whether the failure shows the gateway is unhealthy (counted by the circuit breaker). */
  peerFailure: boolean;
  gatewayStatus?: number;
  gatewayCode?: number;
  cause?: unknown;
}

/** Base of every gateway failure; `code` says which. */
export class GatewayError extends AppError {
  override name = 'GatewayError';
  declare readonly code: GatewayErrorCode;
  readonly operation: GatewayOperation;
  /** Counted by the circuit breaker; also what an idempotent call retries on. */
  readonly peerFailure: boolean;
  /** The gateway's HTTP status, when it answered. */
  readonly gatewayStatus: number | undefined;
  /** The gateway's numeric error code, when it sent one. */
  readonly gatewayCode: number | undefined;

  constructor(code: GatewayErrorCode, message: string, details: GatewayErrorDetails) {
    super(code, code === 'GATEWAY_TIMEOUT' || code === 'GATEWAY_OUTCOME_UNKNOWN' ? 504 : 502, message, {
      operation: details.operation,
      gatewayStatus: details.gatewayStatus,
      gatewayCode: details.gatewayCode,
    });
    this.operation = details.operation;
    this.peerFailure = details.peerFailure;
    this.gatewayStatus = details.gatewayStatus;
    this.gatewayCode = details.gatewayCode;
    if (details.cause !== undefined) this.cause = details.cause;
  }
}

/** The gateway answered with an error status (or `success: false`). */
export class GatewayApiError extends GatewayError {
  override name = 'GatewayApiError';
  constructor(
    operation: GatewayOperation,
    gatewayStatus: number,
    gatewayCode: number | undefined,
    /** The gateway's own message, if any. */
    readonly gatewayMessage: string | undefined,
  ) {
    const { code, peerFailure } = classifyGatewayAnswer(gatewayStatus, gatewayCode);
    super(
      code,
      `payment gateway ${operation}: ${gatewayStatus}${gatewayCode === undefined ? '' : `/${gatewayCode}`}` +
        (gatewayMessage ? ` ${gatewayMessage}` : ''),
      { operation, peerFailure, gatewayStatus, gatewayCode },
    );
  }
}

/** No complete answer within the timeout. The request may or may not have been applied. */
export class GatewayTimeoutError extends GatewayError {
  override name = 'GatewayTimeoutError';
  constructor(
    operation: GatewayOperation,
    readonly timeoutMs: number,
  ) {
    super('GATEWAY_TIMEOUT', `payment gateway ${operation}: no answer within ${timeoutMs} ms`, {
      operation,
      peerFailure: true,
    });
  }
}

/** The connection failed or closed before a complete answer. The request may or may not have been applied. */
export class GatewayNetworkError extends GatewayError {
  override name = 'GatewayNetworkError';
  constructor(operation: GatewayOperation, cause: unknown) {
    super('GATEWAY_NETWORK', `payment gateway ${operation}: ${describeNetworkError(cause)}`, {
      operation,
      peerFailure: true,
      cause,
    });
  }
}

/** An answer that is not the gateway's JSON (a proxy's error page, a truncated body, a missing field). */
export class GatewayResponseError extends GatewayError {
  override name = 'GatewayResponseError';
  constructor(operation: GatewayOperation, gatewayStatus: number, problem: string) {
    super(
      'GATEWAY_BAD_RESPONSE',
      `payment gateway ${operation}: unusable answer (${gatewayStatus}): ${problem}`,
      {
        operation,
        peerFailure: true,
        gatewayStatus,
      },
    );
  }
}

/** The caller gave up (its AbortSignal fired): not the gateway's fault. */
export class GatewayCancelledError extends GatewayError {
  override name = 'GatewayCancelledError';
  constructor(operation: GatewayOperation, cause: unknown) {
    super('GATEWAY_CANCELLED', `payment gateway ${operation}: cancelled by the caller`, {
      operation,
      peerFailure: false,
      cause,
    });
  }
}

/**
 * confirm/cancel could not tell whether the gateway applied the call: an attempt's answer was lost and
 * the status checks that followed failed too (or the breaker opened). Reconcile later with `check`.
 */
export class GatewayOutcomeUnknownError extends GatewayError {
  override name = 'GatewayOutcomeUnknownError';
  constructor(
    operation: 'confirm' | 'cancel',
    readonly paymentId: string,
    cause: unknown,
  ) {
    super(
      'GATEWAY_OUTCOME_UNKNOWN',
      `payment gateway ${operation} of ${paymentId}: the outcome is unknown (${(cause as Error)?.message ?? cause}); check the payment later`,
      { operation, peerFailure: false, cause },
    );
  }
}

/** confirm/cancel recovery found the payment in a state the call cannot reach (e.g. confirming an expired one). */
export class GatewayStateError extends GatewayError {
  override name = 'GatewayStateError';
  constructor(
    operation: 'confirm' | 'cancel',
    readonly paymentId: string,
    readonly status: PaymentStatus,
  ) {
    super('GATEWAY_WRONG_STATE', `payment gateway ${operation} of ${paymentId}: the payment is ${status}`, {
      operation,
      peerFailure: false,
    });
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (error as { code?: string })?.code;
  const message = cause?.message ?? (error as Error)?.message ?? String(error);
  return code ? `${code}: ${message}` : message;
}
