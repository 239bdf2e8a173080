import type { DomainEvent } from '../platform/outbox/index.ts';

/**
 * Outbox topics of the booking module (seed 001's topic names). Each is written in the transaction that makes
 * the change it announces. Consumers: notify, analytics, audit, payments.
 */
export const BookingTopics = {
  seatSelected: 'seat.selected',
  seatReleased: 'seat.released',
  bookingCreated: 'booking.created',
  bookingCancelled: 'booking.cancelled',
  /** Payment states (written by the transitions the payments module calls). */
  bookingPaymentPending: 'booking.payment_pending',
  bookingPaid: 'booking.paid',
  bookingRefunded: 'booking.refunded',
  /** POST /api/reset removed every booking and hold: projections built from the events start over. */
  bookingsReset: 'booking.reset',
} as const;

export interface BookingCreatedPayload {
  bookingId: number;
  eventId: number;
  userId: number;
  createdAt: string;
}

export interface SeatSelectedPayload {
  seatId: number;
  bookingId: number;
  eventId: number;
  userId: number;
  zoneId: number;
  price: string;
  heldUntil: string;
}

export interface SeatReleasedPayload {
  seatId: number;
  bookingId: number;
  eventId: number;
  userId: number;
  /** `released` by its holder, or `expired` (tidied by the sweeper after its hold ran out). */
  reason: 'released' | 'expired';
}

export interface BookingCancelledPayload {
  bookingId: number;
  eventId: number;
  userId: number;
  /** Seats the cancellation gave back (live holds only). */
  seatIds: number[];
  reason: 'cancelled' | 'payment_failed';
}

export interface BookingStatusPayload {
  bookingId: number;
  eventId: number;
  userId: number;
  seatIds: number[];
  /** Sum of the seats' prices, a decimal string. */
  amount: string;
}

export const bookingCreated = (p: BookingCreatedPayload): DomainEvent<BookingCreatedPayload> => ({
  topic: BookingTopics.bookingCreated,
  key: String(p.bookingId),
  payload: p,
});

export const seatSelected = (p: SeatSelectedPayload): DomainEvent<SeatSelectedPayload> => ({
  topic: BookingTopics.seatSelected,
  key: String(p.seatId),
  payload: p,
});

export const seatReleased = (p: SeatReleasedPayload): DomainEvent<SeatReleasedPayload> => ({
  topic: BookingTopics.seatReleased,
  key: String(p.seatId),
  payload: p,
});

export const bookingCancelled = (p: BookingCancelledPayload): DomainEvent<BookingCancelledPayload> => ({
  topic: BookingTopics.bookingCancelled,
  key: String(p.bookingId),
  payload: p,
});

export const bookingStatus = (
  topic:
    | typeof BookingTopics.bookingPaymentPending
    | typeof BookingTopics.bookingPaid
    | typeof BookingTopics.bookingRefunded,
  p: BookingStatusPayload,
): DomainEvent<BookingStatusPayload> => ({ topic, key: String(p.bookingId), payload: p });

export const bookingsReset = (lastBookingId: number): DomainEvent<{ lastBookingId: number; at: string }> => ({
  topic: BookingTopics.bookingsReset,
  payload: { lastBookingId, at: new Date().toISOString() },
});
