import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Tracking links of an email (FR-006): the open pixel, click redirects and the unsubscribe link, each a
 * signed token so nobody can forge an open, unsubscribe someone else, or use the click route as an open
 * redirect (the target URL is inside the signed token: only URLs that were in the email redirect).
 *
 * Token: base64url(payload ‖ MAC), payload = version byte, kind byte ('o' open, 'c' click, 'u' unsubscribe),
 * delivery id (LEB128 varint), created_on as days since 1970-01-01 (varint), and for a click the target URL
 * (UTF-8, the rest of the payload); MAC = the first 16 bytes of HMAC-SHA256(tracking key, payload).
 */
export interface EmailTracking {
  html: string;
  /** RFC 2369 List-Unsubscribe header value, e.g. `<https://…/u/TOKEN>`. */
  listUnsubscribe: string;
  /** RFC 8058: `List-Unsubscribe=One-Click`. */
  listUnsubscribePost: string;
}

export interface TrackedDelivery {
  id: number;
  createdOn: string;
  channel: 'email' | 'push' | 'sms';
  category: string;
  recipient: string;
}

export type TokenKind = 'open' | 'click' | 'unsubscribe';

export interface TrackingToken {
  kind: TokenKind;
  deliveryId: number;
  /** UTC day (YYYY-MM-DD): the delivery's partition. */
  createdOn: string;
  /** The link's target, for a click. */
  url?: string;
}

const VERSION = 1;
const MAC_BYTES = 16;
const DAY_MS = 86_400_000;
/** Far above any real link or id; keeps a hostile token from costing more than a hash of a few KB. */
const MAX_TOKEN_CHARS = 8192;
const KIND_BYTE: Record<TokenKind, number> = { open: 0x6f, click: 0x63, unsubscribe: 0x75 };
const BYTE_KIND = new Map<number, TokenKind>(
  Object.entries(KIND_BYTE).map(([kind, byte]) => [byte, kind as TokenKind]),
);

export const TRACKING_PATHS = {
  open: '/api/notify/t/o/',
  click: '/api/notify/t/c/',
  unsubscribe: '/api/notify/unsubscribe/',
} as const;

function mac(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
}

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Buffer, start: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = start; i < bytes.length && i < start + 8; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) return null;
    if (byte < 0x80) return { value, next: i + 1 };
    scale *= 0x80;
  }
  return null;
}

function dayNumber(createdOn: string): number {
  const ms = Date.parse(`${createdOn}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(createdOn) || Number.isNaN(ms)) throw new Error(`not a day: ${createdOn}`);
  return ms / DAY_MS;
}

export function signToken(key: Buffer, token: TrackingToken): string {
  if (!Number.isSafeInteger(token.deliveryId) || token.deliveryId < 1)
    throw new Error(`not a delivery id: ${token.deliveryId}`);
  const head: number[] = [VERSION, KIND_BYTE[token.kind]];
  pushVarint(head, token.deliveryId);
  pushVarint(head, dayNumber(token.createdOn));
  const payload = Buffer.concat([
    Buffer.from(head),
    token.kind === 'click' ? Buffer.from(token.url ?? '', 'utf8') : Buffer.alloc(0),
  ]);
  return Buffer.concat([payload, mac(key, payload)]).toString('base64url');
}

/** The token's contents when its MAC is right, else null (forged, altered, truncated or not a token). */
export function verifyToken(key: Buffer, token: string, expected?: TokenKind): TrackingToken | null {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < 4 + MAC_BYTES) return null;
  const payload = bytes.subarray(0, bytes.length - MAC_BYTES);
  if (!timingSafeEqual(bytes.subarray(bytes.length - MAC_BYTES), mac(key, payload))) return null;
  if (payload[0] !== VERSION) return null;
  const kind = BYTE_KIND.get(payload[1]!);
  if (!kind || (expected && kind !== expected)) return null;
  const id = readVarint(payload, 2);
  if (!id || id.value < 1) return null;
  const day = readVarint(payload, id.next);
  if (!day) return null;
  const createdOn = new Date(day.value * DAY_MS).toISOString().slice(0, 10);
  const rest = payload.subarray(day.next);
  if (kind === 'click') {
    return { kind, deliveryId: id.value, createdOn, url: rest.toString('utf8') };
  }
  if (rest.length !== 0) return null;
  return { kind, deliveryId: id.value, createdOn };
}

export function trackingUrl(key: Buffer, baseUrl: string, token: TrackingToken): string {
  return `${baseUrl.replace(/\/+$/, '')}${TRACKING_PATHS[token.kind]}${signToken(key, token)}`;
}

// An <a …> start tag; attribute values may hold '>' inside quotes.
const ANCHOR_TAG = /<a\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi;
const HREF_ATTR = /(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/i;
const BODY_END = /<\/body\s*>/gi;

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The attribute's value as a browser reads it (the entities a URL can hold). */
function decodeAttribute(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Adds the open pixel, rewrites http(s) links to click redirects and makes the unsubscribe headers. Links
 * that are not http(s) (mailto:, tel:, #anchors) and links to this platform's own tracking and unsubscribe
 * paths are left as they are. Pure: the same input gives the same output.
 */
export function trackEmail(
  key: Buffer,
  baseUrl: string,
  delivery: TrackedDelivery,
  html: string,
): EmailTracking {
  const base = baseUrl.replace(/\/+$/, '');
  const ref = { deliveryId: delivery.id, createdOn: delivery.createdOn };
  const own = [TRACKING_PATHS.open, TRACKING_PATHS.click, TRACKING_PATHS.unsubscribe].map((p) => base + p);
  const rewritten = html.replace(ANCHOR_TAG, (tag) => {
    const match = HREF_ATTR.exec(tag);
    if (!match) return tag;
    const raw = match[2] ?? match[3] ?? match[4] ?? '';
    const url = decodeAttribute(raw).trim();
    if (!/^https?:\/\//i.test(url) || own.some((prefix) => url.startsWith(prefix))) return tag;
    const tracked = trackingUrl(key, base, { kind: 'click', ...ref, url });
    return `${tag.slice(0, match.index)}${match[1]}"${escapeAttribute(tracked)}"${tag.slice(match.index + match[0].length)}`;
  });
  const pixel = `<img src="${trackingUrl(key, base, { kind: 'open', ...ref })}" width="1" height="1" alt="">`;
  // Before the last </body>: a quoted "</body>" earlier in the text must not take it.
  let last = -1;
  for (const m of rewritten.matchAll(BODY_END)) last = m.index;
  const withPixel =
    last >= 0 ? `${rewritten.slice(0, last)}${pixel}${rewritten.slice(last)}` : `${rewritten}${pixel}`;
  return {
    html: withPixel,
    listUnsubscribe: `<${trackingUrl(key, base, { kind: 'unsubscribe', ...ref })}>`,
    listUnsubscribePost: 'List-Unsubscribe=One-Click',
  };
}
