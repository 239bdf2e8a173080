import type { Logger } from 'pino';
import type { Sql } from '../platform/db/client.ts';
import type { GroupCommitter } from '../platform/db/group-commit.ts';
import { type Authority, isPromise, type MaybePromise, type PurchaseTicket } from './authority.ts';
import { badItemId, type DropFailure, Failures } from './errors.ts';
import { dropItem } from './items.ts';
import type { SaleClock, SaleWindow } from './sale-clock.ts';
import * as store from './store.ts';
import { ThrottledLog } from './throttled-log.ts';

export interface DropsSettings {
  items: number;
  perUserLimit: number;
  reservationMs: number;
  /** Unwritten attempt records beyond which 409 answers wait for their batch (back-pressure). */
  backlogMax: number;
}

export interface DropsServiceDeps {
  db: Sql;
  clock: SaleClock;
  authority: Authority;
  /** Reservations (with their `reserved` attempt rows) and purchases: acknowledged only after commit. */
  committer: GroupCommitter<store.DropWrite, store.WriteResult>;
  /** Attempt rows of refused and failed checkouts: nobody waits for them (unless the backlog is long). */
  attempts: GroupCommitter<store.DropWrite, store.WriteResult>;
  settings: DropsSettings;
  logger: Logger;
}

export interface CurrentSale {
  sale: number;
  startsAt: string;
  endsAt: string;
  items: number;
  left: number;
  sold: number;
  reserved: number;
  perUserLimit: number;
  reservationSeconds: number;
  firstCheckoutAt: string | null;
  soldOutAt: string | null;
}

export type ItemStatus = 'available' | 'reserved' | 'sold' | 'unsold';

export interface ItemsPage {
  sale: number;
  startsAt: string;
  endsAt: string;
  total: number;
  offset: number;
  limit: number;
  nextOffset: number | null;
  items: { id: number; name: string; imageUrl: string; status: ItemStatus }[];
}

/**
 * The drops use cases. Hot paths (`checkout`, `purchase`) answer synchronously when they can — a refusal
 * from the in-memory authority costs no promise — and return a promise only when they must wait: for the
 * group commit that makes a reservation or purchase durable before it is acknowledged, or for Redis.
 *
 * Rules: a checkout holds the item for `reservationMs` (never beyond the sale's end); an expired hold frees
 * the item at once; at most `perUserLimit` items per user per sale, purchases plus live holds; a code
 * is single-use. Every checkout attempt is written to the attempt log. Successes wait for durability;
 * refusals (409/400) are queued and answered at once, unless the queue is longer than `backlogMax`.
 */
export class DropsService {
  readonly settings: DropsSettings;
  /** The 400 for an item id outside this deployment's range. */
  readonly badItem: DropFailure;
  readonly #db: Sql;
  readonly #clock: SaleClock;
  readonly #authority: Authority;
  readonly #committer: GroupCommitter<store.DropWrite, store.WriteResult>;
  readonly #attempts: GroupCommitter<store.DropWrite, store.WriteResult>;
  readonly #log: ThrottledLog;

  constructor(deps: DropsServiceDeps) {
    this.settings = deps.settings;
    this.badItem = badItemId(deps.settings.items);
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#authority = deps.authority;
    this.#committer = deps.committer;
    this.#attempts = deps.attempts;
    this.#log = new ThrottledLog(deps.logger);
  }

  get authorityKind(): Authority['kind'] {
    return this.#authority.kind;
  }

