/**
 * Every way a drops request can fail, with its stable code and its HTTP status: the one table that maps
 * domain outcomes to statuses (the contest port and the Fastify routes both read it).
 *
 * Failures are frozen singletons, not thrown errors: in a 409 storm tens of thousands are returned a
 * second, and an Error per answer (stack capture) would be the most expensive part of the request.
 */
export interface DropFailure {
  readonly code: DropFailureCode;
  readonly status: 400 | 409 | 503;
  readonly message: string;
  /** How a failed checkout is recorded in `drop_checkout_attempts.outcome`. */
  readonly outcome: CheckoutOutcome;
}

/** The values of the `drop_checkout_outcome` enum (migrations/0003_drops.sql). */
export type CheckoutOutcome = 'reserved' | 'unavailable' | 'user_limit' | 'invalid' | 'failed';

export type DropFailureCode =
  | 'DROPS_BAD_USER_ID'
  | 'DROPS_BAD_ITEM_ID'
  | 'DROPS_BAD_CODE'
  | 'DROPS_ITEM_UNAVAILABLE'
  | 'DROPS_USER_LIMIT'
  | 'DROPS_CODE_UNKNOWN'
  | 'DROPS_CODE_EXPIRED'
  | 'DROPS_CODE_USED'
  | 'DROPS_NOT_PERSISTED'
  | 'DROPS_DRAINING';

function failure(
  code: DropFailureCode,
  status: DropFailure['status'],
  message: string,
  outcome: CheckoutOutcome = 'invalid',
): DropFailure {
  return Object.freeze({ code, status, message, outcome });
}

export const Failures = Object.freeze({
  badUserId: failure(
    'DROPS_BAD_USER_ID',
    400,
    'user_id must be given once, as an integer from 0 to 9223372036854775807',
  ),
  badCode: failure('DROPS_BAD_CODE', 400, 'code must be given once, as a checkout code (a UUID)'),
  itemUnavailable: failure(
    'DROPS_ITEM_UNAVAILABLE',
    409,
    'the item is sold or reserved by someone else',
    'unavailable',
  ),
  userLimit: failure('DROPS_USER_LIMIT', 409, 'the user has reached the per-sale limit', 'user_limit'),
  codeUnknown: failure(
    'DROPS_CODE_UNKNOWN',
    409,
    'no live checkout has this code in the current sale (expired, released, or from an earlier sale)',
  ),
  codeExpired: failure('DROPS_CODE_EXPIRED', 409, 'the checkout has expired; the item went back on sale'),
  codeUsed: failure('DROPS_CODE_USED', 409, 'the checkout code was already used'),
  notPersisted: failure(
    'DROPS_NOT_PERSISTED',
    503,
    'the request could not be recorded durably and was not applied; try again',
    'failed',
  ),
  draining: failure('DROPS_DRAINING', 503, 'the service is shutting down; try again shortly'),
});

/** The item-id failure names the valid range, which depends on the configured sale size. */
export function badItemId(itemsPerSale: number): DropFailure {
  return failure(
    'DROPS_BAD_ITEM_ID',
    400,
    `id (or item_id) must be given once, as an integer from 0 to ${itemsPerSale - 1}`,
  );
}

export function isFailure(value: unknown): value is DropFailure {
  return typeof value === 'object' && value !== null && 'status' in value && 'outcome' in value;
}
