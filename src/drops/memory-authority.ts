import { randomUUID } from 'node:crypto';
import type { Authority, ItemState, PurchaseTicket, SaleSnapshot, SaleStats } from './authority.ts';
import { type DropFailure, Failures } from './errors.ts';
import type { SaleWindow } from './sale-clock.ts';

// An item's slot in `Book.items`: FREE, SOLD (also while its purchase is being written), or the Unix ms
// until which it is held. A hold whose time has passed is free: expiry needs no timer and no sweeper.
const FREE = 0;
const SOLD = -1;

// A hold's life: LIVE → PENDING (purchase being written) → PURCHASED; or LIVE → EXPIRED;
// PENDING → LIVE again if the write failed, or LOST if the database had the item sold to someone else.
const LIVE = 0;
const PENDING = 1;
const PURCHASED = 2;
const EXPIRED = 3;
const LOST = 4;

interface Hold extends PurchaseTicket {
  readonly expiresAt: number;
  state: number;
}

interface UserBook {
  /** Purchases, including ones being written. */
  bought: number;
  /** Holds not yet known to be expired (at most `limit`). */
  live: Hold[];
}

/** Everything about one sale. A new sale gets a new book: nothing carries over. */
class Book {
  readonly items: Float64Array;
  readonly holders: (Hold | undefined)[];
  readonly codes = new Map<string, Hold>();
  readonly users = new Map<string, UserBook>();
  sold = 0;
  pending = 0;
  firstCheckoutAt: number | null = null;
  soldOutAt: number | null = null;

  constructor(
    readonly sale: number,
    size: number,
  ) {
    this.items = new Float64Array(size);
    this.holders = new Array<Hold | undefined>(size).fill(undefined);
  }
}

export interface MemoryAuthorityOptions {
  items: number;
  perUserLimit: number;
}

/**
 * The embedded authority: the live inventory of the current sale in this process's memory. Node runs
 * JavaScript on one thread and no decision awaits anything, so each checkout or purchase is atomic without
 * locks. Correct only while one process serves the sale (the drops module refuses a second one, see
 * LOCKING.md); with several API processes use the Redis authority.
 */
export class MemoryAuthority implements Authority {
  readonly kind = 'memory' as const;
  readonly #size: number;
  readonly #limit: number;
  #book: Book;

  constructor(options: MemoryAuthorityOptions) {
    this.#size = options.items;
    this.#limit = options.perUserLimit;
    this.#book = new Book(-1, this.#size);
  }

