import type { Logger } from 'pino';
import type { AuthenticatedUser } from '../identity/index.ts';
import { type Cache, CacheNamespace } from '../platform/cache/index.ts';
import type { Sql, Tx } from '../platform/db/client.ts';
import type { GroupCommitter } from '../platform/db/group-commit.ts';
import { publish } from '../platform/outbox/index.ts';
import { cancelLockedBooking } from './cancellation.ts';
import { BookingErrors } from './errors.ts';
import * as events from './events.ts';
import type { HoldOutcome, TakenSeats } from './holds.ts';
import type { SeatAvailability } from './seating/availability.ts';
import { eventOfSeat, seatOrdinal } from './seating/layout.ts';
import type { SeatMaps } from './seating/seat-maps.ts';
import { listSeats, type SeatMap, type SeatState } from './seating/store.ts';
import * as store from './store.ts';

export interface BookingSettings {
  holdMs: number;
  maxSeatsPerUser: number;
  lockTimeoutMs: number;
  analyticsCacheMs: number;
  resetEnabled: boolean;
}

export type SeatStatus = 'FREE' | 'RESERVED' | 'SOLD';
const STATUS_NAMES: readonly SeatStatus[] = ['FREE', 'RESERVED', 'SOLD'];
const STATE_OF: Record<SeatStatus, SeatState> = { FREE: 0, RESERVED: 1, SOLD: 2 };

export interface SeatView {
  id: number;
  row: number;
  number: number;
  status: SeatStatus;
  price: string;
}

export interface BookingView {
  id: number;
  event_id: number;
  seats: { id: number }[];
}

export interface EventAnalytics {
  event_id: number;
  total_seats: number;
  sold_seats: number;
  reserved_seats: number;
  free_seats: number;
  total_revenue: string;
  bookings_count: number;
}

export interface ZoneAnalytics {
  zone_id: number;
  name: string;
  price: string;
  total_seats: number;
  sold_seats: number;
  reserved_seats: number;
  free_seats: number;
  revenue: string;
}

export interface EventZoneAnalytics extends EventAnalytics {
  zones: ZoneAnalytics[];
}

export interface BookingServiceDeps {
  db: Sql;
  cache: Cache;
  logger: Logger;
  seatMaps: SeatMaps;
  holds: GroupCommitter<store.HoldRequest, HoldOutcome>;
  creates: GroupCommitter<store.NewBooking, number>;
  taken: TakenSeats;
  availability: SeatAvailability;
  settings: BookingSettings;
}

/**
 * What the booking module needs from payments (src/payments/ connects itself with `connectPayments`): without
 * it a paid booking cannot be cancelled (409) and a cancelled one has no payment to stop.
 */
export interface BookingPaymentsPort {
  /** In the transaction that cancels a booking pending payment: mark its payment as to be given back. */
  cancelling(tx: Tx, bookingId: number): Promise<void>;
  /** After that transaction committed: give the payment back at the gateway (best effort; reconciled later). */
  cancelled(bookingId: number): void;
  /**
   * The buyer cancels a paid booking: refund it through the gateway (the booking becomes refunded). Resolves
   * `refunded`, or `pending` when the gateway's answer is still unknown (the refund completes later).
   */
  refund(booking: { id: number; eventId: number; userId: number }): Promise<'refunded' | 'pending'>;
  /** In `POST /api/reset`'s transaction: forget every payment. */
  reset(tx: Tx): Promise<void>;
}

/** Owner and event of a booking never change: remembered per process (ids are never reused). */
interface Owner {
  userId: number;
  eventId: number;
}
const MAX_OWNERS = 200_000;

/**
 * `GET /api/bookings` without paging: besides every booking with seats or a payment, this many of the newest
 * others (a booking just created and still empty, a recent cancel); older empty ones are left out.
 */
export const RECENT_OTHER_BOOKINGS = 100;

