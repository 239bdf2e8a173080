/**
 * TRUST_PROXY as Fastify's `trustProxy`: which peers' X-Forwarded-For and X-Forwarded-Proto are believed,
 * so `request.ip` is the client's address behind a load balancer and not the balancer's.
 * '' → false (the TCP peer is the client); '2' → the nearest two hops; otherwise addresses, CIDRs and
 * proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`), comma-separated.
 */
export function trustProxyOf(
  value: string,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  const trimmed = value.trim();
  if (trimmed === '') return false;
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    return (_address, hop) => hop < hops;
  }
  return trimmed
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
