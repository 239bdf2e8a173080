/**
 * Argument checks shared by the implementations, so both reject the same inputs the same way
 * (Redis would otherwise answer "ERR invalid expire time" where memory silently accepted).
 */

/** A TTL in whole milliseconds, rounded up so a tiny positive TTL never becomes 0 (= invalid). */
export function ttlMilliseconds(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`cache ttlMs must be a positive finite number, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}

export function incrementAmount(by: number): number {
  if (!Number.isSafeInteger(by)) throw new RangeError(`cache increment must be a safe integer, got ${by}`);
  return by;
}