/**
 * The booking use cases (docs/booking.md). Rules: a hold lasts `holdMs` and an expired hold is a free seat at
 * once, for everyone; a user holds or owns at most `maxSeatsPerUser` seats of an event; only the owner of a
 * booking may add to it, release its seats or cancel it; seats are added only to a `created` booking; a
 * booking pending payment or paid keeps its seats. PostgreSQL decides every hold; the taken-seat cache only
 * turns away requests for seats the database already refused or gave to someone else.
 */
export class BookingService {
  readonly settings: BookingSettings;
  readonly seatMaps: SeatMaps;
  readonly #db: Sql;
  readonly #cache: Cache;
  readonly #log: Logger;
  readonly #holds: GroupCommitter<store.HoldRequest, HoldOutcome>;
  readonly #creates: GroupCommitter<store.NewBooking, number>;
  readonly #taken: TakenSeats;
  /** Answers listings from memory (docs/booking.md, "Seat index"); PostgreSQL when it cannot. */
  readonly availability: SeatAvailability;
  readonly #owners = new Map<number, Owner>();
  readonly #analytics: CacheNamespace;
  #payments: BookingPaymentsPort | undefined;

  constructor(deps: BookingServiceDeps) {
    this.settings = deps.settings;
    this.seatMaps = deps.seatMaps;
    this.#db = deps.db;
    this.#cache = deps.cache;
    this.#log = deps.logger;
    this.#holds = deps.holds;
    this.#creates = deps.creates;
    this.#taken = deps.taken;
    this.availability = deps.availability;
    this.#analytics = new CacheNamespace(deps.cache, 'booking-analytics');
  }

  /** Called once by the payments module when it starts. */
  connectPayments(port: BookingPaymentsPort): void {
    this.#payments = port;
  }

  // ---- seats -------------------------------------------------------------------------------------------

