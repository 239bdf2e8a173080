import type { Tx } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import { cancelLockedBooking } from './cancellation.ts';
import { BookingErrors } from './errors.ts';
import * as events from './events.ts';
import { addDecimals } from './service.ts';
import * as store from './store.ts';

/**
 * The booking transitions a payment drives, for the payments module to call inside its own transaction (so a
 * payment record and the booking's state change commit together). Each locks the booking row first (bookings
 * before seats, as everywhere), is idempotent when the booking is already in the target state, and announces
 * the change in the outbox.
 *
 *   created ──beginPayment──▶ pending_payment ──securePayment, confirmPayment──▶ paid ──refundBooking──▶ refunded
 *      ▲                            │
 *      └────reopenBooking───────────┤ (the gateway never registered the payment)
 *                                   └──failPayment──▶ cancelled (seats freed)
 */

export interface PaymentSubject {
  bookingId: number;
  eventId: number;
  userId: number;
  seatIds: number[];
  /** Sum of the seats' prices (taken when each seat was selected), a decimal string. */
  amount: string;
}

async function locked(tx: Tx, bookingId: number): Promise<store.BookingRow> {
  const booking = await store.lockBooking(tx, bookingId, 'update');
  if (!booking) throw BookingErrors.bookingNotFound(bookingId);
  return booking;
}

async function subject(tx: Tx, booking: store.BookingRow): Promise<PaymentSubject> {
  const seats = await store.lockLiveBookingSeats(tx, booking.id);
  return {
    bookingId: booking.id,
    eventId: booking.eventId,
    userId: booking.userId,
    seatIds: seats.map((s) => Number(s.seat_id)),
    amount: addDecimals(seats.map((s) => s.price)),
  };
}

/**
 * created → pending_payment: the booking's seats stop expiring (`holdUntil` null) or are held until
 * `holdUntil` (the payment's own deadline). Refused for a booking without live seats.
 */
export async function beginPayment(
  tx: Tx,
  bookingId: number,
  holdUntil: Date | null,
): Promise<PaymentSubject> {
  const booking = await locked(tx, bookingId);
  if (booking.status === 'pending_payment') return subject(tx, booking);
  if (booking.status !== 'created') throw BookingErrors.notPayable(bookingId, booking.status, 'created');
  const paying = await subject(tx, booking);
  if (paying.seatIds.length === 0) throw BookingErrors.empty(bookingId);
  await store.setHoldsUntil(tx, bookingId, holdUntil);
  await store.setBookingStatus(tx, bookingId, 'pending_payment');
  await publish(tx, events.bookingStatus(events.BookingTopics.bookingPaymentPending, paying));
  return paying;
}

/**
 * pending_payment → created: the payment never started (the gateway refused it, or never registered it), so
 * the buyer may try again. The booking's live seats are held until `holdUntil` (a fresh hold).
 */
export async function reopenBooking(tx: Tx, bookingId: number, holdUntil: Date): Promise<boolean> {
  const booking = await locked(tx, bookingId);
  if (booking.status !== 'pending_payment') return false;
  await store.setHoldsUntil(tx, bookingId, holdUntil);
  await store.setBookingStatus(tx, bookingId, 'created');
  return true;
}

/** Why a booking cannot take the money of a payment the gateway authorized. */
export type SecureRefusal = 'not_pending_payment' | 'seats_lost' | 'amount_changed';

/**
 * The gateway authorized a payment of `expected` (the seats and sum the payment was made for): if the booking
 * is still pending payment with exactly those seats live, they stop expiring (so nobody can take them while
 * the money is captured) and the booking's subject is returned. Otherwise the payment must be given back.
 */
export async function securePayment(
  tx: Tx,
  bookingId: number,
  expected: { seatCount: number; amount: string },
): Promise<{ ok: true; subject: PaymentSubject } | { ok: false; reason: SecureRefusal; status: string }> {
  const booking = await store.lockBooking(tx, bookingId, 'update');
  if (booking?.status !== 'pending_payment') {
    return { ok: false, reason: 'not_pending_payment', status: booking?.status ?? 'deleted' };
  }
  const live = await subject(tx, booking);
  if (live.seatIds.length !== expected.seatCount) {
    return { ok: false, reason: 'seats_lost', status: booking.status };
  }
  if (live.amount !== expected.amount) return { ok: false, reason: 'amount_changed', status: booking.status };
  await store.setHoldsUntil(tx, bookingId, null);
  return { ok: true, subject: live };
}

/** pending_payment → paid: the seats are sold (no expiry any more). */
export async function confirmPayment(tx: Tx, bookingId: number): Promise<PaymentSubject> {
  const booking = await locked(tx, bookingId);
  if (booking.status === 'paid') return subject(tx, booking);
  if (booking.status !== 'pending_payment') {
    throw BookingErrors.notPayable(bookingId, booking.status, 'pending_payment');
  }
  await store.markSeatsSold(tx, bookingId);
  await store.setBookingStatus(tx, bookingId, 'paid');
  const paid = await subject(tx, booking);
  await publish(tx, events.bookingStatus(events.BookingTopics.bookingPaid, paid));
  return paid;
}

/** pending_payment → cancelled: the payment failed, the seats go back on sale. */
export async function failPayment(tx: Tx, bookingId: number): Promise<number[]> {
  const booking = await locked(tx, bookingId);
  if (booking.status === 'cancelled') return [];
  if (booking.status !== 'pending_payment') {
    throw BookingErrors.notPayable(bookingId, booking.status, 'pending_payment');
  }
  return cancelLockedBooking(tx, booking, 'payment_failed');
}

/** Refunds close this long before the event starts (specs/hackload-data.md). */
export const REFUND_CLOSES_HOURS = 12;

/** Whether a refund asked for at `at` is in time for an event starting at `eventStartsAt`. */
export function refundOpen(eventStartsAt: Date, at: Date): boolean {
  return eventStartsAt.getTime() - at.getTime() >= REFUND_CLOSES_HOURS * 3_600_000;
}

/**
 * paid → refunded, up to 12 hours before the event starts (judged at `requestedAt`, when the buyer asked):
 * the seats go back on sale. `eventStartsAt` null skips the rule (the gateway refunded on its own).
 */
export async function refundBooking(
  tx: Tx,
  bookingId: number,
  eventStartsAt: Date | null,
  requestedAt: Date = new Date(),
): Promise<PaymentSubject> {
  const booking = await locked(tx, bookingId);
  if (booking.status === 'refunded') {
    return { bookingId, eventId: booking.eventId, userId: booking.userId, seatIds: [], amount: '0.00' };
  }
  if (booking.status !== 'paid') throw BookingErrors.notPayable(bookingId, booking.status, 'paid');
  if (eventStartsAt && !refundOpen(eventStartsAt, requestedAt)) {
    throw BookingErrors.refundClosed(bookingId, REFUND_CLOSES_HOURS);
  }
  const refunded = await subject(tx, booking);
  await store.deleteBookingSeats(tx, bookingId);
  await store.setBookingStatus(tx, bookingId, 'refunded');
  await publish(tx, events.bookingStatus(events.BookingTopics.bookingRefunded, refunded));
  return refunded;
}
