import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Sql } from '../../platform/db/client.ts';
import { eventOfSeat } from './layout.ts';
import {
  EventSeatIndex,
  FREE,
  type IndexedSeat,
  NO_EXPIRY,
  type SeatCode,
  type SeatIndexQuery,
  SOLD,
} from './seat-index.ts';
import type { SeatMap } from './store.ts';

/** The channel migration 0032's triggers announce every change of `booking_seats` on. */
const SEAT_CHANNEL = 'booking_seats';

export interface SeatAvailabilityOptions {
  /** Most memory the indexes of all events may take; the least recently listed event goes first. */
  maxBytes: number;
  /** Longest wait for this process's own notification to come back (`sync`). */
  syncTimeoutMs: number;
  /** How often an idle listener is checked by a sync: a listener that went quiet stops serving listings. */
  heartbeatMs: number;
  /** Where the index's metrics go (the platform's `/metrics`). */
  registry?: Registry;
}

type DropReason = 'listener_connected' | 'reset' | 'sync_timeout' | 'stopped';

type Change = [seatId: number, code: SeatCode];

/** How many recent transactions `held` can tell apart: far more than can commit between a hold and its `200`. */
const HEARD = 65_536;

/**
 * `GET /api/seats` from memory: per event, an `EventSeatIndex` built from PostgreSQL on its first listing and
 * then kept exact by the notifications of `booking_seats`' triggers (migration 0032), which every process
 * receives at commit, in commit order, whoever wrote. PostgreSQL stays the authority for every hold: the
 * index only answers listings, and it is behind only by the notifications still in flight (docs/booking.md,
 * "Seat index"):
 *
 * - a hold this process made is applied at once, before its `200`, unless its notification came first (a
 *   listing here never shows it free, and a later change heard already is not undone);
 * - a release, cancel or reset made here waits for its own notification (`sync`) before its answer, so the
 *   next listing shows the seat free;
 * - changes made elsewhere (another API process, a payment in a worker) arrive within a notification's delay;
 * - an index built while changes are in flight replays what arrived during the build, and up to a sync after
 *   its snapshot, over the snapshot;
 * - a lost listener connection drops every index (whatever was missed is unknown) and the listing goes to
 *   PostgreSQL until the next sync succeeds.
 */
export class SeatAvailability {
  readonly #db: Sql;
  readonly #log: Logger;
  readonly #options: SeatAvailabilityOptions;
  /** Built indexes, least recently listed first (a Map keeps insertion order). */
  readonly #indexes = new Map<number, EventSeatIndex>();
  readonly #building = new Map<number, Promise<EventSeatIndex | undefined>>();
  /** Changes received while an event's index is being built: replayed over its snapshot. */
  readonly #pending = new Map<number, Change[]>();
  readonly #syncs = new Map<string, () => void>();
  /** Transactions whose notifications arrived lately (the last `HEARD` of them), for `held`. */
  readonly #heard = new Set<string>();
  readonly #heardOrder: string[] = [];
  #heardNext = 0;
  /** Tells this process's sync notifications apart from other processes'. */
  readonly #origin = randomUUID().slice(0, 8);
  #bytes = 0;
  /** Bumped whenever every index is dropped: a build that started before is discarded. */
  #generation = 0;
  #nextSync = 0;
  /** The listener, started on the first listing (a worker that never lists never listens). */
  #listening: Promise<boolean> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  /** A sync timed out: the listener may be deaf, so listings go to PostgreSQL until one succeeds. */
  #suspect = false;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #listings: Counter<'source'> | undefined;
  readonly #drops: Counter<'reason'> | undefined;

