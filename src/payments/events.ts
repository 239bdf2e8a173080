import type { DomainEvent } from '../platform/outbox/index.ts';
import type { PaymentRow } from './store.ts';

/**
 * Outbox topics of the payments module, each written in the transaction that makes the change. The booking's
 * own events (`booking.paid`, `booking.refunded`, `booking.cancelled`) come from the booking transitions the
 * same transaction calls.
 */
export const PaymentTopics = {
  /** The gateway registered the payment: the buyer has a card form to go to. */
  initiated: 'payment.initiated',
  /** The money is taken: the booking is paid. */
  confirmed: 'payment.confirmed',
  /** The payment ended without money (declined, failed, expired, cancelled, or given back before capture). */
  failed: 'payment.failed',
  /** Money that was taken went back to the buyer. */
  refunded: 'payment.refunded',
} as const;

export interface PaymentEventPayload {
  paymentId: number;
  bookingId: number;
  eventId: number;
  userId: number;
  orderId: string;
  gatewayPaymentId: string | null;
  state: string;
  gatewayStatus: string | null;
  amount: string;
  currency: string;
  paymentUrl?: string | null;
  reason?: string | null;
}

export function paymentEvent(
  topic: (typeof PaymentTopics)[keyof typeof PaymentTopics],
  p: PaymentRow,
  extra: Partial<PaymentEventPayload> = {},
): DomainEvent<PaymentEventPayload> {
  return {
    topic,
    key: String(p.bookingId),
    payload: {
      paymentId: p.id,
      bookingId: p.bookingId,
      eventId: p.eventId,
      userId: p.userId,
      orderId: p.orderId,
      gatewayPaymentId: p.gatewayPaymentId,
      state: p.state,
      gatewayStatus: p.gatewayStatus,
      amount: p.amount,
      currency: p.currency,
      ...extra,
    },
  };
}
