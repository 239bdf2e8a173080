import type { Logger } from 'pino';
import { getEvent } from '../../catalog/index.ts';
import type { EventSummary } from '../../catalog/types.ts';
import type { Sql } from '../../platform/db/client.ts';
import { capacityOf, eventOfSeat, layoutFor, MAX_SEATED_EVENT_ID, seatOrdinal } from './layout.ts';
import { analyzeSeatMaps, findSeatMap, initSetting, insertSeatMap, type SeatMap } from './store.ts';

/** booking_settings key of the seed lazily generated seat maps derive from (set by `boxoffice seed`). */
export const SEATMAP_SEED_KEY = 'seatmap_seed';

/** How long what the catalog said about an event is trusted (its start time decides whether it sells). */
const EVENT_TTL_MS = 60_000;
const MAX_EVENTS_CACHED = 50_000;
/** Maps from this size on (the stadium) are followed by fresh statistics of the seat tables. */
const ANALYZE_AFTER_SEATS = 10_000;

/**
 * The seat maps of events, generated on first use and then kept in memory: a map never changes once
 * written (seats are static inventory), so the cache needs no invalidation. Event 1's stadium is written by
 * `boxoffice seed`; every other event gets its map the first time someone lists its seats or books it, as
 * long as the event exists in the catalog and has not started (writing 10,000 maps up front would make the
 * first start slow for events nobody opens).
 */
export class SeatMaps {
  readonly #db: Sql;
  readonly #log: Logger;
  readonly #maps = new Map<number, SeatMap>();
  readonly #creating = new Map<number, Promise<SeatMap | undefined>>();
  readonly #events = new Map<number, { event: EventSummary | undefined; at: number }>();
  #seed: Promise<number> | undefined;

  constructor(db: Sql, logger: Logger) {
    this.#db = db;
    this.#log = logger;
  }

  /** The event as the catalog knows it (cached for a minute), or undefined. */
  async event(eventId: number): Promise<EventSummary | undefined> {
    const cached = this.#events.get(eventId);
    const now = Date.now();
    if (cached && now - cached.at < EVENT_TTL_MS) return cached.event;
    const event = await getEvent(this.#db, eventId);
    if (this.#events.size >= MAX_EVENTS_CACHED) this.#events.clear();
    this.#events.set(eventId, { event, at: now });
    return event;
  }

  /** The map if it exists already (never generates one). */
  async existing(eventId: number): Promise<SeatMap | undefined> {
    const cached = this.#maps.get(eventId);
    if (cached) return cached;
    if (!Number.isSafeInteger(eventId) || eventId < 1 || eventId > MAX_SEATED_EVENT_ID) return undefined;
    const map = await findSeatMap(this.#db, eventId);
    if (map) this.#maps.set(eventId, map);
    return map;
  }

  /**
   * The map of an existing event, generated now if the event has none yet and has not started. Undefined
   * when the catalog has no such event, or when a started event has no map (nothing was ever on sale).
   */
  async forEvent(eventId: number): Promise<SeatMap | undefined> {
    const map = await this.existing(eventId);
    if (map || eventId > MAX_SEATED_EVENT_ID || eventId < 1) return map;
    let creating = this.#creating.get(eventId);
    if (!creating) {
      creating = this.#create(eventId).finally(() => this.#creating.delete(eventId));
      this.#creating.set(eventId, creating);
    }
    return creating;
  }

  /** The map the seat belongs to, if the seat exists. */
  async forSeat(seatId: number): Promise<SeatMap | undefined> {
    const map = await this.existing(eventOfSeat(seatId));
    return map && seatOrdinal(seatId) <= map.capacity ? map : undefined;
  }

  /** Drops what is cached about events (not maps: they never change). */
  forgetEvents(): void {
    this.#events.clear();
  }

  async #create(eventId: number): Promise<SeatMap | undefined> {
    const event = await this.event(eventId);
    if (!event || event.datetimeStart.getTime() <= Date.now()) return undefined;
    const seed = await this.#layoutSeed();
    const layout = layoutFor(seed, eventId, event.type);
    const created = await this.#db.begin((tx) => insertSeatMap(tx, eventId, layout));
    if (created) {
      this.#log.info({ eventId, venue: layout.name, kind: layout.kind }, 'booking: seat map generated');
      // A stadium-sized map changes the table's statistics; a hall's does not (see analyzeSeatMaps).
      if (capacityOf(layout) >= ANALYZE_AFTER_SEATS) await analyzeSeatMaps(this.#db);
    }
    return this.existing(eventId);
  }

  #layoutSeed(): Promise<number> {
    this.#seed ??= initSetting(this.#db, SEATMAP_SEED_KEY, '1').then(Number, (error: unknown) => {
      this.#seed = undefined;
      throw error;
    });
    return this.#seed;
  }
}
