import { performance } from 'node:perf_hooks';
import { incrementAmount, ttlMilliseconds } from './arguments.ts';
import type { Cache } from './cache.ts';

export interface MemoryCacheOptions {
  /** Past this many entries the least recently used one is evicted. */
  maxEntries?: number;
  /** How often expired entries nobody reads again are dropped. */
  sweepIntervalMs?: number;
}

interface Entry {
  value: string;
  /** On the monotonic clock, so wall-clock jumps neither expire nor revive entries. */
  expiresAt: number;
  /** `#inserts` when the entry was last (re)inserted: its distance from the newest end of the order. */
  insertedAt: number;
}

const INTEGER = /^-?\d+$/;

/**
 * The in-process cache: the default when no Redis is configured, and only correct for a single process.
 * A Map keeps insertion order, so re-inserting on access makes its first key the least recently used:
 * every operation is O(1). A read re-inserts only an entry that is not among the newest half of the
 * order: an entry read at least once every `maxEntries / 2` insertions is never evicted, and a hot key
 * costs one lookup instead of a delete and an insert on each read (a few % of the server's CPU under
 * load). Expired entries are dropped when read and by a periodic sweep.
 */
export class MemoryCache implements Cache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #sweeper: NodeJS.Timeout;
  /** Insertions so far, for each entry's place in the order. */
  #inserts = 0;

  constructor(options: MemoryCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 30_000);
    // A cache is never a reason to keep the process alive.
    this.#sweeper.unref();
  }

  /** Live and not-yet-swept expired entries; for tests and metrics. */
  get size(): number {
    return this.#entries.size;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#live(key)?.value;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((key) => this.#live(key)?.value);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#store(key, value, ttlMs === undefined ? Number.POSITIVE_INFINITY : expiry(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const expiresAt = expiry(ttlMs);
    if (this.#live(key)) return false;
    this.#store(key, value, expiresAt);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.#live(key) !== undefined && this.#entries.delete(key);
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return this.#live(key)?.value === value && this.#entries.delete(key);
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    incrementAmount(by);
    const entry = this.#live(key);
    if (entry === undefined) {
      this.#store(key, String(by), ttlMs === undefined ? Number.POSITIVE_INFINITY : expiry(ttlMs));
      return by;
    }
    const current = INTEGER.test(entry.value) ? Number(entry.value) : Number.NaN;
    const next = current + by;
    // Same refusal as Redis INCRBY: the value must be an integer and the sum must stay exact.
    if (!Number.isSafeInteger(current) || !Number.isSafeInteger(next)) {
      throw new Error(`cache value at ${key} is not an integer or out of range`);
    }
    entry.value = String(next); // keeps its expiry: a counter's window is fixed when it is created
    return next;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#entries.clear();
  }

  /** The entry if present and unexpired, marked most recently used; an expired one is dropped. */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= performance.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    if (this.#inserts - entry.insertedAt >= this.#maxEntries / 2) {
      this.#entries.delete(key);
      entry.insertedAt = this.#inserts++;
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #store(key: string, value: string, expiresAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt, insertedAt: this.#inserts++ });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}

function expiry(ttlMs: number): number {
  return performance.now() + ttlMilliseconds(ttlMs);
}
