import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Sql, Tx } from './client.ts';

export interface GroupCommitOptions<T, R> {
  db: Sql;
  /** For logs and errors, e.g. `drops`. */
  name: string;
  logger?: Logger;
  /**
   * Writes one batch inside its transaction and returns one result per item, in order (e.g. whether a
   * conditional insert took effect). It may run more than once for the same items (retries after a
   * transient error, halves of a failed batch), so it should be idempotent where a retry could repeat
   * an effect that did commit (`on conflict do nothing`). `db` is the pool, for a writer that sends its own
   * transaction (`pipelinedTransaction`, with `transaction: false`).
   */
  write: (tx: Tx, items: readonly T[], db: Sql) => Promise<readonly R[]>;
  /**
   * true (default): `write` runs inside `db.begin` (BEGIN, its statements, COMMIT: at least three round
   * trips). false: `write` gets the pool itself and must issue exactly one statement, atomic on its own in
   * autocommit: one round trip per batch, which matters when the event loop is busy and every round trip
   * waits for its turn. Retries and splitting work the same.
   */
  transaction?: boolean;
  /** Most items in one transaction. Default 1000. */
  maxBatch?: number;
  /** Transactions in flight at once (each holds a pool connection). Default 1. */
  concurrency?: number;
  /**
   * 0 (default): adaptive. An idle committer flushes on the next turn of the event loop, so a lone write
   * waits only for its own commit; while a flush is in flight new items accumulate and go in the next
   * batch, so batches grow with the load. Above 0: wait this long to gather a batch even when idle.
   */
  lingerMs?: number;
  /** Retries of a whole batch after a transient error (lost connection, serialization failure…). Default 3. */
  retries?: number;
  /** First retry delay; doubles each time. Default 20 ms. */
  retryDelayMs?: number;
  /**
   * Errors that some item of the batch may cause alone (bad data, constraint violations): the batch is
   * split in halves and each retried, down to single items, so only the offending items fail.
   * Default: SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
   */
  isolate?: (error: unknown) => boolean;
  /** Errors worth retrying the same batch for. Default: see `isTransientError`. */
  transient?: (error: unknown) => boolean;
  /** Called for an item given to `enqueue` (nobody awaits it) whose write failed for good. Default: log. */
  onDropped?: (error: unknown, item: T) => void;
}

/** The committer was stopped: it takes no more items. */
export class GroupCommitClosedError extends Error {
  override name = 'GroupCommitClosedError';
}

interface Waiter<R> {
  resolve(result: R): void;
  reject(error: unknown): void;
}

const TRANSIENT_CODES = new Set([
  // postgres (porsager) connection errors
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // socket errors
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  // SQLSTATE: serialization failure, deadlock, query cancelled (statement timeout)
  '40001',
  '40P01',
  '57014',
]);

/**
 * Worth retrying: the connection broke, the server is restarting or short of resources (SQLSTATE classes
 * 08, 53, 57P), or a serialization failure or deadlock. Not: bad data, constraint violations, a pool
 * that was ended on purpose (`CONNECTION_ENDED`), programming errors.
 */
export function isTransientError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    TRANSIENT_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')
  );
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint violation): one row can cause it. */
export function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Group commit: many small writes share one transaction, and each caller's promise settles only after
 * the transaction holding its item has committed (durable, as far as the server's `synchronous_commit`
 * goes). One commit (one WAL flush) then serves hundreds of requests.
 *
 * Failures are isolated: a transient error retries the whole batch; an error one row can cause
 * (`isolate`) splits the batch in halves until the offending items are alone, so valid writes that
 * shared a batch with a bad one still commit and succeed.
 */
export class GroupCommitter<T, R = void> {
  readonly #db: Sql;
  readonly #name: string;
  readonly #write: (tx: Tx, items: readonly T[], db: Sql) => Promise<readonly R[]>;
  readonly #transaction: boolean;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  readonly #lingerMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #isolate: (error: unknown) => boolean;
  readonly #transient: (error: unknown) => boolean;
  readonly #onDropped: (error: unknown, item: T) => void;

  #items: T[] = [];
  #waiters: (Waiter<R> | undefined)[] = [];
  #active = 0;
  #scheduled = false;
  #closed = false;
  #idle: (() => void)[] = [];
  #batches = 0;