  checkout(
    sale: SaleWindow,
    user: string,
    item: number,
    now: number,
    expiresAt: number,
  ): string | DropFailure {
    const book = this.#bookFor(sale);
    if (!book) return Failures.itemUnavailable;
    const slot = book.items[item]!;
    if (slot === SOLD || slot > now) return Failures.itemUnavailable;
    if (slot !== FREE) this.#expire(book, book.holders[item]!);

    let account = book.users.get(user);
    if (account) {
      const live = account.live;
      for (let i = live.length - 1; i >= 0; i--) if (live[i]!.expiresAt <= now) this.#expire(book, live[i]!);
      if (account.bought + live.length >= this.#limit) return Failures.userLimit;
    } else {
      account = { bought: 0, live: [] };
      book.users.set(user, account);
    }

    const code = randomUUID();
    const hold: Hold = { code, item, user, expiresAt, state: LIVE };
    book.items[item] = expiresAt;
    book.holders[item] = hold;
    book.codes.set(code, hold);
    account.live.push(hold);
    book.firstCheckoutAt ??= now;
    return code;
  }

  release(sale: SaleWindow, code: string): void {
    const book = this.#bookFor(sale);
    const hold = book?.codes.get(code);
    if (!book || !hold || hold.state !== LIVE) return;
    this.#expire(book, hold);
    book.codes.delete(code);
  }

  beginPurchase(sale: SaleWindow, code: string, now: number): PurchaseTicket | DropFailure {
    const book = this.#bookFor(sale);
    const hold = book?.codes.get(code);
    if (!book || !hold) return Failures.codeUnknown;
    if (hold.state === PENDING || hold.state === PURCHASED || hold.state === LOST) return Failures.codeUsed;
    if (hold.state === EXPIRED) return Failures.codeExpired;
    if (hold.expiresAt <= now) {
      this.#expire(book, hold);
      return Failures.codeExpired;
    }
    hold.state = PENDING;
    book.items[hold.item] = SOLD;
    book.holders[hold.item] = undefined;
    const account = book.users.get(hold.user)!;
    removeHold(account.live, hold);
    account.bought++;
    book.pending++;
    return hold;
  }

  confirmPurchase(sale: SaleWindow, code: string, now: number): void {
    const book = this.#bookFor(sale);
    const hold = book?.codes.get(code);
    if (!book || !hold || hold.state !== PENDING) return;
    hold.state = PURCHASED;
    book.pending--;
    book.sold++;
    if (book.sold === this.#size) book.soldOutAt = now;
  }

  abortPurchase(sale: SaleWindow, code: string, now: number): void {
    const book = this.#bookFor(sale);
    const hold = book?.codes.get(code);
    if (!book || !hold || hold.state !== PENDING) return;
    book.pending--;
    const account = book.users.get(hold.user)!;
    account.bought--;
    if (hold.expiresAt > now) {
      hold.state = LIVE;
      book.items[hold.item] = hold.expiresAt;
      book.holders[hold.item] = hold;
      account.live.push(hold);
    } else {
      hold.state = EXPIRED;
      book.items[hold.item] = FREE;
    }
  }

  conflict(sale: SaleWindow, code: string): void {
    const book = this.#bookFor(sale);
    const hold = book?.codes.get(code);
    if (!book || !hold || hold.state !== PENDING) return;
    hold.state = LOST;
    book.pending--;
    book.users.get(hold.user)!.bought--;
    book.items[hold.item] = SOLD;
    book.sold++;
  }

  async restore(sale: SaleWindow, snapshot: SaleSnapshot, now: number): Promise<void> {
    const book = this.#bookFor(sale);
    if (!book) throw new Error(`cannot restore sale ${sale.number}: sale ${this.#book.sale} is already open`);
    for (const { code, item, user } of snapshot.purchases) {
      if (book.codes.get(code)?.state === PURCHASED) continue;
      const previous = book.holders[item];
      if (previous) this.#expire(book, previous);
      const hold: Hold = { code, item, user, expiresAt: now, state: PURCHASED };
      book.codes.set(code, hold);
      if (book.items[item] !== SOLD) book.sold++;
      book.items[item] = SOLD;
      this.#account(book, user).bought++;
    }
    for (const { code, item, user, expiresAt } of snapshot.reservations) {
      if (book.codes.has(code) || expiresAt <= now || book.items[item] === SOLD) continue;
      // A later reservation of the same item can exist only if the earlier one was given up: later wins.
      const previous = book.holders[item];
      if (previous) this.#expire(book, previous);
      const hold: Hold = { code, item, user, expiresAt, state: LIVE };
      book.items[item] = expiresAt;
      book.holders[item] = hold;
      book.codes.set(code, hold);
      this.#account(book, user).live.push(hold);
    }
    if (book.sold === this.#size) book.soldOutAt ??= now;
  }

  stats(sale: SaleWindow, now: number): SaleStats {
    const book = this.#book.sale === sale.number ? this.#book : undefined;
    if (!book) return { sold: 0, reserved: 0, firstCheckoutAt: null, soldOutAt: null };
    let reserved = book.pending;
    const items = book.items;
    for (let i = 0; i < items.length; i++) if (items[i]! > now) reserved++;
    return { sold: book.sold, reserved, firstCheckoutAt: book.firstCheckoutAt, soldOutAt: book.soldOutAt };
  }

  itemStates(sale: SaleWindow, from: number, to: number, now: number): ItemState[] {
    const book = this.#book.sale === sale.number ? this.#book : undefined;
    const states: ItemState[] = [];
    for (let i = from; i < to; i++) {
      const slot = book ? book.items[i]! : FREE;
      states.push(slot === SOLD ? 'sold' : slot > now ? 'reserved' : 'available');
    }
    return states;
  }

  /** The book of `sale`, opening a fresh one when the sale is newer; undefined for an older (closed) sale. */
  #bookFor(sale: SaleWindow): Book | undefined {
    const book = this.#book;
    if (book.sale === sale.number) return book;
    if (sale.number < book.sale) return undefined;
    this.#book = new Book(sale.number, this.#size);
    return this.#book;
  }

  #account(book: Book, user: string): UserBook {
    let account = book.users.get(user);
    if (!account) {
      account = { bought: 0, live: [] };
      book.users.set(user, account);
    }
    return account;
  }

  /** A live hold ends: its item is free again and it no longer counts against its user. */
  #expire(book: Book, hold: Hold): void {
    hold.state = EXPIRED;
    if (book.holders[hold.item] === hold) {
      book.holders[hold.item] = undefined;
      book.items[hold.item] = FREE;
    }
    const account = book.users.get(hold.user);
    if (account) removeHold(account.live, hold);
  }
}

function removeHold(live: Hold[], hold: Hold): void {
  const index = live.indexOf(hold);
  if (index === -1) return;
  live[index] = live[live.length - 1]!;
  live.pop();
}