  /** Resolves once every write queued so far (attempt records included) has been committed or has failed. */
  async flush(): Promise<void> {
    await Promise.all([this.#committer.flush(), this.#attempts.flush()]);
  }

  /** Reserves `item` for `user`: the checkout code, or why not. */
  checkout(user: string, item: number): MaybePromise<string | DropFailure> {
    const now = Date.now();
    const sale = this.#clock.at(now);
    const expiresAt = Math.min(now + this.settings.reservationMs, sale.endsAt);
    let decision: MaybePromise<string | DropFailure>;
    try {
      decision = this.#authority.checkout(sale, user, item, now, expiresAt);
    } catch (error) {
      return this.#authorityFailed(error, sale, user, item, now);
    }
    if (isPromise(decision)) {
      return decision.then(
        (d) => this.#afterCheckout(sale, user, item, now, expiresAt, d),
        (error) => this.#authorityFailed(error, sale, user, item, now),
      );
    }
    return this.#afterCheckout(sale, user, item, now, expiresAt, decision);
  }

  /** Records a checkout refused for bad parameters (400): every attempt is in the log. */
  rejectCheckout(failure: DropFailure, user: string | null, item: number | null): void {
    const now = Date.now();
    this.#record(attempt(this.#clock.at(now).number, user, item, failure.outcome, now), failure);
  }

  /** Completes the purchase reserved under `code`: true once durable, or why not. */
  purchase(code: string): MaybePromise<true | DropFailure> {
    const now = Date.now();
    const sale = this.#clock.at(now);
    let ticket: MaybePromise<PurchaseTicket | DropFailure>;
    try {
      ticket = this.#authority.beginPurchase(sale, code, now);
    } catch (error) {
      return this.#unavailable(error);
    }
    if (isPromise(ticket)) {
      return ticket.then(
        (t) => this.#afterBegin(sale, t, now),
        (error) => this.#unavailable(error),
      );
    }
    return this.#afterBegin(sale, ticket, now);
  }

  async current(): Promise<CurrentSale> {
    const now = Date.now();
    const sale = this.#clock.at(now);
    const stats = await this.#authority.stats(sale, now);
    const { items, perUserLimit, reservationMs } = this.settings;
    return {
      sale: sale.number,
      startsAt: iso(sale.startsAt),
      endsAt: iso(sale.endsAt),
      items,
      left: Math.max(0, items - stats.sold - stats.reserved),
      sold: stats.sold,
      reserved: stats.reserved,
      perUserLimit,
      reservationSeconds: reservationMs / 1000,
      firstCheckoutAt: stats.firstCheckoutAt === null ? null : iso(stats.firstCheckoutAt),
      soldOutAt: stats.soldOutAt === null ? null : iso(stats.soldOutAt),
    };
  }

  /** A page of a sale's items with their status; undefined for a sale that has not started. */
  async items(saleNumber: number, offset: number, limit: number): Promise<ItemsPage | undefined> {
    const now = Date.now();
    const current = this.#clock.at(now);
    if (saleNumber > current.number) return undefined;
    const sale = saleNumber === current.number ? current : this.#clock.window(saleNumber);
    const total = this.settings.items;
    const from = Math.min(offset, total);
    const to = Math.min(offset + limit, total);
    let statuses: ItemStatus[];
    if (sale === current) {
      statuses = await this.#authority.itemStates(sale, from, to, now);
    } else {
      const sold = await store.soldItems(this.#db, sale.number, from, to);
      statuses = [];
      for (let i = from; i < to; i++) statuses.push(sold.has(i) ? 'sold' : 'unsold');
    }
    return {
      sale: sale.number,
      startsAt: iso(sale.startsAt),
      endsAt: iso(sale.endsAt),
      total,
      offset,
      limit,
      nextOffset: to < total ? to : null,
      items: statuses.map((status, i) => ({ ...dropItem(sale.number, from + i), status })),
    };
  }

  #afterCheckout(
    sale: SaleWindow,
    user: string,
    item: number,
    now: number,
    expiresAt: number,
    decision: string | DropFailure,
  ): MaybePromise<string | DropFailure> {
    if (typeof decision !== 'string') {
      return this.#record(attempt(sale.number, user, item, decision.outcome, now), decision);
    }
    const write: store.AttemptWrite = {
      kind: store.ATTEMPT,
      sale: sale.number,
      user,
      item,
      outcome: 'reserved',
      code: decision,
      at: now,
      expiresAt,
    };
    return this.#committer.add(write).then(
      () => decision,
      (error: unknown) => this.#checkoutNotPersisted(error, sale, user, item, decision),
    );
  }

  async #checkoutNotPersisted(
    error: unknown,
    sale: SaleWindow,
    user: string,
    item: number,
    code: string,
  ): Promise<DropFailure> {
    this.#log.error(error, 'drops: a reservation could not be written', { sale: sale.number, item });
    try {
      await this.#authority.release(sale, code);
    } catch (releaseError) {
      // The hold then simply expires.
      this.#log.error(releaseError, 'drops: could not release an unwritten hold');
    }
    this.#attempts.enqueue(attempt(sale.number, user, item, 'failed', Date.now()));
    return Failures.notPersisted;
  }

  #authorityFailed(error: unknown, sale: SaleWindow, user: string, item: number, now: number): DropFailure {
    this.#attempts.enqueue(attempt(sale.number, user, item, 'failed', now));
    return this.#unavailable(error);
  }

  #unavailable(error: unknown): DropFailure {
    this.#log.error(error, 'drops: the inventory authority failed');
    return Failures.notPersisted;
  }

  /** Queues a refusal's attempt record; waits for it only when the queue is too long (back-pressure). */
  #record(write: store.AttemptWrite, answer: DropFailure): MaybePromise<DropFailure> {
    if (this.#attempts.backlog < this.settings.backlogMax) {
      this.#attempts.enqueue(write);
      return answer;
    }
    return this.#attempts.add(write).then(
      () => answer,
      (error: unknown) => {
        this.#log.error(error, 'drops: an attempt record could not be written');
        return answer;
      },
    );
  }

  #afterBegin(
    sale: SaleWindow,
    ticket: PurchaseTicket | DropFailure,
    now: number,
  ): MaybePromise<true | DropFailure> {
    if ('status' in ticket) return ticket;
    const write: store.PurchaseWrite = {
      kind: store.PURCHASE,
      sale: sale.number,
      item: ticket.item,
      user: ticket.user,
      code: ticket.code,
      at: now,
    };
    return this.#committer.add(write).then(
      async (result): Promise<true | DropFailure> => {
        if (result === 'ok') {
          await this.#quietly(() => this.#authority.confirmPurchase(sale, ticket.code, Date.now()));
          return true;
        }
        await this.#quietly(() => this.#authority.conflict(sale, ticket.code));
        return Failures.itemUnavailable;
      },
      async (error: unknown) => {
        this.#log.error(error, 'drops: a purchase could not be written', {
          sale: sale.number,
          item: ticket.item,
        });
        await this.#quietly(() => this.#authority.abortPurchase(sale, ticket.code, Date.now()));
        return Failures.notPersisted;
      },
    );
  }

  /** After the database has decided, an authority hiccup must not change the answer: log it. */
  async #quietly(work: () => MaybePromise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.#log.error(error, 'drops: the inventory authority failed after a write');
    }
  }
}

function attempt(
  sale: number,
  user: string | null,
  item: number | null,
  outcome: store.AttemptWrite['outcome'],
  at: number,
): store.AttemptWrite {
  return { kind: store.ATTEMPT, sale, user, item, outcome, code: null, at, expiresAt: 0 };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
