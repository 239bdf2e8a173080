import type { Queryable, Tx } from '../platform/db/client.ts';
import { BookingTopics } from './events.ts';
import { literal } from './seating/store.ts';

/**
 * SQL of bookings and holds (migrations/0030_booking.sql): one function per statement. Functions that
 * write take a transaction handle, so the service owns the boundary and the lock order (docs/booking.md,
 * "Locking").
 */

export type BookingStatus = 'created' | 'pending_payment' | 'paid' | 'cancelled' | 'refunded';

export interface BookingRow {
  id: number;
  eventId: number;
  userId: number;
  status: BookingStatus;
}

interface BookingRecord {
  id: string;
  event_id: string;
  user_id: string;
  status: BookingStatus;
}

const toBooking = (r: BookingRecord): BookingRow => ({
  id: Number(r.id),
  eventId: Number(r.event_id),
  userId: Number(r.user_id),
  status: r.status,
});

// ---- bookings ----------------------------------------------------------------------------------------

export interface NewBooking {
  eventId: number;
  userId: number;
}

/**
 * Inserts bookings in input order and returns their ids in the same order, with one `booking.created` event
 * each (as `events.bookingCreated` writes it) in the same statement: one statement is one transaction in
 * autocommit, so a batch costs one round trip. Ids are drawn in insertion order (`order by ord`), so id order
 * is input order; the caller checks each row's event and user against its input all the same.
 */
export async function insertBookings(
  db: Queryable,
  items: readonly NewBooking[],
): Promise<{ id: number; eventId: number; userId: number; createdAt: Date }[]> {
  const rows = await db<{ id: string; event_id: string; user_id: string; created_at: Date }[]>`
    with made as (
      insert into bookings (event_id, user_id)
      select event_id, user_id
      from unnest(${literal(items.map((b) => b.eventId))}::int8[], ${literal(items.map((b) => b.userId))}::int8[])
        with ordinality as t(event_id, user_id, ord)
      order by ord
      returning id, event_id, user_id, created_at
    ),
    announced as (
      insert into outbox_events (topic, key, payload)
      select ${BookingTopics.bookingCreated}::text, m.id::text,
             jsonb_build_object('bookingId', m.id, 'eventId', m.event_id, 'userId', m.user_id,
                                'createdAt', to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      from made m
      order by m.id
    )
    select id, event_id, user_id, created_at from made order by id`;
  return rows.map((r) => ({
    id: Number(r.id),
    eventId: Number(r.event_id),
    userId: Number(r.user_id),
    createdAt: r.created_at,
  }));
}

export async function findBooking(db: Queryable, id: number): Promise<BookingRow | undefined> {
  const [row] = await db<BookingRecord[]>`
    select id, event_id, user_id, status from bookings where id = ${id}`;
  return row && toBooking(row);
}

/** Locks the booking row (`update`: for a status change; `share`: to keep its status while seats move). */
export async function lockBooking(
  tx: Tx,
  id: number,
  mode: 'share' | 'update',
): Promise<BookingRow | undefined> {
  const [row] =
    mode === 'update'
      ? await tx<
          BookingRecord[]
        >`select id, event_id, user_id, status from bookings where id = ${id} for update`
      : await tx<
          BookingRecord[]
        >`select id, event_id, user_id, status from bookings where id = ${id} for share`;
  return row && toBooking(row);
}

export async function setBookingStatus(tx: Tx, id: number, status: BookingStatus): Promise<void> {
  await tx`update bookings set status = ${status}, updated_at = now() where id = ${id}`;
}

export interface UserBookingRow {
  id: string;
  event_id: string;
  seats: string[];
}

/**
 * The bookings that matter to a user, newest first, each with the seats it holds now: every booking with a
 * live seat (a hold, a pending payment, a sale), every booking pending payment or paid (even if its holds ran
 * out), and the newest `recent` of the others (empty, cancelled, refunded). Each part is read from its own
 * index, so the user's other bookings (unbounded: a client may create one per attempt) are never walked.
 */
