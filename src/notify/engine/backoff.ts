/**
 * The delay before retry number `attempt` (1-based): exponential from `baseMs`, capped at `maxMs`, with full
 * jitter (a random point in [0, cap]) so retries of a failed batch spread out instead of returning together.
 * A provider's Retry-After is a floor.
 */
export function retryDelayMs(
  attempt: number,
  options: { baseMs: number; maxMs: number; retryAfterMs?: number | undefined },
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(cap / 2 + (random() * cap) / 2);
  return Math.max(jittered, Math.min(options.retryAfterMs ?? 0, options.maxMs));
}
