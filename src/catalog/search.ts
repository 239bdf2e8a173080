import type { Logger } from 'pino';
import { type Cache, CacheNamespace } from '../platform/cache/index.ts';
import type { Sql } from '../platform/db/client.ts';
import { AppError } from '../platform/http/errors.ts';
import { cacheKey, currentFrom, type SearchRequest } from './params.ts';
import * as store from './store.ts';

export interface SearchOptions {
  /** The search pool (statement timeout, custom plans: see routes.ts). */
  db: Sql;
  cache: Cache;
  logger: Logger;
  cacheEnabled: boolean;
  cacheTtlMs: number;
  /** Entries of the in-process copy in front of the shared cache; 0 turns it off. */
  localEntries: number;
  /** Size of the candidate blocks that are ranked (docs/catalog.md, "Ranking"). */
  candidates: number;
  /**
   * Scopes the shared cache entries (the database name): deployments or test databases that share one
   * Redis neither read nor invalidate each other's results.
   */
  scope: string;
}

/**
 * Answers event searches and listings as ready-to-send JSON bodies.
 *
 * Two cache levels: an in-process LRU of encoded bodies, then the platform cache (Redis when configured,
 * shared by every API process) under a CacheNamespace. Both are dropped on every catalog change: the
 * catalog table's trigger NOTIFYs, each API process LISTENs and calls `invalidate()`. Concurrent misses on
 * one key share one query. Bodies are built by PostgreSQL (json_agg), so a miss costs Node one string.
 */
export class CatalogSearch {
  readonly #options: SearchOptions;
  readonly #namespace: CacheNamespace;
  readonly #local: LocalCache;
  readonly #inFlight = new Map<string, Promise<string>>();
  /** Bumped by every invalidation: a result that started before one is not kept locally. */
  #epoch = 0;
  #years: Promise<number[]> | undefined;
  /** This process's version bump of the shared cache while it is in flight. */
  #bumping: Promise<void> | undefined;
  #lastCacheWarning = Number.NEGATIVE_INFINITY;

  constructor(options: SearchOptions) {
    this.#options = options;
    this.#namespace = new CacheNamespace(options.cache, `catalog:events:${options.scope}`);
    this.#local = new LocalCache(options.cacheEnabled ? options.localEntries : 0, options.cacheTtlMs);
  }

