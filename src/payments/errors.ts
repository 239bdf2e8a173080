import { AppError } from '../platform/http/errors.ts';

/** How payment requests fail, beyond the booking's and the gateway client's own errors. */
export const PaymentErrors = {
  alreadyPaid: (bookingId: number, state: string) =>
    new AppError('PAYMENT_ALREADY_PAID', 409, `booking ${bookingId} is paid already (payment ${state})`, {
      state,
    }),
  ended: (bookingId: number, state: string, reason: string | null) =>
    new AppError(
      'PAYMENT_ENDED',
      409,
      `the payment of booking ${bookingId} ended (${state}${reason ? `: ${reason}` : ''}) before it could be used`,
      { state, reason },
    ),
  notFound: (what: string) => new AppError('PAYMENT_NOT_FOUND', 404, `no payment ${what}`),
  initUnknown: (bookingId: number, cause: string) =>
    new AppError(
      'PAYMENT_INIT_UNKNOWN',
      504,
      `the payment gateway did not answer whether it registered the payment of booking ${bookingId} (${cause}); repeat the request: it returns the same payment`,
    ),
  refundUnknown: () =>
    new AppError(
      'PAYMENT_REFUND_PENDING',
      503,
      'the refund is asked for, but the gateway has not answered; the booking stays paid until it confirms the refund',
    ),
  badSignature: () =>
    new AppError(
      'WEBHOOK_BAD_SIGNATURE',
      401,
      'the X-Webhook-Signature header is missing or does not match the body',
    ),
  unknownStatus: (status: string) =>
    new AppError(
      'WEBHOOK_UNKNOWN_STATUS',
      400,
      `webhook status "${status}" is not a payment status of the gateway`,
    ),
};