  async listSeats(
    eventId: number,
    q: { page: number; pageSize: number; row?: number | undefined; status?: SeatStatus | undefined },
  ): Promise<SeatView[]> {
    const map = await this.#mapOrThrow(eventId);
    if (!map) return [];
    const offset = (q.page - 1) * q.pageSize;
    if (offset >= map.capacity) return [];
    const query = {
      row: q.row,
      state: q.status === undefined ? undefined : STATE_OF[q.status],
      limit: q.pageSize,
      offset,
    };
    const indexed = await this.availability.list(map, query);
    if (indexed) {
      return indexed.map((seat) => ({
        id: seat.id,
        row: seat.row,
        number: seat.number,
        status: STATUS_NAMES[seat.state]!,
        price: map.zoneById.get(seat.zoneId)!.price,
      }));
    }
    const rows = await listSeats(this.#db, { map, ...query });
    return rows.map((r) => ({
      id: Number(r.id),
      row: r.row,
      number: r.number,
      status: STATUS_NAMES[r.state]!,
      price: map.zoneById.get(Number(r.zone_id))!.price,
    }));
  }

  // ---- bookings ----------------------------------------------------------------------------------------

  async createBooking(user: AuthenticatedUser, eventId: number): Promise<{ id: number }> {
    const map = await this.#mapOrThrow(eventId);
    const event = await this.seatMaps.event(eventId);
    if (!map || !event || event.datetimeStart.getTime() <= Date.now())
      throw BookingErrors.salesClosed(eventId);
    const id = await this.#creates.add({ eventId, userId: user.id });
    this.#remember(id, { userId: user.id, eventId });
    return { id };
  }

  /**
   * `GET /api/bookings`: a page of all the user's bookings, or without paging every booking that holds seats,
   * is pending payment or is paid, plus the newest others (`RECENT_OTHER_BOOKINGS`).
   */
  async listBookings(
    user: AuthenticatedUser,
    paging?: { page: number; pageSize: number },
  ): Promise<BookingView[]> {
    const rows = paging
      ? await store.listUserBookings(this.#db, user.id, paging.pageSize, (paging.page - 1) * paging.pageSize)
      : await store.listCurrentUserBookings(this.#db, user.id, RECENT_OTHER_BOOKINGS);
    return rows.map((r) => ({
      id: Number(r.id),
      event_id: Number(r.event_id),
      seats: r.seats.map((id) => ({ id: Number(id) })),
    }));
  }

  /** `PATCH /api/seats/select`: holds the seat for the booking; resolves once the hold is durable. */
  async selectSeat(user: AuthenticatedUser, bookingId: number, seatId: number): Promise<{ heldUntil: Date }> {
    const owner = await this.#ownerOf(user, bookingId);
    const map = await this.seatMaps.existing(owner.eventId);
    if (!map || eventOfSeat(seatId) !== owner.eventId || seatOrdinal(seatId) > map.capacity) {
      throw (await this.seatMaps.forSeat(seatId))
        ? BookingErrors.seatNotInEvent(seatId, owner.eventId)
        : BookingErrors.seatNotFound(seatId);
    }
    if (await this.#taken.takenByOther(seatId, bookingId)) throw BookingErrors.seatTaken(seatId);
    const outcome = await this.#holds
      .add({ seatId, bookingId, userId: user.id, eventId: owner.eventId })
      .catch(busyOrThrow);
    switch (outcome.kind) {
      case 'held':
        if (outcome.fresh) {
          this.availability.held(seatId, outcome.heldUntil, outcome.xid);
          this.#taken.remember(seatId, bookingId, outcome.heldUntil.getTime());
        }
        return { heldUntil: outcome.heldUntil };
      case 'taken':
        if (outcome.holder !== null) {
          this.#taken.remember(seatId, outcome.holder, outcome.holderUntil?.getTime() ?? null);
        }
        throw BookingErrors.seatTaken(seatId);
      case 'limit':
        throw BookingErrors.holdLimit(this.settings.maxSeatsPerUser, owner.eventId);
      case 'closed':
        throw BookingErrors.notOpen(bookingId, outcome.status);
      case 'no_booking':
        this.#owners.delete(bookingId);
        throw BookingErrors.bookingNotFound(bookingId);
      case 'no_seat':
        throw BookingErrors.seatNotFound(seatId);
    }
  }

  /** `PATCH /api/seats/release`: the holder gives the seat back. */
  async releaseSeat(user: AuthenticatedUser, seatId: number): Promise<void> {
    if (!(await this.seatMaps.forSeat(seatId))) throw BookingErrors.seatNotFound(seatId);
    await this.#db
      .begin(async (tx) => {
        await store.configureWrite(tx, this.settings.lockTimeoutMs);
        const holder = await store.liveHolder(tx, seatId);
        if (!holder) throw BookingErrors.seatNotHeld(seatId);
        if (Number(holder.user_id) !== user.id) throw BookingErrors.seatForbidden(seatId);
        const bookingId = Number(holder.booking_id);
        // Bookings before seats, as everywhere (docs/booking.md, "Locking").
        const booking = await store.lockBooking(tx, bookingId, 'share');
        if (!booking) throw BookingErrors.seatNotHeld(seatId);
        if (booking.status !== 'created') throw BookingErrors.seatLocked(seatId, booking.status);
        if (!(await store.deleteLiveHold(tx, seatId, bookingId))) throw BookingErrors.seatNotHeld(seatId);
        await publish(
          tx,
          events.seatReleased({
            seatId,
            bookingId,
            eventId: booking.eventId,
            userId: booking.userId,
            reason: 'released',
          }),
        );
      })
      .catch(busyOrThrow);
    await Promise.all([this.#taken.forget([seatId]), this.availability.sync()]);
  }

  /** `PATCH /api/bookings/cancel`: a new or pending-payment booking is cancelled and its seats freed. */
  /**
   * Cancels the caller's booking. Unpaid: its seats are freed at once and its payment, if one was started, is
   * given back. Paid: refunded through the gateway (payments), up to 12 hours before the event. Resolves
   * `pending` when a refund is asked for but the gateway's answer is still unknown.
   */
  async cancelBooking(user: AuthenticatedUser, bookingId: number): Promise<'done' | 'pending'> {
    await this.#ownerOf(user, bookingId);
    const payments = this.#payments;
    const outcome = await this.#db
      .begin(async (tx) => {
        await store.configureWrite(tx, this.settings.lockTimeoutMs);
        const booking = await store.lockBooking(tx, bookingId, 'update');
        if (!booking) throw BookingErrors.bookingNotFound(bookingId);
        if (booking.status === 'cancelled' || booking.status === 'refunded') return { released: [] };
        if (booking.status === 'paid') {
          if (!payments) throw BookingErrors.notCancellable(bookingId, booking.status);
          return { released: [], refund: booking };
        }
        if (booking.status === 'pending_payment') await payments?.cancelling(tx, bookingId);
        const released = await cancelLockedBooking(tx, booking, 'cancelled');
        return { released, paying: booking.status === 'pending_payment' };
      })
      .catch(busyOrThrow);
    await Promise.all([
      this.#taken.forget(outcome.released),
      outcome.released.length > 0 ? this.availability.sync() : undefined,
    ]);
    if (outcome.paying) payments?.cancelled(bookingId);
    if (outcome.refund && payments) {
      const refunded = await payments.refund(outcome.refund);
      return refunded === 'refunded' ? 'done' : 'pending';
    }
    return 'done';
  }

  /** The caller's booking as it is now: 404 unknown, 403 someone else's. */
  async ownedBooking(user: AuthenticatedUser, bookingId: number): Promise<store.BookingRow> {
    await this.#ownerOf(user, bookingId);
    const booking = await store.findBooking(this.#db, bookingId);
    if (!booking) throw BookingErrors.bookingNotFound(bookingId);
    return booking;
  }

  /** Seats freed outside this service (a payment failed): turned away by no cache from now on. */
  async seatsFreed(seatIds: readonly number[]): Promise<void> {
    await Promise.all([this.#taken.forget(seatIds), this.availability.sync()]);
  }

  // ---- analytics ---------------------------------------------------------------------------------------

  async analytics(eventId: number): Promise<EventAnalytics> {
    const { zones: _zones, ...totals } = await this.zoneAnalytics(eventId);
    return totals;
  }

  /**
   * Seats by status and revenue, per zone and in total, live: expired holds count as free. Two indexed
   * queries (a primary-key range over the event's held seats, and its bookings), cached for
   * `analyticsCacheMs` so a dashboard polling it costs little; a reset invalidates the cache.
   */
  async zoneAnalytics(eventId: number): Promise<EventZoneAnalytics> {
    const ttl = this.settings.analyticsCacheMs;
    const key = ttl > 0 ? await this.#analytics.key(String(eventId)) : '';
    if (ttl > 0) {
      const cached = await this.#cache.get(key);
      if (cached !== undefined) return JSON.parse(cached) as EventZoneAnalytics;
    }
    const map = await this.#mapOrThrow(eventId);
    const [counts, bookings] = map
      ? await Promise.all([
          store.countSeatsByZone(this.#db, map.firstSeatId, map.lastSeatId),
          store.countActiveBookings(this.#db, eventId),
        ])
      : [[], await store.countActiveBookings(this.#db, eventId)];
    const byZone = new Map(counts.map((c) => [Number(c.zone_id), c]));
    const zones: ZoneAnalytics[] = (map?.zones ?? []).map((zone) => {
      const c = byZone.get(zone.id);
      const sold = c?.sold ?? 0;
      const reserved = c?.reserved ?? 0;
      return {
        zone_id: zone.id,
        name: zone.name,
        price: zone.price,
        total_seats: zone.capacity,
        sold_seats: sold,
        reserved_seats: reserved,
        free_seats: zone.capacity - sold - reserved,
        revenue: c?.revenue ?? '0.00',
      };
    });
    const sum = (pick: (z: ZoneAnalytics) => number) => zones.reduce((total, z) => total + pick(z), 0);
    const result: EventZoneAnalytics = {
      event_id: eventId,
      total_seats: sum((z) => z.total_seats),
      sold_seats: sum((z) => z.sold_seats),
      reserved_seats: sum((z) => z.reserved_seats),
      free_seats: sum((z) => z.free_seats),
      total_revenue: addDecimals(zones.map((z) => z.revenue)),
      bookings_count: bookings,
      zones,
    };
    if (ttl > 0) await this.#cache.set(key, JSON.stringify(result), ttl);
    return result;
  }

  // ---- reset -------------------------------------------------------------------------------------------

  /** `POST /api/reset`: every booking and hold removed; users, events and seat maps kept. */
  async reset(): Promise<void> {
    if (!this.settings.resetEnabled) throw BookingErrors.resetDisabled();
    // Writes queued before the reset land before it, so none of them survives it.
    await Promise.all([this.#holds.flush(), this.#creates.flush()]);
    const last = await this.#db
      .begin(async (tx) => {
        await store.configureWrite(tx, Math.max(this.settings.lockTimeoutMs, 10_000));
        const lastBookingId = await store.deleteAllBookings(tx);
        await this.#payments?.reset(tx);
        await publish(tx, events.bookingsReset(lastBookingId));
        return lastBookingId;
      })
      .catch(busyOrThrow);
    this.#owners.clear();
    this.seatMaps.forgetEvents();
    await Promise.all([this.#taken.reset(last), this.#analytics.invalidate(), this.availability.sync()]);
    this.#log.info({ lastBookingId: last }, 'booking: reset, every booking and hold removed');
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  /** The event's seat map (generated on first use); undefined for an existing event without one; 404 else. */
  async #mapOrThrow(eventId: number): Promise<SeatMap | undefined> {
    const map = await this.seatMaps.forEvent(eventId);
    if (map) return map;
    if (!(await this.seatMaps.event(eventId))) throw BookingErrors.eventNotFound(eventId);
    return undefined;
  }

  /** The booking's owner and event after checking it is `user`'s: 404 unknown, 403 someone else's. */
  async #ownerOf(user: AuthenticatedUser, bookingId: number): Promise<Owner> {
    let owner = this.#owners.get(bookingId);
    if (!owner) {
      const booking = await store.findBooking(this.#db, bookingId);
      if (!booking) throw BookingErrors.bookingNotFound(bookingId);
      owner = { userId: booking.userId, eventId: booking.eventId };
      this.#remember(bookingId, owner);
    }
    if (owner.userId !== user.id) throw BookingErrors.forbidden(bookingId);
    return owner;
  }

  #remember(bookingId: number, owner: Owner): void {
    if (this.#owners.size >= MAX_OWNERS) {
      const oldest = this.#owners.keys().next();
      if (!oldest.done) this.#owners.delete(oldest.value);
    }
    this.#owners.set(bookingId, owner);
  }
}

/** A lock wait past `lock_timeout` (SQLSTATE 55P03) is contention, not failure: 503, retry. */
function busyOrThrow(error: unknown): never {
  if ((error as { code?: unknown } | null)?.code === '55P03') throw BookingErrors.busy();
  throw error;
}

/** Sums decimal strings with two decimals exactly (as integer cents). */
export function addDecimals(values: readonly string[]): string {
  let cents = 0n;
  for (const value of values) {
    const [whole = '0', fraction = ''] = value.split('.');
    const negative = whole.startsWith('-');
    const amount = BigInt(whole.replace('-', '')) * 100n + BigInt((fraction + '00').slice(0, 2));
    cents += negative ? -amount : amount;
  }
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}