  constructor(options: GroupCommitOptions<T, R>) {
    this.#db = options.db;
    this.#name = options.name;
    this.#write = options.write;
    this.#transaction = options.transaction ?? true;
    this.#maxBatch = positive(options.maxBatch ?? 1000, 'maxBatch');
    this.#concurrency = positive(options.concurrency ?? 1, 'concurrency');
    this.#lingerMs = options.lingerMs ?? 0;
    this.#retries = options.retries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 20;
    this.#isolate = options.isolate ?? isRowError;
    this.#transient = options.transient ?? isTransientError;
    const log = options.logger?.child({ component: 'group-commit', committer: options.name });
    this.#onDropped =
      options.onDropped ?? ((error) => log?.error({ err: error }, 'a queued write failed and was dropped'));
  }

  /** Queues `item`; resolves with its result once its batch has committed, rejects if it failed for good. */
  add(item: T): Promise<R> {
    if (this.#closed) {
      return Promise.reject(new GroupCommitClosedError(`group committer ${this.#name} is stopped`));
    }
    return new Promise<R>((resolve, reject) => {
      this.#items.push(item);
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Queues `item` without waiting for it: a failure goes to `onDropped`. Cheaper than `add` (no promise). */
  enqueue(item: T): void {
    if (this.#closed) {
      this.#onDropped(new GroupCommitClosedError(`group committer ${this.#name} is stopped`), item);
      return;
    }
    this.#items.push(item);
    this.#waiters.push(undefined);
    this.#schedule();
  }

  /** Items queued and not yet in a transaction. */
  get backlog(): number {
    return this.#items.length;
  }

  /** Transactions committed or failed so far (each retry or half of a split counts once). */
  get batches(): number {
    return this.#batches;
  }

  /** Resolves when nothing is queued or in flight: everything added before has committed or failed. */
  flush(): Promise<void> {
    if (this.#items.length === 0 && this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Takes no more items, then waits for the queued ones to be written. */
  async stop(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #schedule(): void {
    if (this.#scheduled || this.#active >= this.#concurrency) return;
    this.#scheduled = true;
    // setImmediate runs after the current I/O phase: everything that arrived in it shares the batch.
    if (this.#lingerMs > 0 && this.#items.length < this.#maxBatch) setTimeout(this.#run, this.#lingerMs);
    else setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    while (this.#active < this.#concurrency && this.#items.length > 0) {
      let items: T[];
      let waiters: (Waiter<R> | undefined)[];
      if (this.#items.length <= this.#maxBatch) {
        items = this.#items;
        waiters = this.#waiters;
        this.#items = [];
        this.#waiters = [];
      } else {
        items = this.#items.splice(0, this.#maxBatch);
        waiters = this.#waiters.splice(0, this.#maxBatch);
      }
      this.#active++;
      void this.#commit(items, waiters).finally(this.#done);
    }
  };

  readonly #done = (): void => {
    this.#active--;
    if (this.#items.length > 0) this.#schedule();
    else if (this.#active === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  };

  async #commit(items: T[], waiters: (Waiter<R> | undefined)[]): Promise<void> {
    let results: readonly R[];
    try {
      results = await this.#attempt(items);
    } catch (error) {
      if (items.length > 1 && this.#isolate(error)) {
        const half = items.length >>> 1;
        await this.#commit(items.slice(0, half), waiters.slice(0, half));
        await this.#commit(items.slice(half), waiters.slice(half));
        return;
      }
      for (let i = 0; i < items.length; i++) {
        const waiter = waiters[i];
        if (waiter) waiter.reject(error);
        else this.#onDropped(error, items[i]!);
      }
      return;
    }
    for (let i = 0; i < waiters.length; i++) waiters[i]?.resolve(results[i]!);
  }

  async #attempt(items: T[]): Promise<readonly R[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.#batches++;
        const results = this.#transaction
          ? ((await this.#db.begin((tx) => this.#write(tx, items, this.#db))) as readonly R[])
          : // One statement in autocommit (the pool has everything a single statement needs), or a
            // transaction the writer sends itself on the pool.
            await this.#write(this.#db as unknown as Tx, items, this.#db);
        if (results.length !== items.length) {
          throw new Error(
            `group committer ${this.#name}: write returned ${results.length} results for ${items.length} items`,
          );
        }
        return results;
      } catch (error) {
        if (attempt >= this.#retries || !this.#transient(error)) throw error;
        await sleep(this.#retryDelayMs * 2 ** attempt);
      }
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}
