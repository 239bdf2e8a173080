import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../platform/http/errors.ts';
import { findUnstorableText } from '../../platform/storable-text.ts';
import { isPaymentStatus, type PaymentStatus } from './types.ts';

/**
 * Status webhooks from the gateway: `POST notificationURL` with a JSON body
 * `{paymentId, status, teamSlug, timestamp, data}` and the headers
 * `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body under the webhook secret>`,
 * `X-Webhook-Event` and `X-Webhook-Delivery`. They arrive at least once, possibly out of order, possibly
 * never: a handler must be idempotent and must not rely on them alone (check the payment too).
 */

export const WEBHOOK_HEADERS = {
  signature: 'x-webhook-signature',
  event: 'x-webhook-event',
  delivery: 'x-webhook-delivery',
} as const;

/** The header value for `rawBody`: `sha256=<lowercase hex>`. */
export function signWebhookBody(rawBody: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/**
 * True when `header` carries a valid signature of exactly these bytes under one of `secrets` (several
 * allow a rotation). Verify the raw body as received, before any JSON parsing. Comparison is timing-safe.
 * The header may list several signatures separated by commas or spaces.
 */
export function verifyWebhookSignature(
  rawBody: string | Uint8Array,
  header: string | string[] | undefined,
  secrets: string | readonly string[],
): boolean {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return false;
  const provided: Buffer[] = [];
  for (const part of value.split(/[\s,]+/)) {
    const match = /^sha256=([0-9a-fA-F]{64})$/.exec(part);
    if (match) provided.push(Buffer.from(match[1]!, 'hex'));
  }
  if (provided.length === 0) return false;
  let valid = false;
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    if (secret === '') continue;
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    // Every candidate is compared, so the time taken does not say which one matched.
    for (const signature of provided) if (timingSafeEqual(signature, expected)) valid = true;
  }
  return valid;
}

export interface PaymentWebhook {
  paymentId: string;
  /** As sent: a lifecycle status (`CONFIRMED`, `AUTHORIZED`…) or `failed` / `completed`. */
  status: string;
  /**
   * The lifecycle status it announces: `completed` is CONFIRMED; `failed` is `data.failure_reason` when
   * that is a status (REJECTED, FAILED, EXPIRED), else FAILED. Null for a status this code does not know.
   */
  paymentStatus: PaymentStatus | null;
  /** Why it failed, for `failed` webhooks. */
  failureReason: string | null;
  teamSlug: string | null;
  timestamp: string | null;
  data: Record<string, unknown>;
}

/** A webhook body that is not the gateway's. Answer it 400: the gateway will not fix it by retrying. */
export class WebhookPayloadError extends AppError {
  override name = 'WebhookPayloadError';
  constructor(message: string) {
    super('PAYMENT_WEBHOOK_INVALID', 400, message);
  }
}

/** Parses a webhook body (raw bytes or text). Throws `WebhookPayloadError` when it is not one. */
export function parseWebhook(rawBody: string | Uint8Array): PaymentWebhook {
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WebhookPayloadError('the webhook body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new WebhookPayloadError('the webhook body is not a JSON object');
  // Kept as bytes for the signature, this body is not seen by the platform's text guard.
  const unstorable = findUnstorableText(body, 'body');
  if (unstorable) throw new WebhookPayloadError(unstorable);
  const b = body as Record<string, unknown>;
  if (typeof b.paymentId !== 'string' || b.paymentId === '')
    throw new WebhookPayloadError('paymentId must be a non-empty string');
  if (typeof b.status !== 'string' || b.status === '')
    throw new WebhookPayloadError('status must be a non-empty string');
  const data =
    typeof b.data === 'object' && b.data !== null && !Array.isArray(b.data)
      ? (b.data as Record<string, unknown>)
      : {};
  const failureReason =
    typeof data.failure_reason === 'string'
      ? data.failure_reason
      : typeof data.reason === 'string'
        ? data.reason
        : null;
  return {
    paymentId: b.paymentId,
    status: b.status,
    paymentStatus: announcedStatus(
      b.status,
      typeof data.failure_reason === 'string' ? data.failure_reason : null,
    ),
    failureReason,
    teamSlug: typeof b.teamSlug === 'string' ? b.teamSlug : null,
    timestamp: typeof b.timestamp === 'string' ? b.timestamp : null,
    data,
  };
}

function announcedStatus(status: string, failureReason: string | null): PaymentStatus | null {
  const upper = status.toUpperCase();
  if (upper === 'COMPLETED') return 'CONFIRMED';
  if (upper === 'FAILED') {
    const reason = failureReason?.toUpperCase();
    return reason === 'REJECTED' || reason === 'EXPIRED' || reason === 'FAILED' ? reason : 'FAILED';
  }
  return isPaymentStatus(upper) ? upper : null;
}
