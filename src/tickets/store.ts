import type { Queryable, Tx } from '../platform/db/client.ts';

/** SQL of the tickets module (migrations/0061_tickets.sql): one function per statement. */

export type TicketStatus = 'valid' | 'used' | 'revoked';

export interface TicketBooking {
  bookingId: number;
  eventId: number;
  userId: number;
  state: 'rendering' | 'ready';
  eventTitle: string;
  eventStartsAt: Date | null;
  venue: string | null;
  fileId: string | null;
  issuedAt: Date;
  revokedAt: Date | null;
}

export interface Ticket {
  id: number;
  bookingId: number;
  seatId: number;
  row: number | null;
  number: number | null;
  zone: string | null;
  status: TicketStatus;
  usedAt: Date | null;
}

export interface NewTicketBooking {
  bookingId: number;
  eventId: number;
  userId: number;
  eventTitle: string;
  eventStartsAt: Date | null;
  venue: string | null;
  seats: { seatId: number; row: number | null; number: number | null; zone: string | null }[];
}

interface BookingRecord {
  booking_id: string;
  event_id: string;
  user_id: string;
  state: 'rendering' | 'ready';
  event_title: string;
  event_starts_at: Date | null;
  venue: string | null;
  file_id: string | null;
  issued_at: Date;
  revoked_at: Date | null;
}

interface TicketRecord {
  id: string;
  booking_id: string;
  seat_id: string;
  seat_row: number | null;
  seat_number: number | null;
  zone: string | null;
  status: TicketStatus;
  used_at: Date | null;
}

const toBooking = (r: BookingRecord): TicketBooking => ({
  bookingId: Number(r.booking_id),
  eventId: Number(r.event_id),
  userId: Number(r.user_id),
  state: r.state,
  eventTitle: r.event_title,
  eventStartsAt: r.event_starts_at,
  venue: r.venue,
  fileId: r.file_id,
  issuedAt: r.issued_at,
  revokedAt: r.revoked_at,
});

const toTicket = (r: TicketRecord): Ticket => ({
  id: Number(r.id),
  bookingId: Number(r.booking_id),
  seatId: Number(r.seat_id),
  row: r.seat_row,
  number: r.seat_number,
  zone: r.zone,
  status: r.status,
  usedAt: r.used_at,
});

/**
 * The booking's row and one ticket per seat, unless the booking has a row already (a redelivery, or a
 * concurrent consumer: the primary key makes the second wait for the first and then insert nothing).
 * Returns whether this call wrote them.
 */
export async function insertTicketBooking(tx: Tx, b: NewTicketBooking): Promise<boolean> {
  const [row] = await tx<{ booking_id: string }[]>`
    insert into ticket_bookings (booking_id, event_id, user_id, event_title, event_starts_at, venue)
    values (${b.bookingId}, ${b.eventId}, ${b.userId}, ${b.eventTitle}, ${b.eventStartsAt}, ${b.venue})
    on conflict (booking_id) do nothing
    returning booking_id`;
  if (!row) return false;
  if (b.seats.length > 0) {
    await tx`
      insert into tickets (booking_id, seat_id, seat_row, seat_number, zone)
      select ${b.bookingId}, seat_id, seat_row, seat_number, zone
      from unnest(${b.seats.map((s) => s.seatId)}::int8[], ${b.seats.map((s) => s.row)}::int4[],
                  ${b.seats.map((s) => s.number)}::int4[], ${b.seats.map((s) => s.zone)}::text[])
        as t(seat_id, seat_row, seat_number, zone)
      order by seat_id`;
  }
  return true;
}

export async function findTicketBooking(
  db: Queryable,
  bookingId: number,
): Promise<TicketBooking | undefined> {
  const [row] = await db<BookingRecord[]>`select * from ticket_bookings where booking_id = ${bookingId}`;
  return row && toBooking(row);
}

export async function listTickets(db: Queryable, bookingId: number): Promise<Ticket[]> {
  const rows = await db<TicketRecord[]>`
    select * from tickets where booking_id = ${bookingId} order by seat_id`;
  return rows.map(toTicket);
}

/**
 * The booking's row if it still needs its PDF (rendering, not revoked), locked for the render so that the
 * consumer and the retry task never render one booking at once (the second skips it).
 */
export async function lockRendering(tx: Tx, bookingId: number): Promise<TicketBooking | undefined> {
  const [row] = await tx<BookingRecord[]>`
    select * from ticket_bookings
    where booking_id = ${bookingId} and state = 'rendering' and revoked_at is null
    for update skip locked`;
  return row && toBooking(row);
}

/** Bookings whose PDF is still to be made (a failed render), oldest first, issued before `before`. */
export async function listRendering(db: Queryable, before: Date, limit: number): Promise<number[]> {
  const rows = await db<{ booking_id: string }[]>`
    select booking_id from ticket_bookings
    where state = 'rendering' and revoked_at is null and issued_at < ${before}
    order by issued_at
    limit ${limit}`;
  return rows.map((r) => Number(r.booking_id));
}

/** rendering → ready with the stored file; false if it was ready already (the first file stays). */
export async function markReady(db: Queryable, bookingId: number, fileId: string): Promise<boolean> {
  const rows = await db`
    update ticket_bookings set state = 'ready', file_id = ${fileId}, ready_at = now()
    where booking_id = ${bookingId} and state = 'rendering'`;
  return rows.count > 0;
}

/** Every ticket of the booking revoked (used ones too: the money went back). Returns how many changed. */
export async function revokeBooking(tx: Tx, bookingId: number): Promise<number> {
  await tx`
    update ticket_bookings set revoked_at = now() where booking_id = ${bookingId} and revoked_at is null`;
  const rows = await tx`
    update tickets set status = 'revoked', revoked_at = now()
    where booking_id = ${bookingId} and status <> 'revoked'`;
  return rows.count;
}

/** After POST /api/reset: every booking up to `lastBookingId` is gone, and so are its tickets' seats. */
export async function revokeUpTo(tx: Tx, lastBookingId: number): Promise<number> {
  await tx`
    update ticket_bookings set revoked_at = now() where booking_id <= ${lastBookingId} and revoked_at is null`;
  const rows = await tx`
    update tickets set status = 'revoked', revoked_at = now()
    where booking_id <= ${lastBookingId} and status <> 'revoked'`;
  return rows.count;
}

/**
 * The scan: valid → used, atomically (the row lock makes a second scan of the same ticket wait for this one and
 * then find it used). Returns the ticket after the scan and whether this call used it.
 */
export async function useTicket(
  tx: Tx,
  claims: { ticketId: number; bookingId: number; seatId: number },
): Promise<{ ticket: Ticket; usedNow: boolean } | undefined> {
  const { ticketId, bookingId, seatId } = claims;
  const [used] = await tx<TicketRecord[]>`
    update tickets set status = 'used', used_at = now()
    where id = ${ticketId} and booking_id = ${bookingId} and seat_id = ${seatId} and status = 'valid'
    returning *`;
  if (used) return { ticket: toTicket(used), usedNow: true };
  const [row] = await tx<TicketRecord[]>`
    select * from tickets where id = ${ticketId} and booking_id = ${bookingId} and seat_id = ${seatId}`;
  return row && { ticket: toTicket(row), usedNow: false };
}