export async function listCurrentUserBookings(
  db: Queryable,
  userId: number,
  recent: number,
): Promise<UserBookingRow[]> {
  return db<UserBookingRow[]>`
    with wanted as (
      select booking_id as id from booking_seats
      where user_id = ${userId} and (held_until is null or held_until > now())
      union
      select id from bookings where user_id = ${userId} and status in ('pending_payment', 'paid')
      union
      (select id from bookings where user_id = ${userId} order by id desc limit ${recent})
    )
    select b.id, b.event_id,
           array(select h.seat_id from booking_seats h
                 where h.booking_id = b.id and (h.held_until is null or h.held_until > now())
                 order by h.seat_id) as seats
    from wanted w join bookings b on b.id = w.id
    order by b.id desc`;
}

/** A page of a user's bookings, newest first, each with the seats it holds now (expired holds left out). */
export async function listUserBookings(
  db: Queryable,
  userId: number,
  limit: number,
  offset: number,
): Promise<UserBookingRow[]> {
  return db<UserBookingRow[]>`
    select b.id, b.event_id,
           array(select h.seat_id from booking_seats h
                 where h.booking_id = b.id and (h.held_until is null or h.held_until > now())
                 order by h.seat_id) as seats
    from bookings b
    where b.user_id = ${userId}
    order by b.id desc
    limit ${limit} offset ${offset}`;
}

// ---- holds -------------------------------------------------------------------------------------------

/**
 * Takes transaction-scoped advisory locks on the given (k1, k2) keys in the order given (the caller sorts
 * them, so every transaction takes them in one global order and two batches never deadlock on them).
 */
export function lockKeys(tx: Queryable, k1: readonly number[], k2: readonly number[]) {
  return tx`
    select count(*) from (
      select pg_advisory_xact_lock(k1, k2) from unnest(${literal(k1)}::int4[], ${literal(k2)}::int4[]) as t(k1, k2)
    ) locked`;
}

/** `FOR SHARE` on bookings, in id order: their status cannot change until this transaction ends. */
export function lockBookingsShared(tx: Queryable, ids: readonly number[]) {
  return tx`
    select count(*) from (
      select id from bookings where id = any(${literal(ids)}::int8[]) order by id for share
    ) locked`;
}

export interface HoldRequest {
  seatId: number;
  bookingId: number;
  userId: number;
  eventId: number;
}

export interface HoldRoundRow {
  ord: number;
  booking_status: BookingStatus | null;
  seat_found: boolean;
  live: boolean;
  holder: string | null;
  holder_until: Date | null;
  user_seats: number;
  zone_id: string | null;
  price: string | null;
  took_until: Date | null;
  /** The transaction's id (`pg_current_xact_id`), as `booking_seats`' change notifications carry it. */
  xid: string;
}

/**
 * One conditional write for a set of hold requests with distinct seats and distinct (user, event) pairs:
 * each request takes its seat if its booking is still `created`, the seat belongs to the booking's event, the
 * seat is free (no row, or an expired hold: replaced in place) and the user holds fewer than `limit` live
 * seats of the event. The `on conflict … where` re-checks expiry on the row as it is when locked, so a hold
 * committed by another transaction after this statement's snapshot is never overwritten. Each seat taken is
 * announced in the same statement (`seat.selected`, as `events.seatSelected` writes it), so the batch needs
 * no second round trip. Returns, per request (`ord`), what it saw and whether it took the seat (`took_until`).
 */
