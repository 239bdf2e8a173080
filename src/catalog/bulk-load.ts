import type { Logger } from 'pino';
import type { Sql } from '../platform/db/client.ts';
import type { Progress } from '../platform/seeding.ts';
import * as store from './store.ts';
import type { EventRow } from './types.ts';

/**
 * A load of at least this many rows, and at least as many as the table holds, drops the search index and
 * builds it again afterwards: several times faster than updating it row by row (docs/catalog.md).
 */
export const REBUILD_INDEX_MIN_ROWS = 50_000;

export type LoadMode =
  /** The ids are known to be absent: plain COPY (a duplicate makes the batch fall back to merge). */
  | 'new'
  /** Some ids may exist already: staged, and only the missing ones inserted. */
  | 'merge';

export interface LoaderOptions {
  db: Sql;
  logger: Logger;
  /** Batches in flight at once, each in its own transaction on its own connection. */
  parallel: number;
  progress?: Progress | undefined;
}

/**
 * Streams batches of events into PostgreSQL, `parallel` transactions at a time, with back-pressure:
 * `write` resolves once the batch is under way, waiting while all slots are busy. Each batch commits
 * on its own, so an interrupted load keeps what it finished and a re-run fills in the rest.
 */
export class EventLoader {
  readonly #options: LoaderOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #years = new Set<number>();
  #inserted = 0;
  #failure: unknown;

  constructor(options: LoaderOptions) {
    this.#options = options;
  }

  get inserted(): number {
    return this.#inserted;
  }

  async write(rows: readonly EventRow[], mode: LoadMode): Promise<void> {
    this.#throwIfFailed();
    if (rows.length === 0) return;
    // Partitions are created outside the batch transactions: creating one locks the parent table.
    const years = new Set<number>();
    for (const row of rows) {
      const year = Number(row.datetimeStart.slice(0, 4));
      if (!this.#years.has(year)) years.add(year);
    }
    if (years.size > 0) {
      await store.ensurePartitions(this.#options.db, years);
      for (const year of years) this.#years.add(year);
    }
    while (this.#inFlight.size >= this.#options.parallel) {
      await Promise.race(this.#inFlight);
      this.#throwIfFailed();
    }
    const batch = this.#load(rows, mode).then(
      (inserted) => {
        this.#inserted += inserted;
        this.#options.progress?.tick(rows.length);
      },
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    const tracked = batch.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Waits for every batch; returns how many rows were inserted (rows already there are not counted). */
  async finish(): Promise<number> {
    await Promise.all(this.#inFlight);
    this.#throwIfFailed();
    return this.#inserted;
  }

  async #load(rows: readonly EventRow[], mode: LoadMode): Promise<number> {
    const { db, logger } = this.#options;
    if (mode === 'new') {
      try {
        return await db.begin((tx) => store.copyNewEvents(tx, rows));
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
        logger.debug({ first: rows[0]?.id }, 'catalog: some ids exist already, merging the batch');
      }
    }
    return await db.begin((tx) => store.mergeEvents(tx, rows));
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/**
 * Runs `load` with the search index dropped when it writes many rows (`rebuildIndexMinRows`, and at
 * least as many as the table holds), then (re)builds the missing partition indexes, two at a time, and
 * refreshes the planner statistics. The index is rebuilt even when `load` fails, so an interrupted load
 * leaves search working; a process killed meanwhile leaves it to the next seed or import to rebuild.
 */
export async function withBulkLoad<T>(
  db: Sql,
  logger: Logger,
  expectedRows: number,
  load: () => Promise<T>,
  rebuildIndexMinRows = REBUILD_INDEX_MIN_ROWS,
): Promise<T> {
  const existing = await store.countEvents(db);
  const rebuild = expectedRows >= rebuildIndexMinRows && expectedRows >= existing;
  if (rebuild) {
    logger.info({ expectedRows, existing }, 'catalog: dropping the search index for the bulk load');
    await store.dropSearchIndex(db);
  }
  let result: T;
  try {
    result = await load();
  } catch (error) {
    await ensureSearchIndex(db, logger).catch((indexError: unknown) =>
      logger.error(
        { err: indexError },
        'catalog: rebuilding the search index failed; re-run the seed or import',
      ),
    );
    throw error;
  }
  await ensureSearchIndex(db, logger);
  if (expectedRows > 0) await store.analyzeEvents(db, rebuild);
  return result;
}

/** Builds whatever part of the search index is missing; a no-op when it is complete. */
export async function ensureSearchIndex(db: Sql, logger: Logger): Promise<void> {
  await store.createParentSearchIndex(db);
  const missing = await store.partitionsWithoutSearchIndex(db);
  if (missing.length === 0) return;
  const started = performance.now();
  logger.info({ partitions: missing.length }, 'catalog: building the search index');
  const queue = [...missing];
  const worker = async () => {
    const connection = await db.reserve();
    try {
      await connection`set maintenance_work_mem = '256MB'`;
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        await store.buildPartitionSearchIndex(connection, next);
      }
    } finally {
      await connection`reset maintenance_work_mem`.catch(() => {});
      connection.release();
    }
  };
  await Promise.all([worker(), worker()]);
  logger.info(
    { partitions: missing.length, seconds: Math.round((performance.now() - started) / 100) / 10 },
    'catalog: search index built',
  );
}
