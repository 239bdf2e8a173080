import { AppError } from '../platform/http/errors.ts';

/** Every way a tickets request can fail: a stable code and its HTTP status (docs/files.md, "E-tickets"). */
export const TicketErrorCodes = {
  TICKETS_BOOKING_NOT_PAID: 404,
  TICKETS_NOT_READY: 404,
  TICKETS_FILE_UNAVAILABLE: 503,
} as const;

export type TicketErrorCode = keyof typeof TicketErrorCodes;

function fail(code: TicketErrorCode, message: string): AppError {
  return new AppError(code, TicketErrorCodes[code], message);
}

export const TicketErrors = {
  notPaid: (bookingId: number, status: string) =>
    fail('TICKETS_BOOKING_NOT_PAID', `booking ${bookingId} is ${status}: only a paid booking has tickets`),
  notReady: (bookingId: number) =>
    fail('TICKETS_NOT_READY', `the tickets of booking ${bookingId} are being made: try again in a moment`),
  fileUnavailable: (bookingId: number) =>
    fail('TICKETS_FILE_UNAVAILABLE', `the tickets PDF of booking ${bookingId} cannot be read right now`),
};
