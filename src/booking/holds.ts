import type { Logger } from 'pino';
import type { Cache } from '../platform/cache/index.ts';
import type { Queryable, Sql } from '../platform/db/client.ts';
import { type PipelineStatement, pipelinedTransaction } from '../platform/db/pipelined.ts';
import {
  type BookingStatus,
  configureWrite,
  type HoldRequest,
  type HoldRoundRow,
  holdRound,
  lockBookingsShared,
  lockKeys,
} from './store.ts';

/** What became of one `PATCH /api/seats/select`. */
export type HoldOutcome =
  /**
   * The seat is the booking's until `heldUntil` (`fresh`: taken now, by transaction `xid`; else it already
   * was).
   */
  | { kind: 'held'; heldUntil: Date; fresh: true; xid: string }
  | { kind: 'held'; heldUntil: Date; fresh: false }
  /** Held or sold by another booking (`holder` unknown when it was taken by a concurrent transaction). */
  | { kind: 'taken'; holder: number | null; holderUntil: Date | null }
  | { kind: 'limit' }
  | { kind: 'closed'; status: BookingStatus }
  | { kind: 'no_booking' }
  | { kind: 'no_seat' };

export interface HoldSettings {
  holdMs: number;
  maxSeatsPerUser: number;
  lockTimeoutMs: number;
}

/**
 * Advisory lock namespaces (the two-int4 form of pg_advisory_xact_lock, whose key space is separate from
 * the one-bigint form other modules use). Seat keys: (SEAT_NS + high bits, low 31 bits) of the seat id.
 */
const USER_EVENT_NS = 0x42520000;
const SEAT_NS = 0x42530000;
const TWO_31 = 2 ** 31;

