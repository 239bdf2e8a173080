import type { Platform } from '../../platform/context.ts';

/**
 * Failed token requests counted per client_id and per client address in the shared cache (Redis when
 * configured, so every API process sees the same counts), in a fixed window of AUTH_FAILURE_WINDOW_SECONDS
 * from the first failure. Past IDENTITY_TOKEN_MAX_FAILURES_PER_CLIENT / _PER_ADDRESS every request of that
 * client or address is refused (429) until the window ends, even with the right secret, so guessing stays
 * slow. The window's start is kept beside the count, so Retry-After says when it really ends.
 */
export function tokenThrottle(platform: Platform) {
  const { cache, config } = platform;
  const windowMs = config.AUTH_FAILURE_WINDOW_SECONDS * 1000;
  const keys = (clientId: string, address: string) => [
    `token:fail:client:${clientId}`,
    `token:fail:address:${address}`,
  ];

  return {
    /** Seconds until the caller may try again, or undefined when it may now. */
    async blockedFor(clientId: string, address: string): Promise<number | undefined> {
      const [client, byAddress] = keys(clientId, address);
      const [clientCount, addressCount, clientSince, addressSince] = await cache.getMany([
        client!,
        byAddress!,
        `${client}:since`,
        `${byAddress}:since`,
      ]);
      const now = Date.now();
      const waits: number[] = [];
      if (Number(clientCount ?? 0) >= config.IDENTITY_TOKEN_MAX_FAILURES_PER_CLIENT)
        waits.push(remaining(clientSince));
      if (Number(addressCount ?? 0) >= config.IDENTITY_TOKEN_MAX_FAILURES_PER_ADDRESS)
        waits.push(remaining(addressSince));
      return waits.length > 0 ? Math.max(...waits) : undefined;

      function remaining(since: string | undefined): number {
        const started = Number(since);
        if (!Number.isFinite(started)) return config.AUTH_FAILURE_WINDOW_SECONDS;
        return Math.max(1, Math.ceil((started + windowMs - now) / 1000));
      }
    },

    async recordFailure(clientId: string, address: string): Promise<void> {
      const now = String(Date.now());
      await Promise.all(
        keys(clientId, address).flatMap((key) => [
          cache.increment(key, 1, windowMs),
          cache.setIfAbsent(`${key}:since`, now, windowMs),
        ]),
      );
    },
  };
}
