import type { Cache } from './cache.ts';

/**
 * A family of cache entries invalidated all at once, e.g. every cached search when any event changes.
 * Entry keys embed the family's current version; `invalidate()` bumps the version, so old entries are
 * simply never read again and expire on their own TTL: no key scan, O(1) however many entries exist.
 *
 * Read `key()` *before* reading the data being cached: a result computed from older data is then stored
 * under the older version, which nobody reads after the bump.
 */
export class CacheNamespace {
  readonly #cache: Cache;
  readonly #name: string;
  readonly #versionKey: string;
  readonly #versionTtlMs: number;

  constructor(cache: Cache, name: string, options: { versionTtlMs?: number } = {}) {
    this.#cache = cache;
    this.#name = name;
    this.#versionKey = `nsv:${name}`;
    this.#versionTtlMs = options.versionTtlMs ?? 86_400_000;
  }

  /** The cache key of `suffix` under the namespace's current version. */
  async key(suffix: string): Promise<string> {
    return `ns:${this.#name}:${await this.#version()}:${suffix}`;
  }

  async invalidate(): Promise<void> {
    if (await this.#seed()) return;
    await this.#cache.increment(this.#versionKey, 1);
  }

  async #version(): Promise<string> {
    const current = await this.#cache.get(this.#versionKey);
    if (current !== undefined) return current;
    return (await this.#seed()) ?? (await this.#cache.get(this.#versionKey)) ?? '0';
  }

  /**
   * Starts a missing version at the current time rather than 0: if the version key is evicted or expires
   * while old entries live on, a restart from 0 could land on an old version and serve stale results.
   * Returns the seeded version, or undefined if another caller got there first.
   */
  async #seed(): Promise<string | undefined> {
    const seed = String(Date.now());
    return (await this.#cache.setIfAbsent(this.#versionKey, seed, this.#versionTtlMs)) ? seed : undefined;
  }
}
