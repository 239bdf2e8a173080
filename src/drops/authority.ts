import type { DropFailure } from './errors.ts';
import type { SaleWindow } from './sale-clock.ts';

/**
 * The authority over a sale's live inventory: which items are free, held or sold, which codes are live,
 * how many items each user has. It decides every checkout and purchase atomically (memory: one thread,
 * no awaits inside a decision; Redis: one Lua script per decision). PostgreSQL stays the system of
 * record: the authority's state is rebuilt from it with `restore` after a restart.
 *
 * Calls name their sale explicitly; state is kept per sale, so nothing of one sale (holds, counts)
 * can leak into the next. Methods may answer synchronously (memory) or with a promise (Redis).
 */
export interface Authority {
  readonly kind: 'memory' | 'redis';

  /** Holds `item` for `user` until `expiresAt`: the new checkout code, or why not. */
  checkout(
    sale: SaleWindow,
    user: string,
    item: number,
    now: number,
    expiresAt: number,
  ): MaybePromise<string | DropFailure>;

  /** Forgets a hold whose reservation could not be made durable (the client was told 503). */
  release(sale: SaleWindow, code: string): MaybePromise<void>;

  /**
   * Starts the purchase of a live code: the item is taken off sale (nobody else can check it out) while
   * the purchase is written. Must be followed by `confirmPurchase`, `abortPurchase` or `conflict`.
   */
  beginPurchase(sale: SaleWindow, code: string, now: number): MaybePromise<PurchaseTicket | DropFailure>;

  /** The purchase is durable. */
  confirmPurchase(sale: SaleWindow, code: string, now: number): MaybePromise<void>;

  /** The purchase could not be written: the hold is live again (if not expired meanwhile). */
  abortPurchase(sale: SaleWindow, code: string, now: number): MaybePromise<void>;

  /** The database already holds another purchase of this item: it is sold, but not to this code. */
  conflict(sale: SaleWindow, code: string): MaybePromise<void>;

  /** Loads what the database knows about a sale (after a restart); idempotent. */
  restore(sale: SaleWindow, snapshot: SaleSnapshot, now: number): Promise<void>;

  stats(sale: SaleWindow, now: number): MaybePromise<SaleStats>;

  /** The status of items `from` to `to - 1` of the (current) sale. */
  itemStates(sale: SaleWindow, from: number, to: number, now: number): MaybePromise<ItemState[]>;
}

export type MaybePromise<T> = T | Promise<T>;

export type ItemState = 'available' | 'reserved' | 'sold';

export interface PurchaseTicket {
  readonly code: string;
  readonly item: number;
  readonly user: string;
}

export interface SaleStats {
  sold: number;
  /** Live holds (and, in memory mode, purchases being written). */
  reserved: number;
  /** First successful checkout and 10,000th purchase, Unix ms, or null. */
  firstCheckoutAt: number | null;
  soldOutAt: number | null;
}

/** A sale as the database has it: what `restore` loads. */
export interface SaleSnapshot {
  purchases: { code: string; item: number; user: string }[];
  /** Unpurchased, unexpired reservations, oldest first. */
  reservations: { code: string; item: number; user: string; expiresAt: number }[];
}

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
