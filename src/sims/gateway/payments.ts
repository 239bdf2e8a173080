import { randomBytes } from 'node:crypto';
import type { PaymentStatus } from '../../payments/gateway/types.ts';

/**
 * The simulator's payments, in memory (it stands in for an external system: a restart forgets them).
 * Status changes follow the gateway's lifecycle and nothing else:
 * `NEW → FORM_SHOWED → AUTHORIZED → CONFIRMED → REFUNDED`, unpaid payments (NEW, FORM_SHOWED) may end
 * REJECTED, FAILED, EXPIRED or CANCELLED, and an AUTHORIZED one may be CANCELLED (reversal).
 */

const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  NEW: ['FORM_SHOWED', 'REJECTED', 'FAILED', 'EXPIRED', 'CANCELLED'],
  FORM_SHOWED: ['AUTHORIZED', 'REJECTED', 'FAILED', 'EXPIRED', 'CANCELLED'],
  AUTHORIZED: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['REFUNDED'],
  REJECTED: [],
  FAILED: [],
  EXPIRED: [],
  CANCELLED: [],
  REFUNDED: [],
};

export const UNPAID: ReadonlySet<PaymentStatus> = new Set(['NEW', 'FORM_SHOWED']);
/** An order whose latest payment is in one of these refuses a different init (409/1002). */
export const BLOCKS_ORDER: ReadonlySet<PaymentStatus> = new Set([
  'NEW',
  'FORM_SHOWED',
  'AUTHORIZED',
  'CONFIRMED',
]);

export const STATUS_DESCRIPTIONS: Record<PaymentStatus, string> = {
  NEW: 'Payment created; waiting for the buyer',
  FORM_SHOWED: 'The buyer has the card form open',
  AUTHORIZED: 'The card is authorized; waiting for the merchant to confirm',
  CONFIRMED: 'Payment confirmed',
  REJECTED: 'The payment was rejected',
  FAILED: 'The payment failed',
  EXPIRED: 'The payment expired unpaid',
  CANCELLED: 'The payment was cancelled',
  REFUNDED: 'The payment was refunded',
};

export interface HistoryEntry {
  status: PaymentStatus;
  at: string;
  reason: string | null;
}

export interface Submission {
  fingerprint: string;
  cardMask: string;
  at: number;
}

export interface SimPayment {
  readonly paymentId: string;
  readonly teamSlug: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  readonly description: string | null;
  readonly successUrl: string | null;
  readonly failUrl: string | null;
  readonly notificationUrl: string | null;
  readonly email: string | null;
  readonly language: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  status: PaymentStatus;
  statusDescription: string;
  updatedAt: number;
  /** Why it was rejected, failed or cancelled (e.g. INSUFFICIENT_FUNDS, FRAUD_SUSPECTED). */
  reason: string | null;
  history: HistoryEntry[];
  /** The init answer, byte for byte, for identical repeats. */
  initAnswer: string;
  /** The card form submit that decided it, if any. */
  submission: Submission | null;
  confirmedAt: number | null;
  cancelledAt: number | null;
}

export type NewPayment = Omit<
  SimPayment,
  | 'paymentId'
  | 'status'
  | 'statusDescription'
  | 'updatedAt'
  | 'reason'
  | 'history'
  | 'initAnswer'
  | 'submission'
  | 'confirmedAt'
  | 'cancelledAt'
>;

export interface StatusChange {
  payment: SimPayment;
  from: PaymentStatus;
  to: PaymentStatus;
}

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
}

export class PaymentBook {
  private readonly payments = new Map<string, SimPayment>();
  /** `teamSlug\norderId` → its payments' ids, oldest first. */
  private readonly orders = new Map<string, string[]>();
  /** `teamSlug\nYYYY-MM-DD` → payments created that UTC day. */
  private readonly daily = new Map<string, number>();

  constructor(private readonly onChange: (change: StatusChange) => void) {}