/** A 31-bit mix of a user and an event id (collisions only serialise two users' holds a little more). */
function userEventKey(userId: number, eventId: number): number {
  let h = Math.imul((userId % TWO_31) ^ 0x2f6b1d3, 0x9e3779b1);
  h = Math.imul(h ^ (eventId % TWO_31) ^ (h >>> 15), 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x7fffffff;
}

/**
 * Writes one group-committed batch of hold requests, in one transaction sent as one round trip
 * (`pipelinedTransaction`):
 *
 * 1. `lock_timeout`, then transaction-scoped advisory locks on every seat and every (user, event) of the
 *    batch, sorted: two batches in flight (or two API processes) touching the same seat or the same user
 *    queue behind each other instead of deadlocking, and a user's hold count cannot be raced past the limit;
 * 2. `FOR SHARE` on the batch's bookings, in id order: a concurrent cancel waits for this commit (or this
 *    batch waits for the cancel and then sees `cancelled`);
 * 3. the requests in rounds: a round has distinct seats and distinct (user, event) pairs and is one
 *    conditional statement (`holdRound`) that also writes the `seat.selected` event of each seat it takes; a
 *    later round sees the earlier ones' writes, so requests for the same seat or by the same user inside one
 *    batch are decided one after the other, in arrival order.
 *
 * Idempotent on retry: a seat already held by the same booking answers `held` without a new event.
 */
export function holdWriter(settings: HoldSettings) {
  return async (_tx: unknown, items: readonly HoldRequest[], db: Sql): Promise<HoldOutcome[]> => {
    let batch!: HoldBatch;
    const results = await pipelinedTransaction(db, (tx) => {
      batch = holdStatements(tx, items, settings);
      return batch.statements;
    });
    return batch.outcomes(results);
  };
}

interface HoldBatch {
  /** The queries, in order, not yet sent (a pipeline sends them; a caller's transaction may await them). */
  statements: PipelineStatement[];
  /** The outcome of each item, in order, from the statements' results. */
  outcomes(results: readonly unknown[]): HoldOutcome[];
}

/** The statements of one batch (see `holdWriter`), issued at once on `sql` inside the caller's transaction. */
export function holdStatements(
  sql: Queryable,
  items: readonly HoldRequest[],
  settings: HoldSettings,
): HoldBatch {
  const rounds: { requests: HoldRequest[]; ords: number[] }[] = [];
  const seatNext = new Map<number, number>();
  const userNext = new Map<string, number>();
  const keys = new Map<string, [number, number]>();
  const bookingIds = new Set<number>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const userKey = `${item.userId}:${item.eventId}`;
    const round = Math.max(seatNext.get(item.seatId) ?? 0, userNext.get(userKey) ?? 0);
    seatNext.set(item.seatId, round + 1);
    userNext.set(userKey, round + 1);
    const target = rounds[round] ?? { requests: [], ords: [] };
    rounds[round] = target;
    target.requests.push(item);
    target.ords.push(i);
    keys.set(`s${item.seatId}`, [SEAT_NS + Math.floor(item.seatId / TWO_31), item.seatId % TWO_31]);
    keys.set(`u${userKey}`, [USER_EVENT_NS, userEventKey(item.userId, item.eventId)]);
    bookingIds.add(item.bookingId);
  }
  const sorted = [...keys.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const statements: PipelineStatement[] = [
    configureWrite(sql, settings.lockTimeoutMs),
    lockKeys(
      sql,
      sorted.map((k) => k[0]),
      sorted.map((k) => k[1]),
    ),
    lockBookingsShared(
      sql,
      [...bookingIds].sort((a, b) => a - b),
    ),
    ...rounds.map((round) =>
      holdRound(sql, round.requests, round.ords, settings.holdMs, settings.maxSeatsPerUser),
    ),
  ];
  return {
    statements,
    outcomes(results) {
      const outcomes = new Array<HoldOutcome>(items.length);
      for (const rows of results.slice(3) as HoldRoundRow[][]) {
        for (const row of rows) outcomes[row.ord] = classify(row, items[row.ord]!, settings.maxSeatsPerUser);
      }
      return outcomes;
    },
  };
}

function classify(row: HoldRoundRow, item: HoldRequest, limit: number): HoldOutcome {
  if (row.took_until) return { kind: 'held', heldUntil: row.took_until, fresh: true, xid: row.xid };
  if (row.booking_status === null) return { kind: 'no_booking' };
  if (row.booking_status !== 'created') return { kind: 'closed', status: row.booking_status };
  if (!row.seat_found) return { kind: 'no_seat' };
  const holder = row.holder === null ? null : Number(row.holder);
  if (row.live && holder === item.bookingId && row.holder_until) {
    return { kind: 'held', heldUntil: row.holder_until, fresh: false };
  }
  if (row.live) return { kind: 'taken', holder, holderUntil: row.holder_until };
  if (row.user_seats >= limit) return { kind: 'limit' };
  // Free in this statement's snapshot, but a transaction that committed after it took the seat first.
  return { kind: 'taken', holder: null, holderUntil: null };
}

/**
 * The accelerator: remembers for a short while (at most `ttlMs`, never past the hold's end) which seats are
 * taken and by which booking, so a storm of selects on a seat that is obviously gone is answered 419 without
 * touching PostgreSQL. It only ever says "taken": a miss goes to the database, which decides. Entries come
 * from the database's own answers (a hold made, a hold seen) and are deleted, before the answer is sent,
 * when this platform releases the seat (release, cancel, reset). In the shared cache (Redis when configured),
 * so every API process sees the same entries.
 *
 * What it can get wrong is bounded by `ttlMs`: a seat freed by a path that does not pass through it (a
 * payment failing in a worker process, a race between a cancel and a hold of the same booking) may be
 * refused for at most that long. After `POST /api/reset` every entry naming a booking up to the last one
 * removed is ignored (`reset-mark`), at once in every process.
 */
export class TakenSeats {
  readonly #cache: Cache;
  readonly #ttlMs: number;
  readonly #log: Logger;
  static readonly MARK_KEY = 'booking:taken:reset-mark';

  constructor(cache: Cache, ttlMs: number, logger: Logger) {
    this.#cache = cache;
    this.#ttlMs = ttlMs;
    this.#log = logger;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** True when the seat is known to be held by a booking other than `bookingId`. */
  async takenByOther(seatId: number, bookingId: number): Promise<boolean> {
    if (this.#ttlMs === 0) return false;
    try {
      const [holder, mark] = await this.#cache.getMany([key(seatId), TakenSeats.MARK_KEY]);
      if (holder === undefined) return false;
      const holderId = Number(holder);
      return holderId !== bookingId && holderId > Number(mark ?? 0);
    } catch (error) {
      this.#log.warn({ err: error }, 'booking: taken-seat cache unavailable; asking the database');
      return false;
    }
  }

  /** Remembers that `holder` has the seat until `untilMs` (epoch ms; null = no expiry). Not awaited. */
  remember(seatId: number, holder: number, untilMs: number | null): void {
    if (this.#ttlMs === 0) return;
    const ttl = untilMs === null ? this.#ttlMs : Math.min(this.#ttlMs, untilMs - Date.now());
    if (ttl < 1) return;
    this.#cache.set(key(seatId), String(holder), ttl).catch((error: unknown) => {
      this.#log.debug({ err: error }, 'booking: could not remember a taken seat');
    });
  }

  /** Forgets the seats (they were just released): awaited before the release is acknowledged. */
  async forget(seatIds: readonly number[]): Promise<void> {
    if (this.#ttlMs === 0 || seatIds.length === 0) return;
    try {
      await Promise.all(seatIds.map((id) => this.#cache.delete(key(id))));
    } catch (error) {
      this.#log.warn({ err: error }, 'booking: could not forget released seats in the taken-seat cache');
    }
  }

  /** After a reset: entries naming bookings up to `lastBookingId` are void. */
  async reset(lastBookingId: number): Promise<void> {
    if (this.#ttlMs === 0) return;
    await this.#cache.set(TakenSeats.MARK_KEY, String(lastBookingId), 86_400_000);
  }
}

const key = (seatId: number) => `booking:taken:${seatId}`;