  async find(request: SearchRequest): Promise<Buffer> {
    if (!this.#options.cacheEnabled) return Buffer.from(await this.#query(request));
    const suffix = cacheKey(request);
    const local = this.#local.get(suffix);
    if (local !== undefined) return local;
    const epoch = this.#epoch;
    // Until this process's bump of the version has landed, the shared cache still answers with the
    // entries from before the change: wait for it, or they would be copied into the local cache again.
    if (this.#bumping) await this.#bumping;
    // The versioned key is read before the data (CacheNamespace): a body computed from older rows is
    // stored under the older version, which nobody reads once the change bumped it.
    let key: string;
    let body: string | undefined;
    try {
      key = await this.#namespace.key(suffix);
      body = await this.#options.cache.get(key);
    } catch (error) {
      // The cache is an accelerator: while it is unreachable, answer from PostgreSQL.
      this.#cacheTrouble(error);
      return Buffer.from(await this.#query(request));
    }
    if (body === undefined) {
      let pending = this.#inFlight.get(key);
      if (!pending) {
        pending = this.#query(request).finally(() => this.#inFlight.delete(key));
        this.#inFlight.set(key, pending);
        pending
          .then(
            (text) => this.#options.cache.set(key, text, this.#options.cacheTtlMs),
            () => undefined, // the caller gets the query's error
          )
          .catch((error: unknown) => this.#cacheTrouble(error));
      }
      body = await pending;
    }
    const encoded = Buffer.from(body);
    if (epoch === this.#epoch) this.#local.set(suffix, encoded);
    return encoded;
  }

  /** Logs a failing cache at most every 10 s (it fails for every request while it is down). */
  #cacheTrouble(error: unknown): void {
    const now = performance.now();
    if (now - this.#lastCacheWarning < 10_000) return;
    this.#lastCacheWarning = now;
    this.#options.logger.warn({ err: error }, 'catalog: the search cache failed; answering from PostgreSQL');
  }

  /** Every cached result is stale: called on each catalog change notification. */
  invalidate(): void {
    this.#epoch++;
    this.#local.clear();
    this.#years = undefined;
    if (!this.#options.cacheEnabled) return;
    const bumping = this.#namespace
      .invalidate()
      .catch((error: unknown) =>
        this.#options.logger.error({ err: error }, 'catalog: could not invalidate the shared search cache'),
      )
      .finally(() => {
        if (this.#bumping === bumping) this.#bumping = undefined;
      });
    this.#bumping = bumping;
  }

  async #query(request: SearchRequest): Promise<string> {
    const { db, candidates } = this.#options;
    const offset = (request.page - 1) * request.pageSize;
    const from = request.from === undefined ? '-infinity' : new Date(request.from).toISOString();
    const to = request.to === undefined ? 'infinity' : new Date(request.to).toISOString();
    let result: store.PageResult;
    try {
      if (request.text === undefined) {
        result = await store.list(db, {
          from,
          to,
          type: request.type ?? null,
          provider: request.provider ?? null,
          offset,
          limit: request.pageSize,
        });
      } else {
        const windows = searchWindows(await this.#partitionYears(), currentFrom(Date.now()), request);
        result = await store.search(db, windows, {
          text: request.text,
          from,
          to,
          narrow:
            request.from !== undefined && request.to !== undefined && request.to - request.from <= NARROW_MS,
          type: request.type ?? null,
          provider: request.provider ?? null,
          candidates: Math.ceil((offset + request.pageSize) / candidates) * candidates,
          block: candidates,
          offset,
          limit: request.pageSize,
        });
      }
    } catch (error) {
      if ((error as { code?: string }).code === '57014') {
        throw new AppError(
          'CATALOG_SEARCH_TIMEOUT',
          503,
          'The search took too long; narrow it with a date, a type or more words',
        );
      }
      throw error;
    }
    return `{"success":true,"count":${result.count},"events":${result.events}}`;
  }

  #partitionYears(): Promise<number[]> {
    if (!this.#years) {
      const loading = store.partitionYears(this.#options.db);
      this.#years = loading;
      loading.catch(() => {
        if (this.#years === loading) this.#years = undefined;
      });
    }
    return this.#years;
  }
}

const YEAR_MS = (year: number) => Date.UTC(year, 0, 1);
/** A range this short is read by start time rather than through the words' index (store.searchSql). */
const NARROW_MS = 2 * 86_400_000;

/**
 * The time windows a text search walks, in order: the current events (`currentFromMs` onwards), then
 * each older partition's year, newest first; those outside the request's range are left out. Their
 * bounds depend only on the partitions and the day, so the SQL text (and its prepared statement) is
 * stable; the request's own range is applied through parameters.
 */
export function searchWindows(
  yearsNewestFirst: readonly number[],
  currentFromMs: number,
  range: { from?: number | undefined; to?: number | undefined },
): store.Window[] {
  const windows: { lo: number; hi: number }[] = [{ lo: currentFromMs, hi: Number.POSITIVE_INFINITY }];
  for (const year of yearsNewestFirst) {
    const lo = YEAR_MS(year);
    const hi = Math.min(YEAR_MS(year + 1), currentFromMs);
    if (lo < hi) windows.push({ lo, hi });
  }
  const from = range.from ?? Number.NEGATIVE_INFINITY;
  const to = range.to ?? Number.POSITIVE_INFINITY;
  return windows
    .filter((window) => window.lo < to && window.hi > from)
    .map((window) => ({ from: bound(window.lo), to: bound(window.hi) }));
}

function bound(ms: number): string {
  if (ms === Number.POSITIVE_INFINITY) return 'infinity';
  if (ms === Number.NEGATIVE_INFINITY) return '-infinity';
  return new Date(ms).toISOString();
}

/** Encoded bodies with a TTL, the oldest evicted first (a Map keeps insertion order). */
class LocalCache {
  readonly #entries = new Map<string, { body: Buffer; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get(key: string): Buffer | undefined {
    if (this.maxEntries === 0) return undefined;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= performance.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.body;
  }

  set(key: string, body: Buffer): void {
    if (this.maxEntries === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { body, expires: performance.now() + this.ttlMs });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