export function holdRound(
  tx: Queryable,
  requests: readonly HoldRequest[],
  ords: readonly number[],
  holdMs: number,
  limit: number,
) {
  return tx<HoldRoundRow[]>`
    with req as (
      select * from unnest(${literal(requests.map((r) => r.seatId))}::int8[],
                           ${literal(requests.map((r) => r.bookingId))}::int8[],
                           ${literal(requests.map((r) => r.userId))}::int8[],
                           ${literal(requests.map((r) => r.eventId))}::int8[],
                           ${literal(ords)}::int4[])
        as r(seat_id, booking_id, user_id, event_id, ord)
    ),
    chk as (
      select r.ord, r.seat_id, r.booking_id, r.user_id, r.event_id,
             b.status as booking_status,
             s.zone_id, z.price,
             h.booking_id as holder, h.held_until as holder_until,
             (h.seat_id is not null and (h.held_until is null or h.held_until > now())) as live,
             (select count(*) from booking_seats c
              where c.user_id = r.user_id and c.event_id = r.event_id
                and (c.held_until is null or c.held_until > now()))::int as user_seats
      from req r
      left join bookings b on b.id = r.booking_id and b.user_id = r.user_id and b.event_id = r.event_id
      left join seats s on s.id = r.seat_id and s.event_id = r.event_id
      left join venue_zones z on z.id = s.zone_id
      left join booking_seats h on h.seat_id = r.seat_id
    ),
    took as (
      insert into booking_seats as bs (seat_id, booking_id, event_id, user_id, zone_id, price, held_at, held_until)
      select seat_id, booking_id, event_id, user_id, zone_id, price, now(),
             now() + ${holdMs} * interval '1 millisecond'
      from chk
      where booking_status = 'created' and zone_id is not null and not live and user_seats < ${limit}
      order by seat_id
      on conflict (seat_id) do update
        set booking_id = excluded.booking_id, event_id = excluded.event_id, user_id = excluded.user_id,
            zone_id = excluded.zone_id, price = excluded.price, held_at = excluded.held_at,
            held_until = excluded.held_until, sold = false
        where bs.held_until <= now()
      returning bs.seat_id, bs.booking_id, bs.event_id, bs.user_id, bs.zone_id, bs.price, bs.held_until
    ),
    announced as (
      insert into outbox_events (topic, key, payload)
      select ${BookingTopics.seatSelected}::text, t.seat_id::text,
             jsonb_build_object('seatId', t.seat_id, 'bookingId', t.booking_id, 'eventId', t.event_id,
                                'userId', t.user_id, 'zoneId', t.zone_id, 'price', t.price::text,
                                -- as toISOString() writes it (UTC, milliseconds, Z): both truncate the microseconds
                                'heldUntil', to_char(t.held_until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      from took t
      order by t.seat_id
    )
    select c.ord, c.booking_status, c.zone_id is not null as seat_found, c.live, c.holder, c.holder_until,
           c.user_seats, c.zone_id, c.price::text as price, t.held_until as took_until,
           pg_current_xact_id()::text as xid
    from chk c left join took t on t.seat_id = c.seat_id`;
}

export interface HolderRow {
  booking_id: string;
  user_id: string;
  event_id: string;
  held_until: Date | null;
  sold: boolean;
}

/** Who holds the seat now (a live hold, a pending payment or a sale), if anyone. */
export async function liveHolder(db: Queryable, seatId: number): Promise<HolderRow | undefined> {
  const [row] = await db<HolderRow[]>`
    select booking_id, user_id, event_id, held_until, sold from booking_seats
    where seat_id = ${seatId} and (held_until is null or held_until > now())`;
  return row;
}

/** Deletes the seat's live hold if it is still `bookingId`'s (and not sold); true if it did. */
export async function deleteLiveHold(tx: Tx, seatId: number, bookingId: number): Promise<boolean> {
  const rows = await tx`
    delete from booking_seats
    where seat_id = ${seatId} and booking_id = ${bookingId} and not sold
      and (held_until is null or held_until > now())
    returning seat_id`;
  return rows.length > 0;
}

/**
 * Deletes every seat row of a booking (live holds and expired leftovers), locking them in seat order first;
 * returns the seats that were live, i.e. that the deletion gave back.
 */
export async function deleteBookingSeats(tx: Tx, bookingId: number): Promise<number[]> {
  const rows = await tx<{ seat_id: string; live: boolean }[]>`
    with locked as (
      select seat_id from booking_seats where booking_id = ${bookingId} order by seat_id for update
    )
    delete from booking_seats h using locked
    where h.seat_id = locked.seat_id
    returning h.seat_id, (h.held_until is null or h.held_until > now()) as live`;
  return rows
    .filter((r) => r.live)
    .map((r) => Number(r.seat_id))
    .sort((a, b) => a - b);
}

