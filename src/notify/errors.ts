import { AppError } from '../platform/http/errors.ts';

/** Every way a notify request can fail: a stable code and its HTTP status (docs/notify.md). */
export const NotifyErrorCodes = {
  NOTIFY_TEMPLATE_INVALID: 400,
  NOTIFY_TEMPLATE_NOT_FOUND: 404,
  NOTIFY_TEMPLATE_EXISTS: 409,
  NOTIFY_VERSION_NOT_FOUND: 404,
  NOTIFY_CHANNEL_MISSING: 400,
  NOTIFY_VARIABLES_INVALID: 400,
  NOTIFY_CONTACT_NOT_FOUND: 404,
  NOTIFY_CONTACT_INVALID: 400,
  NOTIFY_NO_ADDRESS: 422,
  NOTIFY_SEGMENT_INVALID: 400,
  NOTIFY_NOT_FOUND: 404,
  NOTIFY_IDEMPOTENCY_MISMATCH: 422,
  NOTIFY_SCHEDULE_INVALID: 400,
  NOTIFY_SCHEDULE_NOT_FOUND: 404,
  NOTIFY_CAMPAIGN_NOT_FOUND: 404,
  NOTIFY_CAMPAIGN_STATE: 409,
  NOTIFY_DEAD_LETTER_NOT_FOUND: 404,
  NOTIFY_TOKEN_INVALID: 400,
  NOTIFY_CALLBACK_UNAUTHORIZED: 401,
} as const;

export type NotifyErrorCode = keyof typeof NotifyErrorCodes;

export function notifyError(code: NotifyErrorCode, message: string, details?: unknown): AppError {
  return new AppError(code, NotifyErrorCodes[code], message, details);
}