  create(fields: NewPayment, answer: (payment: SimPayment) => unknown): SimPayment {
    const paymentId = `pay_${randomBytes(12).toString('hex')}`;
    const payment: SimPayment = {
      ...fields,
      paymentId,
      status: 'NEW',
      statusDescription: STATUS_DESCRIPTIONS.NEW,
      updatedAt: fields.createdAt,
      reason: null,
      history: [{ status: 'NEW', at: new Date(fields.createdAt).toISOString(), reason: null }],
      initAnswer: '',
      submission: null,
      confirmedAt: null,
      cancelledAt: null,
    };
    payment.initAnswer = JSON.stringify(answer(payment));
    this.payments.set(paymentId, payment);
    const key = orderKey(fields.teamSlug, fields.orderId);
    const list = this.orders.get(key);
    if (list) list.push(paymentId);
    else this.orders.set(key, [paymentId]);
    const day = dayKey(fields.teamSlug, fields.createdAt);
    this.daily.set(day, (this.daily.get(day) ?? 0) + 1);
    return payment;
  }

  get(paymentId: string): SimPayment | undefined {
    return this.payments.get(paymentId);
  }

  forOrder(teamSlug: string, orderId: string): SimPayment[] {
    return (this.orders.get(orderKey(teamSlug, orderId)) ?? []).map((id) => this.payments.get(id)!);
  }

  createdOn(teamSlug: string, at: number): number {
    return this.daily.get(dayKey(teamSlug, at)) ?? 0;
  }

  all(): SimPayment[] {
    return [...this.payments.values()];
  }

  /** Forgets payments that are past the card form (not NEW, FORM_SHOWED or AUTHORIZED) and unchanged since `cutoff`. */
  purgeFinished(cutoff: number): number {
    let purged = 0;
    for (const [paymentId, payment] of this.payments) {
      if (UNPAID.has(payment.status) || payment.status === 'AUTHORIZED' || payment.updatedAt >= cutoff)
        continue;
      this.payments.delete(paymentId);
      const key = orderKey(payment.teamSlug, payment.orderId);
      const rest = (this.orders.get(key) ?? []).filter((id) => id !== paymentId);
      if (rest.length > 0) this.orders.set(key, rest);
      else this.orders.delete(key);
      purged++;
    }
    const today = new Date(cutoff).toISOString().slice(0, 10);
    for (const key of this.daily.keys()) if (key.slice(-10) < today) this.daily.delete(key);
    return purged;
  }

  clear(): void {
    this.payments.clear();
    this.orders.clear();
    this.daily.clear();
  }

  canMove(payment: SimPayment, to: PaymentStatus): boolean {
    return TRANSITIONS[payment.status].includes(to);
  }

  /** Moves a payment along the lifecycle (and announces it); throws on a move the lifecycle does not have. */
  move(
    payment: SimPayment,
    to: PaymentStatus,
    options: { reason?: string; description?: string } = {},
  ): void {
    const from = payment.status;
    if (!this.canMove(payment, to)) throw new IllegalTransitionError(`${payment.paymentId}: ${from} → ${to}`);
    const now = Date.now();
    payment.status = to;
    payment.statusDescription = options.description ?? STATUS_DESCRIPTIONS[to];
    payment.updatedAt = now;
    if (options.reason !== undefined) payment.reason = options.reason;
    if (to === 'CONFIRMED') payment.confirmedAt = now;
    if (to === 'CANCELLED' || to === 'REFUNDED') payment.cancelledAt = now;
    payment.history.push({ status: to, at: new Date(now).toISOString(), reason: options.reason ?? null });
    this.onChange({ payment, from, to });
  }
}

function orderKey(teamSlug: string, orderId: string): string {
  return `${teamSlug}\n${orderId}`;
}

function dayKey(teamSlug: string, at: number): string {
  return `${teamSlug}\n${new Date(at).toISOString().slice(0, 10)}`;
}

/** A payment as the API shows it (PaymentCheck). */
export function paymentView(
  payment: SimPayment,
  include: { transactions?: boolean; cardDetails?: boolean } = {},
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    paymentId: payment.paymentId,
    orderId: payment.orderId,
    status: payment.status,
    statusDescription: payment.statusDescription,
    amount: payment.amount,
    currency: payment.currency,
    createdAt: new Date(payment.createdAt).toISOString(),
    updatedAt: new Date(payment.updatedAt).toISOString(),
    expiresAt: new Date(payment.expiresAt).toISOString(),
    description: payment.description,
  };
  if (payment.reason) view.reason = payment.reason;
  if (include.transactions) view.transactions = payment.history.map((entry) => ({ ...entry }));
  if (include.cardDetails && payment.submission) view.cardMask = payment.submission.cardMask;
  return view;
}
