import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BookingErrorCodes, BookingErrors } from '../../src/booking/errors.ts';
import { ROOT } from '../helpers/process.ts';

describe('booking error codes', () => {
  it('every code is documented in docs/booking.md, and every factory uses a listed code and status', () => {
    const doc = readFileSync(`${ROOT}docs/booking.md`, 'utf8');
    for (const code of Object.keys(BookingErrorCodes)) expect(doc).toContain(`\`${code}\``);
    const samples = [
      BookingErrors.eventNotFound(1),
      BookingErrors.salesClosed(1),
      BookingErrors.bookingNotFound(1),
      BookingErrors.forbidden(1),
      BookingErrors.seatNotFound(1),
      BookingErrors.seatNotInEvent(1, 2),
      BookingErrors.seatTaken(1),
      BookingErrors.holdLimit(10, 1),
      BookingErrors.notOpen(1, 'cancelled'),
      BookingErrors.seatNotHeld(1),
      BookingErrors.seatForbidden(1),
      BookingErrors.seatLocked(1, 'paid'),
      BookingErrors.notCancellable(1, 'paid'),
      BookingErrors.notPayable(1, 'paid', 'created'),
      BookingErrors.empty(1),
      BookingErrors.refundClosed(1, 12),
      BookingErrors.resetDisabled(),
      BookingErrors.busy(),
    ];
    expect(new Set(samples.map((e) => e.code))).toEqual(new Set(Object.keys(BookingErrorCodes)));
    for (const error of samples) {
      expect(error.statusCode).toBe(BookingErrorCodes[error.code as keyof typeof BookingErrorCodes]);
    }
  });
});
