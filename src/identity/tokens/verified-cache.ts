/**
 * Verified tokens of this process, so a hot route pays one RSA verify per token, not per request: a bounded
 * Map from a hash of the token string to what the verification found, the oldest insert evicted first. An
 * entry never outlives the token's `exp` (plus the clock tolerance verification allows): lookups past it
 * miss and drop the entry.
 */
export class VerifiedTokenCache<T extends { expiresAtMs: number; kid: string }> {
  readonly #entries = new Map<string, T>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now >= entry.expiresAtMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: T): void {
    // Recency only changes on insert: a hit costs one Map lookup, and a hot token inserted long ago is
    // re-verified after being evicted, at most once per maxEntries new tokens.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** After a key was withdrawn: forget every token it signed. */
  retain(keep: (entry: T) => boolean): void {
    for (const [key, entry] of this.#entries) if (!keep(entry)) this.#entries.delete(key);
  }
}
