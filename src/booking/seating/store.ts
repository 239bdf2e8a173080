import type { Queryable, Tx } from '../../platform/db/client.ts';
import { capacityOf, firstSeatId, seatChunks, type VenueLayout } from './layout.ts';

/** SQL of the seat maps: venues, zones and seats (migrations/0030_booking.sql). Static once written. */

export interface Zone {
  id: number;
  position: number;
  name: string;
  /** Decimal string, e.g. `40000.00`. */
  price: string;
  capacity: number;
}

export interface SeatMap {
  eventId: number;
  venueId: number;
  name: string;
  kind: string;
  capacity: number;
  /** Seat ids of the event are `firstSeatId..lastSeatId`, all of them. */
  firstSeatId: number;
  lastSeatId: number;
  zones: Zone[];
  /** Zone by id. */
  zoneById: Map<number, Zone>;
}

interface VenueRecord {
  id: string;
  event_id: string;
  name: string;
  kind: string;
  capacity: number;
  zones: { id: number; position: number; name: string; price: string; capacity: number }[];
}

export async function findSeatMap(db: Queryable, eventId: number): Promise<SeatMap | undefined> {
  const [venue] = await db<VenueRecord[]>`
    select v.id, v.event_id, v.name, v.kind, v.capacity,
           (select json_agg(json_build_object('id', z.id, 'position', z.position, 'name', z.name,
                                              'price', z.price::text, 'capacity', z.capacity)
                            order by z.position)
            from venue_zones z where z.venue_id = v.id) as zones
    from venues v where v.event_id = ${eventId}`;
  return venue && toSeatMap(venue);
}

function toSeatMap(venue: VenueRecord): SeatMap {
  const eventId = Number(venue.event_id);
  const zones = venue.zones.map((z) => ({ ...z, id: Number(z.id) }));
  return {
    eventId,
    venueId: Number(venue.id),
    name: venue.name,
    kind: venue.kind,
    capacity: venue.capacity,
    firstSeatId: firstSeatId(eventId),
    lastSeatId: firstSeatId(eventId) + venue.capacity - 1,
    zones,
    zoneById: new Map(zones.map((z) => [z.id, z])),
  };
}

/**
 * Writes the seat map of `eventId` once: the venue row is claimed first (`on conflict do nothing`), so of
 * two processes generating the same map at once one writes it and the other waits for its commit and
 * writes nothing. Returns whether this call wrote it. Seats go in chunks (`onSeats` reports progress).
 */
export async function insertSeatMap(
  tx: Tx,
  eventId: number,
  layout: VenueLayout,
  onSeats?: (n: number) => void,
): Promise<boolean> {
  const capacity = capacityOf(layout);
  const [venue] = await tx<{ id: string }[]>`
    insert into venues (event_id, name, kind, capacity)
    values (${eventId}, ${layout.name}, ${layout.kind}, ${capacity})
    on conflict (event_id) do nothing
    returning id`;
  if (!venue) return false;
  const zones = await tx<{ id: string; position: number }[]>`
    insert into venue_zones (venue_id, event_id, position, name, price, capacity)
    select ${venue.id}, ${eventId}, position, name, price, capacity
    from unnest(${layout.zones.map((_, i) => i + 1)}::int2[], ${layout.zones.map((z) => z.name)}::text[],
                ${layout.zones.map((z) => String(z.price))}::numeric[],
                ${layout.zones.map((z) => z.rows * z.seatsPerRow)}::int4[])
      as t(position, name, price, capacity)
    order by position
    returning id, position`;
  const zoneIds = zones.sort((a, b) => a.position - b.position).map((z) => Number(z.id));
  for (const chunk of seatChunks(eventId, layout, 20_000)) {
    await tx`
      insert into seats (id, event_id, zone_id, row_no, seat_no)
      select id, ${eventId}, zone_id, row_no, seat_no
      from unnest(${literal(chunk.map((s) => s.id))}::int8[], ${literal(chunk.map((s) => zoneIds[s.zone]!))}::int8[],
                  ${literal(chunk.map((s) => s.row))}::int4[], ${literal(chunk.map((s) => s.number))}::int4[])
        as t(id, zone_id, row_no, seat_no)`;
    onSeats?.(chunk.length);
  }
  return true;
}

/**
 * Fresh statistics for the seat-map tables after a bulk load. Without them (autovacuum off, or not yet
 * round) the planner guesses a row of the stadium holds 3 seats, and the FREE listing of a row probes all
 * of its seats and sorts them instead of walking the row's index and stopping when the page is full.
 */
export async function analyzeSeatMaps(db: Queryable): Promise<void> {
  await db`analyze venues, venue_zones, seats`;
}