  constructor(db: Sql, logger: Logger, options: SeatAvailabilityOptions) {
    this.#db = db;
    this.#log = logger;
    this.#options = options;
    const registers = options.registry ? [options.registry] : [];
    if (registers.length === 0) return;
    this.#listings = new Counter({
      name: 'booking_seat_listings_total',
      help: 'GET /api/seats answers by source: the in-memory seat index, or PostgreSQL when it could not answer',
      labelNames: ['source'] as const,
      registers,
    });
    this.#drops = new Counter({
      name: 'booking_seat_index_drops_total',
      help: 'Times every seat index of the process was dropped, by reason (each event is rebuilt on its next listing)',
      labelNames: ['reason'] as const,
      registers,
    });
    const usage = () => this.usage;
    new Gauge({
      name: 'booking_seat_index_events',
      help: 'Events whose seat index is in memory',
      registers,
      collect() {
        this.set(usage().events);
      },
    });
    new Gauge({
      name: 'booking_seat_index_bytes',
      help: 'Memory the seat indexes take (bounded by BOOKING_SEAT_INDEX_MB)',
      registers,
      collect() {
        this.set(usage().bytes);
      },
    });
  }

  get enabled(): boolean {
    return this.#options.maxBytes > 0;
  }

  /** Memory the indexes take now, and how many events they cover. */
  get usage(): { bytes: number; events: number } {
    return { bytes: this.#bytes, events: this.#indexes.size };
  }

  /** The page from memory, or undefined when the index cannot answer (off, not listening): ask PostgreSQL. */
  async list(map: SeatMap, query: SeatIndexQuery): Promise<IndexedSeat[] | undefined> {
    const seats = await this.#list(map, query);
    this.#listings?.inc({ source: seats ? 'index' : 'database' });
    return seats;
  }

  async #list(map: SeatMap, query: SeatIndexQuery): Promise<IndexedSeat[] | undefined> {
    if (!this.enabled || !(await this.#listen()) || this.#suspect) return undefined;
    let index = this.#indexes.get(map.eventId);
    if (index) {
      // Most recently listed last: eviction takes the first.
      this.#indexes.delete(map.eventId);
      this.#indexes.set(map.eventId, index);
    } else {
      index = await this.#build(map);
      if (!index) return undefined;
    }
    return index.list(query, Date.now());
  }

  /**
   * A hold this process just committed (transaction `xid`, ending at `until`), applied before its `200` so a
   * listing here never shows the seat free. Exact: if the transaction's own notification already came back,
   * the index has the hold and perhaps later changes, and nothing is applied; if it has not, no later change
   * of the seat can have arrived either (notifications come in commit order).
   */
  held(seatId: number, until: Date, xid: string): void {
    if (this.#heard.has(xid)) return;
    // +1 ms: the database keeps microseconds, so the seat never reads free here before it does there.
    this.#indexOf(seatId)?.set(seatId, until.getTime() + 1);
  }

  /**
   * Resolves once every change committed before the call has reached this process's indexes: a notification
   * of our own, sent after those commits, comes back after theirs. On a timeout the indexes are dropped and
   * listings go to PostgreSQL until a sync succeeds.
   */
  async sync(): Promise<void> {
    // Nothing in memory to bring up to date (a build syncs after its own snapshot): no round trip.
    if (this.#indexes.size === 0 && this.#building.size === 0 && !this.#suspect) return;
    if (!this.#listening || !(await this.#listening)) return;
    const token = `sync:${this.#origin}:${++this.#nextSync}`;
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.#syncs.set(token, () => resolve(true));
      timer = setTimeout(() => resolve(false), this.#options.syncTimeoutMs);
    });
    try {
      await this.#db`select pg_notify(${SEAT_CHANNEL}, ${token})`;
      if (await arrived) {
        this.#suspect = false;
        return;
      }
      this.#log.warn(
        { timeoutMs: this.#options.syncTimeoutMs },
        'booking: the seat listener did not hear its own notification; listings go to PostgreSQL',
      );
      this.#suspect = true;
      this.#dropAll('sync_timeout');
    } finally {
      clearTimeout(timer);
      this.#syncs.delete(token);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    const listening = this.#listening;
    this.#listening = Promise.resolve(false);
    if (listening) await listening.catch(() => false);
    await this.#unlisten?.().catch(() => {});
    this.#dropAll('stopped');
  }

  #listen(): Promise<boolean> {
    this.#listening ??= this.#db
      .listen(
        SEAT_CHANNEL,
        (payload) => this.#receive(payload),
        // The first connection and every reconnection: what was announced meanwhile is unknown.
        () => this.#dropAll('listener_connected'),
      )
      .then(
        (meta) => {
          this.#unlisten = () => meta.unlisten();
          this.#heartbeat = setInterval(() => {
            if (this.#indexes.size > 0 || this.#suspect) {
              this.sync().catch((error: unknown) =>
                this.#log.warn({ err: error }, 'booking: seat sync failed'),
              );
            }
          }, this.#options.heartbeatMs).unref();
          return true;
        },
        (error: unknown) => {
          this.#log.warn(
            { err: error },
            'booking: cannot listen for seat changes; listings go to PostgreSQL',
          );
          this.#listening = undefined;
          return false;
        },
      );
    return this.#listening;
  }

  #receive(payload: string): void {
    if (payload.startsWith('sync:')) {
      this.#syncs.get(payload)?.();
      return;
    }
    if (payload === 'reset') {
      this.#dropAll('reset');
      return;
    }
    const bar = payload.indexOf('|');
    this.#hear(payload.slice(0, payload.indexOf('.')));
    const changes = payload.slice(bar + 1);
    for (const entry of changes.split(',')) {
      const colon = entry.indexOf(':');
      const seatId = Number(entry.slice(0, colon));
      const code = codeOf(entry.slice(colon + 1));
      const eventId = eventOfSeat(seatId);
      const index = this.#indexes.get(eventId);
      if (index) index.set(seatId, code);
      else this.#pending.get(eventId)?.push([seatId, code]);
    }
  }

  #hear(xid: string): void {
    if (this.#heard.has(xid)) return;
    const oldest = this.#heardOrder[this.#heardNext];
    if (oldest !== undefined) this.#heard.delete(oldest);
    this.#heardOrder[this.#heardNext] = xid;
    this.#heardNext = (this.#heardNext + 1) % HEARD;
    this.#heard.add(xid);
  }

  #indexOf(seatId: number): EventSeatIndex | undefined {
    return this.#indexes.get(eventOfSeat(seatId));
  }

  #build(map: SeatMap): Promise<EventSeatIndex | undefined> {
    let building = this.#building.get(map.eventId);
    if (!building) {
      building = this.#load(map).finally(() => this.#building.delete(map.eventId));
      this.#building.set(map.eventId, building);
    }
    return building;
  }

  async #load(map: SeatMap): Promise<EventSeatIndex | undefined> {
    const generation = this.#generation;
    // Recording starts before the snapshot is read and ends after a sync: a change is in the snapshot, in the
    // replay, or in both, and the replay (in commit order) ends each seat it touches in its newest state.
    const pending: Change[] = [];
    this.#pending.set(map.eventId, pending);
    try {
      const [seats, holds] = (await Promise.all([
        this.#db`
          select id, row_no, seat_no, zone_id from seats
          where id between ${map.firstSeatId} and ${map.lastSeatId}`.values(),
        this.#db`
          select seat_id, sold, ceil(extract(epoch from held_until) * 1000)::int8
          from booking_seats
          where seat_id between ${map.firstSeatId} and ${map.lastSeatId}
            and (held_until is null or held_until > now())`.values(),
      ])) as unknown as [[string, number, number, string][], [string, boolean, string | null][]];
      // Everything committed before the snapshot has been heard once our own notification, sent after it, is
      // back: the last change recorded for a seat is then at least as new as the snapshot's row.
      await this.sync();
      if (generation !== this.#generation) return undefined;
      const index = EventSeatIndex.build(
        map.eventId,
        map.firstSeatId,
        seats.map(([id, row, number, zoneId]) => ({ id: Number(id), row, number, zoneId: Number(zoneId) })),
      );
      for (const [seatId, sold, until] of holds) {
        index.set(Number(seatId), sold ? SOLD : until === null ? NO_EXPIRY : Number(until));
      }
      for (const [seatId, code] of pending) index.set(seatId, code);
      if (index.bytes > this.#options.maxBytes) {
        this.#log.warn(
          { eventId: map.eventId, bytes: index.bytes, maxBytes: this.#options.maxBytes },
          'booking: an event’s seat index is larger than BOOKING_SEAT_INDEX_MB; its listings go to PostgreSQL',
        );
        return undefined;
      }
      this.#indexes.set(map.eventId, index);
      this.#bytes += index.bytes;
      for (const [eventId, oldest] of this.#indexes) {
        if (this.#bytes <= this.#options.maxBytes) break;
        this.#indexes.delete(eventId);
        this.#bytes -= oldest.bytes;
      }
      return index;
    } finally {
      if (this.#pending.get(map.eventId) === pending) this.#pending.delete(map.eventId);
    }
  }

  #dropAll(reason: DropReason): void {
    if (this.#indexes.size > 0 || this.#building.size > 0) this.#drops?.inc({ reason });
    this.#generation++;
    this.#indexes.clear();
    this.#pending.clear();
    this.#bytes = 0;
  }
}

function codeOf(state: string): SeatCode {
  if (state === 'F') return FREE;
  if (state === 'S') return SOLD;
  if (state === 'N') return NO_EXPIRY;
  return Number(state);
}
