import { describe, expect, it } from 'vitest';
import {
  EventSeatIndex,
  FREE,
  NO_EXPIRY,
  type SeatPosition,
  SOLD,
} from '../../src/booking/seating/seat-index.ts';

/**
 * The index's listing against a brute-force model of `listSeats`' rules (SQL: rows in id order, or in seat
 * order within a row; a hold that ended is free; sold is sold), over random maps, states and queries.
 */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function brute(
  seats: SeatPosition[],
  codes: Map<number, number>,
  now: number,
  q: { row?: number; state?: 0 | 1 | 2; limit: number; offset: number },
) {
  const stateOf = (id: number) => {
    const code = codes.get(id) ?? FREE;
    return code === SOLD ? 2 : code === FREE || code <= now ? 0 : 1;
  };
  return [...seats]
    .filter((s) => q.row === undefined || s.row === q.row)
    .sort((a, b) => (q.row === undefined ? a.id - b.id : a.number - b.number))
    .map((s) => ({ ...s, state: stateOf(s.id) }))
    .filter((s) => q.state === undefined || s.state === q.state)
    .slice(q.offset, q.offset + q.limit);
}

describe('EventSeatIndex', () => {
  it.each([1, 2, 3, 4, 5])(
    'agrees with brute force over a random map, states and queries (seed %i)',
    (seed) => {
      const next = random(seed);
      const first = 700_001;
      const rows = 1 + Math.floor(next() * 8);
      const perRow = 1 + Math.floor(next() * 12);
      const seats: SeatPosition[] = [];
      for (let r = 1; r <= rows; r++) {
        for (let n = 1; n <= perRow; n++)
          seats.push({ id: first + seats.length, row: r, number: n, zoneId: 40 + (r % 3) });
      }
      // Seed 2 and up: a map whose seat numbers run against id order, so the row order is not id order.
      if (seed > 1) for (const seat of seats) seat.number = perRow + 1 - seat.number;
      const shuffled = [...seats].sort(() => next() - 0.5);
      const index = EventSeatIndex.build(7, first, shuffled);
      const codes = new Map<number, number>();
      const now = 1_000_000;
      for (let step = 0; step < 400; step++) {
        const seat = seats[Math.floor(next() * seats.length)]!;
        const roll = next();
        const code =
          roll < 0.2 ? FREE : roll < 0.35 ? SOLD : roll < 0.5 ? NO_EXPIRY : roll < 0.7 ? now - 1 : now + 1000;
        index.set(seat.id, code);
        codes.set(seat.id, code);
        const q = {
          row: next() < 0.5 ? undefined : 1 + Math.floor(next() * (rows + 1)),
          state: next() < 0.25 ? undefined : (Math.floor(next() * 3) as 0 | 1 | 2),
          limit: 1 + Math.floor(next() * 10),
          offset: Math.floor(next() * seats.length),
        };
        expect(index.list(q, now)).toEqual(brute(seats, codes, now, q));
      }
    },
  );

  it('an ended hold reads free at once; sold and held without expiry never do', () => {
    const index = EventSeatIndex.build(
      1,
      1,
      [1, 2, 3].map((id) => ({ id, row: 1, number: id, zoneId: 9 })),
    );
    index.set(1, 5_000);
    index.set(2, SOLD);
    index.set(3, NO_EXPIRY);
    expect([
      index.state(1, 4_999),
      index.state(1, 5_000),
      index.state(2, 1e15),
      index.state(3, 1e15),
    ]).toEqual([1, 0, 2, 1]);
    index.clear();
    expect([1, 2, 3].map((id) => index.state(id, 0))).toEqual([0, 0, 0]);
  });

  it('ignores seats outside the event and costs about 17 bytes a seat', () => {
    const seats = Array.from({ length: 100_000 }, (_, i) => ({
      id: i + 1,
      row: Math.floor(i / 100) + 1,
      number: (i % 100) + 1,
      zoneId: 1 + Math.floor(i / 20_000),
    }));
    const index = EventSeatIndex.build(1, 1, seats);
    index.set(100_001, SOLD);
    index.set(0, SOLD);
    expect(index.code(100_001)).toBe(FREE);
    expect(index.list({ state: 2, limit: 5, offset: 0 }, 0)).toEqual([]);
    // Float64 codes + Int32 rows + Int32 numbers + Uint8 zones; id order is row order, so no permutation.
    expect(index.bytes).toBeLessThan(100_000 * 17 + 1000 * 64 + 100);
  });
});