export async function countSeats(db: Queryable, eventId: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from seats where event_id = ${eventId}`;
  return row?.n ?? 0;
}

export async function hasSeatMaps(db: Queryable): Promise<boolean> {
  const [row] = await db<{ any: boolean }[]>`select exists (select 1 from venues) as any`;
  return row?.any ?? false;
}

export async function getSetting(db: Queryable, key: string): Promise<string | undefined> {
  const [row] = await db<{ value: string }[]>`select value from booking_settings where key = ${key}`;
  return row?.value;
}

/** Sets `key` unless it is set already; returns the value in force. */
export async function initSetting(db: Queryable, key: string, value: string): Promise<string> {
  await db`insert into booking_settings (key, value) values (${key}, ${value}) on conflict (key) do nothing`;
  return (await getSetting(db, key)) ?? value;
}

/** 0 free, 1 reserved (held or pending payment), 2 sold: what `GET /api/seats` shows. */
export type SeatState = 0 | 1 | 2;

export interface SeatListRow {
  id: string;
  row: number;
  number: number;
  zone_id: string;
  state: SeatState;
}

export interface SeatListQuery {
  map: SeatMap;
  row?: number | undefined;
  state?: SeatState | undefined;
  limit: number;
  offset: number;
}

/**
 * A page of an event's seats in id order (row by row), with their live status: a seat is FREE when nobody
 * holds it or its hold has expired, whatever a sweeper has or has not tidied yet. Every shape is driven by
 * primary-key ranges (an event's seat ids are contiguous), so no page costs a scan of all the seats:
 * - no filter: the page's ids are known arithmetically;
 * - `row`: the (event, row, seat) index (at most a row's seats);
 * - RESERVED / SOLD: the event's live holds in seat order;
 * - FREE: the first free seat of the page is found from the live holds alone (free seats before the j-th
 *   hold = its id − first id − j), reading holds only up to it; then seats are walked from there, skipping
 *   held ones. A deep page costs a scan of the holds before it, never of all the seats.
 */
export async function listSeats(db: Queryable, q: SeatListQuery): Promise<SeatListRow[]> {
  const lo = q.map.firstSeatId;
  const hi = q.map.lastSeatId;
  // Per-seat status as a scalar subquery: always one primary-key probe per seat, whatever the statistics of
  // booking_seats say (right after sales open they lag far behind, and a cached plan that hashes the whole
  // table would stay). A seat without a row is free.
  const state = db`coalesce((select case when h.held_until <= now() then 0 when h.sold then 2 else 1 end
                             from booking_seats h where h.seat_id = s.id), 0)`;
  const live = db`(h.held_until is null or h.held_until > now())`;
  if (q.row !== undefined) {
    // The (event, row, seat) index gives the row's seats in seat order, which is id order: with a status the
    // filter probes seats one by one and stops as soon as the page is full.
    return db<SeatListRow[]>`
      select s.id, s.row_no as row, s.seat_no as number, s.zone_id, ${state} as state
      from seats s
      where s.event_id = ${q.map.eventId} and s.row_no = ${q.row}
        ${q.state === undefined ? db`` : db`and ${state} = ${q.state}`}
      order by s.seat_no
      limit ${q.limit} offset ${q.offset}`;
  }
  if (q.state === undefined) {
    return db<SeatListRow[]>`
      select s.id, s.row_no as row, s.seat_no as number, s.zone_id, ${state} as state
      from seats s
      where s.id between ${lo + q.offset} and ${Math.min(hi, lo + q.offset + q.limit - 1)}
      order by s.id`;
  }
  if (q.state !== 0) {
    const byState = q.state === 1 ? db`not h.sold and ${live}` : db`h.sold`;
    return db<SeatListRow[]>`
      select s.id, s.row, s.number, s.zone_id, ${q.state}::int as state
      from booking_seats h
      cross join lateral (
        select s.id, s.row_no as row, s.seat_no as number, s.zone_id from seats s where s.id = h.seat_id offset 0
      ) s
      where h.seat_id between ${lo} and ${hi} and ${byState}
      order by h.seat_id
      limit ${q.limit} offset ${q.offset}`;
  }
  // Holds in seat order, each with the number of free seats before it (non-decreasing): the page's first free
  // seat is first id + offset + (holds before it), i.e. + the rank of the first hold with more free seats
  // before it than `offset` (the scan stops there), or + all holds when none has. From there seats are walked
  // in id order, each probed, until the page is full.
  return db<SeatListRow[]>`
    with ranked as (
      select row_number() over (order by h.seat_id) - 1 as j,
             h.seat_id - ${lo} - (row_number() over (order by h.seat_id) - 1) as free_before
      from booking_seats h
      where h.seat_id between ${lo} and ${hi} and ${live}
      order by h.seat_id
    ),
    first as (
      select ${lo}::int8 + ${q.offset} + coalesce(
        (select j from ranked where free_before > ${q.offset} limit 1),
        (select count(*) from booking_seats h where h.seat_id between ${lo} and ${hi} and ${live})
      ) as id
    )
    select id, row, number, zone_id, 0 as state from (
      select s.id, s.row_no as row, s.seat_no as number, s.zone_id,
             (select 1 from booking_seats h where h.seat_id = s.id and ${live}) as held
      from seats s
      where s.id between (select id from first) and ${hi}
      order by s.id
      offset 0
    ) x
    where held is null
    limit ${q.limit}`;
}

/** A PostgreSQL array literal of integers: cheaper to send than the driver's per-element encoding. */
export function literal(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** How a seat is printed on a ticket: its row, number, zone and venue (for the tickets module). */
export interface SeatLabel {
  seatId: number;
  row: number;
  number: number;
  zone: string;
  venue: string;
}

/** Labels of the seats that exist among `seatIds` (seats are static: any seat ever sold keeps its row). */
export async function seatLabels(db: Queryable, seatIds: readonly number[]): Promise<SeatLabel[]> {
  if (seatIds.length === 0) return [];
  const rows = await db<{ id: string; row_no: number; seat_no: number; zone: string; venue: string }[]>`
    select s.id, s.row_no, s.seat_no, z.name as zone, v.name as venue
    from seats s
    join venue_zones z on z.id = s.zone_id
    join venues v on v.id = z.venue_id
    where s.id = any(${literal(seatIds)}::int8[])
    order by s.id`;
  return rows.map((r) => ({
    seatId: Number(r.id),
    row: r.row_no,
    number: r.seat_no,
    zone: r.zone,
    venue: r.venue,
  }));
}
