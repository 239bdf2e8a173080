/** The payment gateway's vocabulary (shared/specs/payment-gateway.md). Amounts are integers in minor units. */

export const PAYMENT_STATUSES = [
  'NEW',
  'FORM_SHOWED',
  'AUTHORIZED',
  'CONFIRMED',
  'REJECTED',
  'FAILED',
  'EXPIRED',
  'CANCELLED',
  'REFUNDED',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export function isPaymentStatus(value: unknown): value is PaymentStatus {
  return typeof value === 'string' && (PAYMENT_STATUSES as readonly string[]).includes(value);
}

/** Statuses after which nothing more happens to the money (REFUNDED follows CONFIRMED, nothing follows it). */
export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'REJECTED',
  'FAILED',
  'EXPIRED',
  'CANCELLED',
  'REFUNDED',
]);

export const CURRENCIES = ['KZT', 'RUB', 'USD', 'EUR'] as const;
export type Currency = (typeof CURRENCIES)[number];
export const DEFAULT_CURRENCY: Currency = 'KZT';

/** The merchant's side of the gateway API. */
export type GatewayOperation = 'init' | 'check' | 'confirm' | 'cancel';

export interface InitPaymentRequest {
  /** The merchant's order id; init is idempotent per order id. */
  orderId: string;
  /** Minor units (the real gateway requires >= 1000). */
  amount: number;
  currency?: Currency;
  description?: string;
  /** Where the buyer's browser goes after a successful payment (`successURL` on the wire). */
  successUrl?: string;
  failUrl?: string;
  /** Where the gateway posts status webhooks (`notificationURL` on the wire). */
  notificationUrl?: string;
  /** Minutes until an unpaid payment expires (`paymentExpiry` on the wire). */
  paymentExpiryMinutes?: number;
  email?: string;
  language?: string;
}

export interface InitPaymentResult {
  paymentId: string;
  orderId: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  /** The card form the buyer is sent to. */
  paymentUrl: string;
  expiresAt: string | null;
  createdAt: string | null;
}

export interface PaymentInfo {
  paymentId: string;
  orderId: string;
  status: PaymentStatus;
  statusDescription: string | null;
  amount: number;
  currency: string;
  createdAt: string | null;
  updatedAt: string | null;
  expiresAt: string | null;
}

export interface CheckPaymentResult {
  payments: PaymentInfo[];
  totalCount: number;
  orderId: string | null;
}

export interface ConfirmPaymentRequest {
  paymentId: string;
  /** Must equal the authorized amount. */
  amount: number;
  description?: string;
}

export interface ConfirmPaymentResult {
  paymentId: string;
  orderId: string | null;
  status: 'CONFIRMED';
  confirmedAmount: number;
  confirmedAt: string | null;
  /**
   * True when the answer to our confirm was lost and a status check showed the payment confirmed
   * (by that attempt or by a repeat of it) instead of the confirm's own answer.
   */
  recovered: boolean;
}

export interface CancelPaymentRequest {
  paymentId: string;
  reason?: string;
  /** Also cancel while the buyer has the card form open (FORM_SHOWED). */
  force?: boolean;
}

export interface CancelPaymentResult {
  paymentId: string;
  orderId: string | null;
  /** CANCELLED for an unpaid or authorized payment, REFUNDED for a confirmed one. */
  status: 'CANCELLED' | 'REFUNDED';
  cancelledAmount: number | null;
  cancelledAt: string | null;
  /** As for confirm: the answer was lost and a status check showed the cancellation. */
  recovered: boolean;
}
