/**
 * A small key-value cache for hot, losable state: cached query results, short-lived gates and counters.
 * The durable truth lives in PostgreSQL; anything here may vanish (expiry, eviction, a Redis restart),
 * so callers must treat a miss as "recompute or re-check", never as an error.
 *
 * Semantics shared by every implementation (the contract test in test/platform/cache.test.ts holds them):
 * - Values are strings; callers JSON-encode. A missing or expired key reads as `undefined`.
 * - `ttlMs` is a positive number of milliseconds (fractions round up). Past it the key is gone for every
 *   operation: reads miss, `setIfAbsent` succeeds, `increment` starts again from zero. No TTL: the key lives
 *   until deleted or evicted under memory pressure.
 * - Keys are namespaced by the implementation (a prefix in Redis), so callers pass short logical keys.
 * - Single-key operations are atomic, also across processes sharing one Redis.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  /** Batch read (one round trip): the values in the order of `keys`, `undefined` for misses. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Stores `value`, replacing any value and TTL the key had; without `ttlMs` the key does not expire. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Stores `value` only if the key is absent (SET NX PX): true for exactly one of concurrent callers. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** True if the key existed. */
  delete(key: string): Promise<boolean>;
  /** Deletes only while the key still holds `value` (atomic compare-and-delete): only the owner releases. */
  deleteIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * Adds the integer `by` to the integer at `key` (absent: 0) and returns the new value. `ttlMs` applies
   * only when this call creates the key, so a fixed window is not extended by later hits. Rejects if the
   * key holds a non-integer.
   */
  increment(key: string, by: number, ttlMs?: number): Promise<number>;
  /** Resolves when the backend answers; for readiness probes. */
  ping(): Promise<void>;
  /** Releases timers and connections. The cache must not be used afterwards. */
  close(): Promise<void>;
}
