import { type DropFailure, Failures } from './errors.ts';

/**
 * Query-string parsing for the contest API, shared by the contest port and the Fastify routes so both
 * answer (and record) the same input the same way. Hand-written because it runs on every request of the
 * hot path: one pass over the string, no URLSearchParams, no regular expressions.
 */

export type CheckoutQuery =
  | { ok: true; user: string; item: number }
  /** What could be read is kept, for the attempt record. */
  | { ok: false; failure: DropFailure; user: string | null; item: number | null };

export type PurchaseQuery = { ok: true; code: string } | { ok: false; failure: DropFailure };

const MAX_INT64 = '9223372036854775807';

/**
 * A user id as the canonical decimal string of a non-negative 64-bit integer (`007` → `7`, so leading
 * zeros cannot dodge the per-user limit), or null. Kept as a string: JavaScript numbers lose precision
 * above 2^53, and the id is only compared and stored (as PostgreSQL bigint).
 */
export function parseUserId(raw: string): string | null {
  const length = raw.length;
  if (length === 0 || length > 64) return null;
  for (let i = 0; i < length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  let start = 0;
  while (start < length - 1 && raw.charCodeAt(start) === 48) start++;
  const digits = start === 0 ? raw : raw.slice(start);
  // Same length: string order is numeric order.
  if (digits.length > 19 || (digits.length === 19 && digits > MAX_INT64)) return null;
  return digits;
}

/** An item id from 0 to `items - 1`, or -1. */
export function parseItemId(raw: string, items: number): number {
  const length = raw.length;
  if (length === 0 || length > 64) return -1;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    value = value * 10 + (c - 48);
    if (value >= items) return -1;
  }
  return value;
}

/** A checkout code in canonical (lower-case) UUID form, or null. */
export function parseCode(raw: string): string | null {
  if (raw.length !== 36) return null;
  let upper = false;
  for (let i = 0; i < 36; i++) {
    const c = raw.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return null; // '-'
    } else if (c >= 65 && c <= 70) {
      upper = true; // 'A'-'F'
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) {
      return null;
    }
  }
  return upper ? raw.toLowerCase() : raw;
}

/** `?user_id=U&id=I` (or `item_id=I`): each key at most once; `id` and `item_id` must agree if both are given. */
export function parseCheckoutQuery(query: string, items: number, badItem: DropFailure): CheckoutQuery {
  let userRaw: string | undefined;
  let idRaw: string | undefined;
  let itemIdRaw: string | undefined;
  let repeated = 0; // bit 1: user_id, bit 2: id or item_id
  let start = 0;
  const length = query.length;
  while (start <= length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    const eq = query.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      const key = query.slice(start, eq);
      if (key === 'user_id') {
        if (userRaw !== undefined) repeated |= 1;
        userRaw = decode(query.slice(eq + 1, end));
      } else if (key === 'id') {
        if (idRaw !== undefined) repeated |= 2;
        idRaw = decode(query.slice(eq + 1, end));
      } else if (key === 'item_id') {
        if (itemIdRaw !== undefined) repeated |= 2;
        itemIdRaw = decode(query.slice(eq + 1, end));
      }
    }
    start = end + 1;
  }
  const user = repeated & 1 || userRaw === undefined ? null : parseUserId(userRaw);
  const itemRaw = idRaw ?? itemIdRaw;
  const ambiguous = repeated & 2 || (idRaw !== undefined && itemIdRaw !== undefined && idRaw !== itemIdRaw);
  const itemValue = ambiguous || itemRaw === undefined ? -1 : parseItemId(itemRaw, items);
  const item = itemValue === -1 ? null : itemValue;
  if (user === null) return { ok: false, failure: Failures.badUserId, user, item };
  if (item === null) return { ok: false, failure: badItem, user, item };
  return { ok: true, user, item };
}

/** `?code=C`, given once. */
export function parsePurchaseQuery(query: string): PurchaseQuery {
  let raw: string | undefined;
  let twice = false;
  let start = 0;
  const length = query.length;
  while (start <= length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    const eq = query.indexOf('=', start);
    if (eq !== -1 && eq < end && eq - start === 4 && query.startsWith('code', start)) {
      if (raw !== undefined) twice = true;
      raw = decode(query.slice(eq + 1, end));
    }
    start = end + 1;
  }
  const code = twice || raw === undefined ? null : parseCode(raw);
  return code === null ? { ok: false, failure: Failures.badCode } : { ok: true, code };
}

/** Percent-decoding, only when there is something to decode; a malformed escape yields '' (invalid). */
function decode(value: string): string {
  if (value.indexOf('%') === -1) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return '';
  }
}
