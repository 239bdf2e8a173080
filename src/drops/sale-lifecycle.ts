import type { Logger } from 'pino';
import type { Sql } from '../platform/db/client.ts';
import type { SaleClock, SaleWindow } from './sale-clock.ts';
import * as store from './store.ts';

export interface SaleLifecycleOptions {
  db: Sql;
  clock: SaleClock;
  items: number;
  logger: Logger;
}

/** Checked at boot: a sale number must always mean the same window, or old rows would be read as new. */
export class SaleClockMismatchError extends Error {
  override name = 'SaleClockMismatchError';
}

/**
 * The sales' rows and their `drop.sale_opened` / `drop.sale_closed` events. Every API process runs one;
 * the writes are idempotent (insert-if-absent, close-if-open), so each event is written exactly once.
 * Requests never wait for this: the sale they belong to comes from the clock, not from these rows.
 *
 * A sale is closed a short grace after its end, so that the purchases still in flight at the boundary
 * (a request that entered just before it) are committed and counted in the event.
 */
export class SaleLifecycle {
  readonly #db: Sql;
  readonly #clock: SaleClock;
  readonly #items: number;
  readonly #log: Logger;
  readonly #graceMs: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: SaleLifecycleOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#items = options.items;
    this.#log = options.logger;
    this.#graceMs = Math.min(2_000, Math.max(100, Math.floor(options.clock.periodMs / 4)));
  }

  /** At boot: refuses a changed epoch or period, opens the current sale, closes the ones left open. */
  async prepare(now: number): Promise<SaleWindow> {
    const current = this.#clock.at(now);
    const latest = await store.latestSale(this.#db);
    if (latest && latest.number > current.number) {
      throw new SaleClockMismatchError(
        `drops: the database has sale ${latest.number} but the clock says sale ${current.number} is open: ` +
          'were DROPS_EPOCH_SECONDS or DROPS_PERIOD_SECONDS changed? Sale numbers must keep their meaning.',
      );
    }
    const row = await store.findSale(this.#db, current.number);
    if (row && (row.startsAt !== current.startsAt || row.endsAt !== current.endsAt)) {
      throw new SaleClockMismatchError(
        `drops: sale ${current.number} ran from ${iso(row.startsAt)} to ${iso(row.endsAt)}, but the clock now ` +
          `puts it at ${iso(current.startsAt)}–${iso(current.endsAt)}: were DROPS_EPOCH_SECONDS or ` +
          'DROPS_PERIOD_SECONDS changed? Sale numbers must keep their meaning.',
      );
    }
    await store.openSale(this.#db, current, this.#items);
    await store.closeSalesBefore(this.#db, current.number);
    return current;
  }

  /** Opens each sale as its period begins and closes the previous one after the grace. */
  start(): void {
    this.#scheduleNext(this.#clock.at(Date.now()));
  }

  /** Cancels what is scheduled and waits for a write in progress (the pool closes after the modules). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.#running);
  }

  #scheduleNext(current: SaleWindow): void {
    this.#later(Math.max(1, current.endsAt - Date.now()), () => this.#boundary());
  }

  async #boundary(): Promise<void> {
    const sale = this.#clock.at(Date.now());
    this.#scheduleNext(sale);
    await this.#retrying('open', () => store.openSale(this.#db, sale, this.#items));
    this.#later(this.#graceMs, () =>
      this.#retrying('close', async () => {
        const closed = await store.closeSalesBefore(this.#db, sale.number);
        if (closed.length > 0) this.#log.info({ closed, open: sale.number }, 'drops: sale closed');
      }),
    );
  }

  /** Database trouble at a boundary must not lose the event: try again every second until it works. */
  async #retrying(what: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (this.#stopped) return;
      this.#log.error({ err: error }, `drops: could not ${what} a sale; retrying in 1 s`);
      this.#later(1_000, () => this.#retrying(what, work));
    }
  }

  #later(ms: number, run: () => Promise<void>): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const running = run().finally(() => this.#running.delete(running));
      this.#running.add(running);
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
