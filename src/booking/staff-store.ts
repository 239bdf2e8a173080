import type { Queryable } from '../platform/db/client.ts';
import type { BookingStatus } from './store.ts';

/**
 * SQL of the staff routes (src/booking/staff-routes.ts): the whole seat map of an event in runs, its live
 * seat states, and the bookings lookup. Reads only; one function per statement, as in store.ts.
 */

/**
 * A run of seats: consecutive seat ids in one row and zone whose numbers go up by one. The stadium's
 * 100,000 seats are 1,000 runs (one per row). Maps never change once written, so callers cache these.
 */
export interface SeatRunRow {
  first_id: string;
  row_no: number;
  zone_id: string;
  first_number: number;
  n: number;
}

export async function seatRuns(
  db: Queryable,
  firstSeatId: number,
  lastSeatId: number,
): Promise<SeatRunRow[]> {
  // Gaps and islands: within a (row, zone), seats whose `seat_no - id` and `id - rank` are both constant
  // are consecutive in id and in number.
  return db<SeatRunRow[]>`
    select min(id) as first_id, row_no, zone_id, min(seat_no) as first_number, count(*)::int as n
    from (
      select id, row_no, zone_id, seat_no,
             id - row_number() over (partition by row_no, zone_id, seat_no - id order by id) as island
      from seats
      where id between ${firstSeatId} and ${lastSeatId}
    ) s
    group by row_no, zone_id, seat_no - id, island
    order by first_id`;
}

/** Seats with a live hold, a pending payment or a sale (expired holds are free and left out). */
export async function liveSeatStates(
  db: Queryable,
  firstSeatId: number,
  lastSeatId: number,
): Promise<{ seat_id: string; sold: boolean }[]> {
  return db<{ seat_id: string; sold: boolean }[]>`
    select seat_id, sold from booking_seats
    where seat_id between ${firstSeatId} and ${lastSeatId} and (held_until is null or held_until > now())`;
}

export interface StaffBookingFilter {
  eventId?: number | undefined;
  bookingId?: number | undefined;
  userId?: number | undefined;
}

export interface StaffBookingRow {
  id: string;
  event_id: string;
  user_id: string;
  status: BookingStatus;
  created_at: Date;
  updated_at: Date;
  seats: string[];
}

/**
 * Bookings matching every filter given, newest first, each with the seats it holds now. Each filter has an
 * index (the primary key; bookings_user; bookings_event), so a page costs the matching bookings, not all.
 */
export async function findStaffBookings(
  db: Queryable,
  filter: StaffBookingFilter,
  limit: number,
  offset: number,
): Promise<StaffBookingRow[]> {
  const where = [
    filter.bookingId === undefined ? db`true` : db`b.id = ${filter.bookingId}`,
    filter.eventId === undefined ? db`true` : db`b.event_id = ${filter.eventId}`,
    filter.userId === undefined ? db`true` : db`b.user_id = ${filter.userId}`,
  ];
  return db<StaffBookingRow[]>`
    select b.id, b.event_id, b.user_id, b.status, b.created_at, b.updated_at,
           array(select h.seat_id from booking_seats h
                 where h.booking_id = b.id and (h.held_until is null or h.held_until > now())
                 order by h.seat_id) as seats
    from bookings b
    where ${where[0]!} and ${where[1]!} and ${where[2]!}
    order by b.id desc
    limit ${limit} offset ${offset}`;
}
