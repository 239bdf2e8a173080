import type { PaymentStatus } from './gateway/index.ts';

/**
 * Our side of a payment's life (migrations/0040_payments.sql explains each state) and the one rule that moves
 * it: given what we have recorded and what the gateway says now, what to do next. Pure, so every pairing is
 * tested on its own; `PaymentFlow` carries the steps out.
 */
export const PAYMENT_STATES = [
  'initiating',
  'pending',
  'capturing',
  'confirmed',
  'reversing',
  'refunding',
  'failed',
  'expired',
  'cancelled',
  'refunded',
] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

/** States in which something is still to happen: the reconciliation job looks at these. */
export const OPEN_STATES: readonly PaymentState[] = [
  'initiating',
  'pending',
  'capturing',
  'reversing',
  'refunding',
];

/**
 * Live payments: being paid or holding the money. A booking has at most one (the partial unique index
 * `payments_one_live_per_booking`, migrations/0040_payments.sql).
 */
export const LIVE_STATES: ReadonlySet<PaymentState> = new Set([
  'initiating',
  'pending',
  'capturing',
  'confirmed',
  'refunding',
]);

/** The payment ended without taking money. */
export type EndState = 'failed' | 'expired' | 'cancelled';

/** What the gateway knows of the payment: one of its statuses, or that it never registered the order. */
export type GatewayView = PaymentStatus | 'ABSENT';

export type Step =
  /** Nothing to do: we are there already, or the news is older than what we know. */
  | { kind: 'none' }
  /** The gateway has it and the buyer is paying: note the status (and that init got through). */
  | { kind: 'record' }
  /** Authorized: secure the seats and confirm the payment at the gateway (or give it back if they are gone). */
  | { kind: 'capture' }
  /** Confirmed at the gateway: the booking is paid (or, if it can no longer be, the money goes back). */
  | { kind: 'settle' }
  /** Over without money: the payment ends, the booking is cancelled (or reopened if init never registered). */
  | { kind: 'end'; state: EndState; reopen: boolean }
  /** The money must go back: cancel (reverse or refund) at the gateway. */
  | { kind: 'reverse' }
  /** The gateway says a reversal or refund is over: the payment ends in `state`. */
  | { kind: 'finish-reversal'; state: EndState | 'refunded' }
  /** The buyer's refund went through: the booking is refunded. */
  | { kind: 'finish-refund' }
  /** The gateway refunded a payment we had not asked it to: the booking is refunded too. */
  | { kind: 'external-refund' };

const NONE: Step = { kind: 'none' };

const failureEnd = (status: 'REJECTED' | 'FAILED' | 'EXPIRED' | 'CANCELLED'): EndState =>
  status === 'EXPIRED' ? 'expired' : status === 'CANCELLED' ? 'cancelled' : 'failed';

/** Before the money is taken: our states in which the buyer may still pay. */
const PAYING: ReadonlySet<PaymentState> = new Set(['initiating', 'pending', 'capturing']);
/** States after which the payment keeps no money, yet the gateway may still hold some. */
const GIVEN_UP: ReadonlySet<PaymentState> = new Set(['reversing', 'failed', 'expired', 'cancelled']);

export function decide(state: PaymentState, gateway: GatewayView): Step {
  switch (gateway) {
    case 'NEW':
    case 'FORM_SHOWED':
      if (state === 'initiating' || state === 'pending') return { kind: 'record' };
      if (state === 'reversing') return { kind: 'reverse' };
      return NONE;
    case 'AUTHORIZED':
      if (PAYING.has(state)) return { kind: 'capture' };
      if (GIVEN_UP.has(state)) return { kind: 'reverse' };
      return NONE;
    case 'CONFIRMED':
      if (PAYING.has(state)) return { kind: 'settle' };
      if (GIVEN_UP.has(state) || state === 'refunding') return { kind: 'reverse' };
      return NONE;
    case 'REJECTED':
    case 'FAILED':
    case 'EXPIRED':
    case 'CANCELLED':
      if (PAYING.has(state)) return { kind: 'end', state: failureEnd(gateway), reopen: false };
      if (state === 'reversing') return { kind: 'finish-reversal', state: failureEnd(gateway) };
      return NONE;
    case 'REFUNDED':
      if (state === 'refunding') return { kind: 'finish-refund' };
      if (state === 'reversing') return { kind: 'finish-reversal', state: 'refunded' };
      if (state === 'confirmed') return { kind: 'external-refund' };
      return NONE;
    case 'ABSENT':
      // Init never reached the gateway: nothing was paid, the buyer may start again.
      if (state === 'initiating') return { kind: 'end', state: 'failed', reopen: true };
      if (state === 'reversing') return { kind: 'finish-reversal', state: 'cancelled' };
      return NONE;
  }
}

/**
 * How far along the gateway's lifecycle a status is. News (a webhook) older than the status we already
 * recorded is stale: webhooks arrive out of order, and one must never move a payment backwards.
 */
const RANK: Record<PaymentStatus, number> = {
  NEW: 0,
  FORM_SHOWED: 1,
  AUTHORIZED: 2,
  CONFIRMED: 3,
  REJECTED: 4,
  FAILED: 4,
  EXPIRED: 4,
  CANCELLED: 4,
  REFUNDED: 5,
};

export function isStale(news: PaymentStatus, known: PaymentStatus | null): boolean {
  return known !== null && RANK[news] < RANK[known];
}

/** The seed's coarse payment status (pending | completed | failed | expired | refunded) of a state. */
export function publicStatus(
  state: PaymentState,
): 'pending' | 'completed' | 'failed' | 'expired' | 'refunded' {
  switch (state) {
    case 'confirmed':
    case 'refunding':
      return 'completed';
    case 'failed':
    case 'cancelled':
    case 'reversing':
      return 'failed';
    case 'expired':
      return 'expired';
    case 'refunded':
      return 'refunded';
    default:
      return 'pending';
  }
}
