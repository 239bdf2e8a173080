import { createHash } from 'node:crypto';

/**
 * Request tokens: SHA-256 (lowercase hex) of field values concatenated with no separators, in the
 * order the gateway specifies per call. Amounts are written as decimal integers (minor units).
 */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface MerchantCredentials {
  teamSlug: string;
  password: string;
}

/** init: Amount + Currency + OrderId + Password + TeamSlug */
export function initToken(m: MerchantCredentials, amount: number, currency: string, orderId: string): string {
  return sha256Hex(`${amount}${currency}${orderId}${m.password}${m.teamSlug}`);
}

/** check: PaymentId + Password + TeamSlug, or OrderId + Password + TeamSlug when checking by order. */
export function checkToken(m: MerchantCredentials, paymentIdOrOrderId: string): string {
  return sha256Hex(`${paymentIdOrOrderId}${m.password}${m.teamSlug}`);
}

/** confirm: Amount + PaymentId + TeamSlug + Password */
export function confirmToken(m: MerchantCredentials, amount: number, paymentId: string): string {
  return sha256Hex(`${amount}${paymentId}${m.teamSlug}${m.password}`);
}

/** cancel: PaymentId + TeamSlug + Password */
export function cancelToken(m: MerchantCredentials, paymentId: string): string {
  return sha256Hex(`${paymentId}${m.teamSlug}${m.password}`);
}
