/**
 * The headers @fastify/helmet sends by default, minus Content-Security-Policy (a JSON API has no
 * use for it; the docs UI sets its own). They never vary, so they are built once and copied onto
 * each reply: measured here, running helmet's per-request middleware cost more than half of the
 * throughput of a route that does nothing else (55k → 23k req/s).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
});
