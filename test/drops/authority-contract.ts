import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Authority, PurchaseTicket } from '../../src/drops/authority.ts';
import { type DropFailure, Failures } from '../../src/drops/errors.ts';
import { SaleClock, type SaleWindow } from '../../src/drops/sale-clock.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface AuthorityFactory {
  /** A fresh authority over empty state, for sales of `items` items and `perUserLimit` per user. */
  open(options: { items: number; perUserLimit: number }): Promise<Authority>;
  close(): Promise<void>;
}

/**
 * The behaviour every authority must have (memory and Redis run this same suite). Time is passed in
 * explicitly, so expiry is tested without sleeping. Sale windows are real (around now), because the
 * Redis keys expire relative to the sale's end.
 */
export function authorityContract(factory: AuthorityFactory): void {
  const clock = new SaleClock(0, 3_600_000);
  let sale: SaleWindow;
  let next: SaleWindow;
  let t0: number;
  const HOLD = 60_000;

  beforeAll(() => {
    sale = clock.at(Date.now());
    next = clock.window(sale.number + 1);
    t0 = sale.startsAt + 1_000;
  });
  afterAll(() => factory.close());

  const open = (items = 10, perUserLimit = 3) => factory.open({ items, perUserLimit });
  const code = (answer: string | DropFailure): string => {
    expect(typeof answer, `expected a code, got ${JSON.stringify(answer)}`).toBe('string');
    return answer as string;
  };
  const ticket = (answer: PurchaseTicket | DropFailure): PurchaseTicket => {
    expect('status' in answer, `expected a ticket, got ${JSON.stringify(answer)}`).toBe(false);
    return answer as PurchaseTicket;
  };
  const buy = async (a: Authority, s: SaleWindow, c: string, now: number) => {
    ticket(await a.beginPurchase(s, c, now));
    await a.confirmPurchase(s, c, now);
  };

  it('holds a free item once: a second checkout of it is refused', async () => {
    const a = await open();
    const c = code(await a.checkout(sale, '1', 4, t0, t0 + HOLD));
    expect(c).toMatch(UUID);
    expect(await a.checkout(sale, '2', 4, t0 + 1, t0 + HOLD)).toBe(Failures.itemUnavailable);
    expect(await a.checkout(sale, '1', 4, t0 + 1, t0 + HOLD)).toBe(Failures.itemUnavailable);
    expect(await a.itemStates(sale, 3, 6, t0 + 2)).toEqual(['available', 'reserved', 'available']);
  });

  it('gives an expired hold back to sale at once, and refuses the expired code', async () => {
    const a = await open();
    const old = code(await a.checkout(sale, '1', 0, t0, t0 + 1_000));
    expect(await a.checkout(sale, '2', 0, t0 + 999, t0 + HOLD)).toBe(Failures.itemUnavailable);
    const fresh = code(await a.checkout(sale, '2', 0, t0 + 1_000, t0 + 1_000 + HOLD));
    expect(fresh).not.toBe(old);
    expect(await a.beginPurchase(sale, old, t0 + 1_001)).toBe(Failures.codeExpired);
    ticket(await a.beginPurchase(sale, fresh, t0 + 1_002));
  });

  it('refuses a purchase once the hold has expired even if nobody took the item', async () => {
    const a = await open();
    const c = code(await a.checkout(sale, '1', 0, t0, t0 + 1_000));
    expect(await a.beginPurchase(sale, c, t0 + 1_000)).toBe(Failures.codeExpired);
    expect(await a.itemStates(sale, 0, 1, t0 + 1_000)).toEqual(['available']);
  });

  it('limits a user to N items per sale, counting purchases and live holds, not expired ones', async () => {
    const a = await open(10, 3);
    const c0 = code(await a.checkout(sale, '7', 0, t0, t0 + 1_000));
    code(await a.checkout(sale, '7', 1, t0, t0 + 1_000));
    code(await a.checkout(sale, '7', 2, t0, t0 + HOLD));
    expect(await a.checkout(sale, '7', 3, t0 + 1, t0 + HOLD)).toBe(Failures.userLimit);
    // Another user is not affected.
    code(await a.checkout(sale, '8', 3, t0 + 1, t0 + HOLD));
    await buy(a, sale, c0, t0 + 2);
    expect(await a.checkout(sale, '7', 4, t0 + 3, t0 + HOLD)).toBe(Failures.userLimit);
    // Item 1's hold expires: one slot frees up (the purchase of item 0 still counts).
    code(await a.checkout(sale, '7', 4, t0 + 1_000, t0 + HOLD));
    expect(await a.checkout(sale, '7', 5, t0 + 1_001, t0 + HOLD)).toBe(Failures.userLimit);
  });

  it('makes a code single-use and the item sold', async () => {
    const a = await open();
    const c = code(await a.checkout(sale, '1', 9, t0, t0 + HOLD));
    const t = ticket(await a.beginPurchase(sale, c, t0 + 1));
    expect(t).toMatchObject({ code: c, item: 9, user: '1' });
    expect(await a.beginPurchase(sale, c, t0 + 2)).toBe(Failures.codeUsed);
    await a.confirmPurchase(sale, c, t0 + 3);
    expect(await a.beginPurchase(sale, c, t0 + 4)).toBe(Failures.codeUsed);
    expect(await a.checkout(sale, '2', 9, t0 + 5, t0 + HOLD)).toBe(Failures.itemUnavailable);
    // Long after the hold would have expired, the item stays sold.
    expect(await a.checkout(sale, '2', 9, t0 + 10 * HOLD, t0 + 11 * HOLD)).toBe(Failures.itemUnavailable);
    expect(await a.itemStates(sale, 9, 10, t0 + 10 * HOLD)).toEqual(['sold']);
    expect(await a.stats(sale, t0 + 6)).toMatchObject({ sold: 1, reserved: 0 });
  });

  it('refuses an unknown code', async () => {
    const a = await open();
    expect(await a.beginPurchase(sale, '00000000-0000-4000-8000-000000000000', t0)).toBe(
      Failures.codeUnknown,
    );
  });

  it('puts the hold back when a purchase could not be written (abort)', async () => {
    const a = await open();
    const c = code(await a.checkout(sale, '1', 2, t0, t0 + HOLD));
    ticket(await a.beginPurchase(sale, c, t0 + 1));
    expect(await a.checkout(sale, '2', 2, t0 + 2, t0 + HOLD)).toBe(Failures.itemUnavailable);
    await a.abortPurchase(sale, c, t0 + 3);
    expect(await a.checkout(sale, '2', 2, t0 + 4, t0 + HOLD)).toBe(Failures.itemUnavailable);
    await buy(a, sale, c, t0 + 5);
    expect(await a.stats(sale, t0 + 6)).toMatchObject({ sold: 1 });
  });

  it('frees the item if the hold expired while the failed purchase was being written', async () => {
    const a = await open();
    const c = code(await a.checkout(sale, '1', 2, t0, t0 + 1_000));
    ticket(await a.beginPurchase(sale, c, t0 + 1));
    await a.abortPurchase(sale, c, t0 + 1_000);
    code(await a.checkout(sale, '2', 2, t0 + 1_001, t0 + HOLD));
  });

  it('releases a hold whose reservation could not be written: item free, code unknown', async () => {
    const a = await open(10, 1);
    const c = code(await a.checkout(sale, '1', 3, t0, t0 + HOLD));
    await a.release(sale, c);
    expect(await a.beginPurchase(sale, c, t0 + 1)).toBe(Failures.codeUnknown);
    // Neither the item nor the user's only slot stays taken.
    code(await a.checkout(sale, '1', 3, t0 + 2, t0 + HOLD));
  });

  it('marks the item sold but not to this code when the database had it sold (conflict)', async () => {
    const a = await open(10, 1);
    const c = code(await a.checkout(sale, '1', 5, t0, t0 + HOLD));
    ticket(await a.beginPurchase(sale, c, t0 + 1));
    await a.conflict(sale, c);
    expect(await a.checkout(sale, '2', 5, t0 + 2, t0 + HOLD)).toBe(Failures.itemUnavailable);
    expect(await a.beginPurchase(sale, c, t0 + 3)).toBe(Failures.codeUsed);
    // The user did not get the item: their slot is free again.
    code(await a.checkout(sale, '1', 6, t0 + 4, t0 + HOLD));
    expect(await a.stats(sale, t0 + 5)).toMatchObject({ sold: 1 });
  });

  it('starts every sale fresh: no hold, purchase or count leaks into the next', async () => {
    const a = await open(10, 1);
    const held = code(await a.checkout(sale, '1', 0, t0, next.startsAt + HOLD));
    const sold = code(await a.checkout(sale, '2', 1, t0, t0 + HOLD));
    await buy(a, sale, sold, t0 + 1);
    const n0 = next.startsAt;
    // Same items and users in the next sale: all free, counts at zero.
    code(await a.checkout(next, '1', 0, n0, n0 + HOLD));
    code(await a.checkout(next, '2', 1, n0, n0 + HOLD));
    // Codes of the previous sale mean nothing in this one.
    expect(await a.beginPurchase(next, held, n0 + 1)).toBe(Failures.codeUnknown);
    expect(await a.stats(next, n0 + 2)).toMatchObject({ sold: 0, reserved: 2 });
  });

  it('records when the sale sold out', async () => {
    const a = await open(2, 10);
    const c0 = code(await a.checkout(sale, '1', 0, t0, t0 + HOLD));
    const c1 = code(await a.checkout(sale, '1', 1, t0 + 1, t0 + HOLD));
    expect(await a.stats(sale, t0 + 2)).toEqual({
      sold: 0,
      reserved: 2,
      firstCheckoutAt: t0,
      soldOutAt: null,
    });
    await buy(a, sale, c0, t0 + 3);
    await buy(a, sale, c1, t0 + 4);
    expect(await a.stats(sale, t0 + 5)).toEqual({
      sold: 2,
      reserved: 0,
      firstCheckoutAt: t0,
      soldOutAt: t0 + 4,
    });
  });

  it('restores purchases and live reservations from the database, idempotently', async () => {
    const a = await open(10, 3);
    const live = '11111111-1111-4111-8111-111111111111';
    const snapshot = {
      purchases: [
        { code: '22222222-2222-4222-8222-222222222222', item: 0, user: '5' },
        { code: '33333333-3333-4333-8333-333333333333', item: 1, user: '5' },
      ],
      reservations: [
        { code: '44444444-4444-4444-8444-444444444444', item: 2, user: '6', expiresAt: t0 - 1 },
        { code: live, item: 3, user: '5', expiresAt: t0 + HOLD },
      ],
    };
    await a.restore(sale, snapshot, t0);
    await a.restore(sale, snapshot, t0);
    expect(await a.itemStates(sale, 0, 4, t0)).toEqual(['sold', 'sold', 'available', 'reserved']);
    expect(await a.stats(sale, t0)).toMatchObject({ sold: 2, reserved: 1 });
    // User 5 has 2 purchases and 1 live hold: at the limit of 3 (restoring twice did not double count).
    expect(await a.checkout(sale, '5', 4, t0 + 1, t0 + HOLD)).toBe(Failures.userLimit);
    expect(await a.beginPurchase(sale, '22222222-2222-4222-8222-222222222222', t0 + 1)).toBe(
      Failures.codeUsed,
    );
    // The restored live reservation is honoured.
    expect(ticket(await a.beginPurchase(sale, live, t0 + 2))).toMatchObject({ item: 3, user: '5' });
    await a.confirmPurchase(sale, live, t0 + 2);
    // The expired one is not: its item is free.
    code(await a.checkout(sale, '6', 2, t0 + 3, t0 + HOLD));
  });

  it('serves many users racing for few items: each item to exactly one', async () => {
    const a = await open(20, 10);
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, i) => a.checkout(sale, String(i % 40), i % 20, t0 + i, t0 + HOLD)),
    );
    const codes = answers.filter((x): x is string => typeof x === 'string');
    expect(codes).toHaveLength(20);
    const tickets = await Promise.all(codes.map((c) => a.beginPurchase(sale, c, t0 + 500)));
    const items = tickets.map((t) => ticket(t).item).sort((x, y) => x - y);
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
}