export interface BookingSeatRow {
  seat_id: string;
  price: string;
}

/** The live seats of a booking with their prices, locked in seat order. */
export async function lockLiveBookingSeats(tx: Tx, bookingId: number): Promise<BookingSeatRow[]> {
  return tx<BookingSeatRow[]>`
    select seat_id, price::text as price from booking_seats
    where booking_id = ${bookingId} and (held_until is null or held_until > now())
    order by seat_id
    for update`;
}

/** Pending payment: the booking's live holds stop expiring (`until` null) or run until `until`. */
export async function setHoldsUntil(tx: Tx, bookingId: number, until: Date | null): Promise<void> {
  await tx`
    update booking_seats set held_until = ${until}
    where booking_id = ${bookingId} and (held_until is null or held_until > now())`;
}

/** Paid: the booking's seats are sold; leftovers of expired holds are removed. */
export async function markSeatsSold(tx: Tx, bookingId: number): Promise<void> {
  await tx`delete from booking_seats where booking_id = ${bookingId} and held_until <= now()`;
  await tx`update booking_seats set sold = true, held_until = null where booking_id = ${bookingId}`;
}

// ---- sweeper -----------------------------------------------------------------------------------------

export interface ExpiredRow {
  seat_id: string;
  booking_id: string;
  event_id: string;
  user_id: string;
}

/**
 * Deletes up to `limit` expired holds. Rows locked by someone else (a hold taking the seat over right now)
 * are skipped, so the sweeper never waits on, or deadlocks with, the hot path.
 */
export async function deleteExpiredHolds(tx: Tx, limit: number): Promise<ExpiredRow[]> {
  return tx<ExpiredRow[]>`
    with expired as (
      select seat_id from booking_seats where held_until <= now()
      order by seat_id limit ${limit} for update skip locked
    )
    delete from booking_seats h using expired
    where h.seat_id = expired.seat_id and h.held_until <= now()
    returning h.seat_id, h.booking_id, h.event_id, h.user_id`;
}

// ---- analytics ---------------------------------------------------------------------------------------

export interface ZoneCountRow {
  zone_id: string;
  sold: number;
  reserved: number;
  revenue: string;
}

/** Sold and live-reserved seats and revenue per zone of an event (a primary-key range scan). */
export async function countSeatsByZone(db: Queryable, firstSeatId: number, lastSeatId: number) {
  return db<ZoneCountRow[]>`
    select zone_id,
           count(*) filter (where sold)::int as sold,
           count(*) filter (where not sold and (held_until is null or held_until > now()))::int as reserved,
           coalesce(sum(price) filter (where sold), 0)::numeric(16, 2)::text as revenue
    from booking_seats
    where seat_id between ${firstSeatId} and ${lastSeatId}
    group by zone_id`;
}

/** Bookings of an event that are not cancelled or refunded. */
export async function countActiveBookings(db: Queryable, eventId: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    select count(*)::int as n from bookings
    where event_id = ${eventId} and status in ('created', 'pending_payment', 'paid')`;
  return row?.n ?? 0;
}

// ---- reset -------------------------------------------------------------------------------------------

/**
 * Removes every booking and hold (seat maps stay). Ids are not restarted: a booking id is never reused, so
 * what processes remember about a booking id (its owner) can never describe another booking.
 */
export async function deleteAllBookings(tx: Tx): Promise<number> {
  const [row] = await tx<{ last: string | null }[]>`select max(id) as last from bookings`;
  await tx`truncate booking_seats, bookings`;
  return Number(row?.last ?? 0);
}

/**
 * Settings of every write transaction of the module: the lock wait bound, and index access only. The
 * module's statements are all keyed lookups, but their cached generic plans are made from table statistics
 * that lag behind a rush: right after sales open (or a reset's TRUNCATE) `booking_seats` looks empty, and a
 * plan that scans it per hold stays cached while it grows to 100,000 rows. Seq scans remain possible where
 * nothing else is (the sweeper).
 */
export function configureWrite(tx: Queryable, lockTimeoutMs: number) {
  return tx.unsafe(
    `set local lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}; set local enable_seqscan = off`,
  );
}
