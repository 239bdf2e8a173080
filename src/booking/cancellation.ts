import type { Tx } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import { type BookingCancelledPayload, bookingCancelled } from './events.ts';
import * as store from './store.ts';

/**
 * Frees a booking's seats, marks it cancelled and announces it, in the caller's transaction. The
 * caller has locked the booking row and decided the transition is allowed. Returns the freed seats.
 */
export async function cancelLockedBooking(
  tx: Tx,
  booking: store.BookingRow,
  reason: BookingCancelledPayload['reason'],
): Promise<number[]> {
  const seatIds = await store.deleteBookingSeats(tx, booking.id);
  await store.setBookingStatus(tx, booking.id, 'cancelled');
  await publish(
    tx,
    bookingCancelled({
      bookingId: booking.id,
      eventId: booking.eventId,
      userId: booking.userId,
      seatIds,
      reason,
    }),
  );
  return seatIds;
}
