import { AppError } from '../platform/http/errors.ts';

/**
 * Every way a booking request can fail: a stable code and its HTTP status, in one table (docs/booking.md
 * lists them). 419 is the Biletter API's "could not add or release the seat" (specs/README.md).
 */
export const BookingErrorCodes = {
  BOOKING_EVENT_NOT_FOUND: 404,
  BOOKING_NOT_FOUND: 404,
  BOOKING_SEAT_NOT_FOUND: 404,
  BOOKING_FORBIDDEN: 403,
  BOOKING_SEAT_FORBIDDEN: 403,
  BOOKING_RESET_DISABLED: 403,
  BOOKING_SALES_CLOSED: 409,
  BOOKING_NOT_CANCELLABLE: 409,
  BOOKING_NOT_PAYABLE: 409,
  BOOKING_EMPTY: 409,
  BOOKING_REFUND_CLOSED: 409,
  BOOKING_SEAT_TAKEN: 419,
  BOOKING_HOLD_LIMIT: 419,
  BOOKING_NOT_OPEN: 419,
  BOOKING_SEAT_NOT_HELD: 419,
  BOOKING_SEAT_LOCKED: 419,
  BOOKING_BUSY: 503,
} as const;

export type BookingErrorCode = keyof typeof BookingErrorCodes;

function fail(code: BookingErrorCode, message: string, details?: unknown): AppError {
  return new AppError(code, BookingErrorCodes[code], message, details);
}

export const BookingErrors = {
  eventNotFound: (eventId: number) => fail('BOOKING_EVENT_NOT_FOUND', `event ${eventId} does not exist`),
  salesClosed: (eventId: number) =>
    fail('BOOKING_SALES_CLOSED', `event ${eventId} has started or has no seats on sale: it cannot be booked`),
  bookingNotFound: (bookingId: number) => fail('BOOKING_NOT_FOUND', `booking ${bookingId} does not exist`),
  forbidden: (bookingId: number) => fail('BOOKING_FORBIDDEN', `booking ${bookingId} belongs to another user`),
  seatNotFound: (seatId: number) => fail('BOOKING_SEAT_NOT_FOUND', `seat ${seatId} does not exist`),
  seatNotInEvent: (seatId: number, eventId: number) =>
    fail('BOOKING_SEAT_NOT_FOUND', `seat ${seatId} is not a seat of event ${eventId}, the booking's event`),
  seatTaken: (seatId: number) =>
    fail('BOOKING_SEAT_TAKEN', `seat ${seatId} is held or sold: choose another seat`),
  holdLimit: (limit: number, eventId: number) =>
    fail(
      'BOOKING_HOLD_LIMIT',
      `you already hold or bought ${limit} seats of event ${eventId}, the most one user may have`,
      { limit },
    ),
  notOpen: (bookingId: number, status: string) =>
    fail('BOOKING_NOT_OPEN', `booking ${bookingId} is ${status}: seats can be added only to a new booking`, {
      status,
    }),
  seatNotHeld: (seatId: number) =>
    fail('BOOKING_SEAT_NOT_HELD', `seat ${seatId} is not held by any booking (a hold may have expired)`),
  seatForbidden: (seatId: number) => fail('BOOKING_SEAT_FORBIDDEN', `seat ${seatId} is held by another user`),
  seatLocked: (seatId: number, status: string) =>
    fail(
      'BOOKING_SEAT_LOCKED',
      `seat ${seatId} belongs to a booking that is ${status}: it can no longer be released`,
      { status },
    ),
  notCancellable: (bookingId: number, status: string) =>
    fail(
      'BOOKING_NOT_CANCELLABLE',
      `booking ${bookingId} is ${status}: a paid booking is refunded, not cancelled`,
      { status },
    ),
  notPayable: (bookingId: number, status: string, wanted: string) =>
    fail('BOOKING_NOT_PAYABLE', `booking ${bookingId} is ${status}; this step needs it ${wanted}`, {
      status,
    }),
  empty: (bookingId: number) => fail('BOOKING_EMPTY', `booking ${bookingId} holds no seats`),
  refundClosed: (bookingId: number, hours: number) =>
    fail(
      'BOOKING_REFUND_CLOSED',
      `booking ${bookingId} can no longer be refunded: refunds close ${hours} hours before the event starts`,
    ),
  resetDisabled: () =>
    fail(
      'BOOKING_RESET_DISABLED',
      'POST /api/reset is disabled in production; set BOOKING_RESET_ENABLED=true to allow it',
    ),
  busy: () => fail('BOOKING_BUSY', 'the booking service is busy (lock wait timed out); try again'),
};
