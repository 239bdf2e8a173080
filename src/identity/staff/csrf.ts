import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../platform/http/errors.ts';

/** Methods that change something: these need the CSRF defence when a cookie authenticates them. */
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isMutating(method: string): boolean {
  return MUTATING.has(method);
}

export const CSRF_HEADER = 'x-csrf-token';

const refuse = (message: string): never => {
  throw new AppError('CSRF_FAILED', 403, message);
};

/**
 * Refuses a request a browser sent from another site (OWASP: "verifying origin with standard headers",
 * "Fetch Metadata headers"). The order is that of Go's net/http CrossOriginProtection:
 * 1. an `Origin` listed in STAFF_TRUSTED_ORIGINS passes;
 * 2. `Sec-Fetch-Site` (every current browser sends it) decides when present: only `same-origin` and
 *    `none` (typed into the address bar) pass;
 * 3. otherwise an `Origin` must name the host the request was sent to (`Host`); `null` never does;
 * 4. neither header: not a browser (curl, a script), so there is no ambient cookie to abuse here;
 *    the synchronizer token still applies to cookie-authenticated requests.
 */
export function checkOrigin(request: FastifyRequest, trusted: ReadonlySet<string>): void {
  const origin = request.headers.origin;
  if (origin !== undefined && trusted.has(origin)) return;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    refuse(`Cross-site request refused (Sec-Fetch-Site: ${site})`);
  }
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || host !== withoutDefaultPort(request.headers.host)) {
    refuse(`Cross-origin request refused (Origin: ${origin.slice(0, 200)})`);
  }
}

/** Browsers leave the scheme's default port out of `Origin` (and usually of `Host`); some clients do not. */
function withoutDefaultPort(host: string | undefined): string | undefined {
  return host?.replace(/:(80|443)$/, '');
}

/** The synchronizer token: the session's own random token, sent back in `X-CSRF-Token`. */
export function checkCsrfToken(request: FastifyRequest, expected: Buffer): void {
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent === '') {
    refuse('This request needs the X-CSRF-Token header (the csrf_token from sign-in or GET /api/admin/me)');
  }
  const actual = Buffer.from(sent as string);
  const wanted = Buffer.from(expected.toString('base64url'));
  if (actual.length !== wanted.length || !timingSafeEqual(actual, wanted)) {
    refuse('The X-CSRF-Token header does not match this session');
  }
}

/** `a,b` → the set of origins, each normalized as browsers send it (`scheme://host[:port]`). */
export function parseTrustedOrigins(list: string): ReadonlySet<string> {
  const origins = new Set<string>();
  for (const item of list.split(',')) {
    const trimmed = item.trim();
    if (trimmed) origins.add(new URL(trimmed).origin);
  }
  return origins;
}
