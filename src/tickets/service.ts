import type { Readable } from 'node:stream';
import { type BookingStatusPayload, BookingTopics, seatLabels } from '../booking/index.ts';
import { getEvent } from '../catalog/index.ts';
import { getFileInfo, openFileStream, putFile } from '../files/api.ts';
import { appendAudit, auditFromPrincipal } from '../platform/audit/index.ts';
import type { Principal } from '../platform/auth/principal.ts';
import type { Platform } from '../platform/context.ts';
import type { Tx } from '../platform/db/client.ts';
import type { EventHandler, OutboxEvent } from '../platform/outbox/index.ts';
import { deriveKey, loadMasterKey } from '../platform/secrets/master-key.ts';
import { TicketErrors } from './errors.ts';
import { renderTicketsPdf } from './pdf.ts';
import * as store from './store.ts';
import { type TicketSigner, ticketSigner } from './token.ts';

/** The e-ticket use cases: issue on payment, revoke on refund, the gate's scan, the buyer's download. */

const signers = new WeakMap<Platform, Promise<TicketSigner>>();

/** The platform's ticket signer: Ed25519 from the master key (`deriveKey(master, 'ticket-signing')`). */
export function ticketSignerOf(platform: Platform): Promise<TicketSigner> {
  let signer = signers.get(platform);
  if (!signer) {
    signer = loadMasterKey(platform.config).then((master) =>
      ticketSigner(deriveKey(master, 'ticket-signing')),
    );
    signer.catch(() => signers.delete(platform));
    signers.set(platform, signer);
  }
  return signer;
}

/** The booking topics the tickets consumer reads, in the order they happen to a booking. */
export const TICKET_TOPICS = [
  BookingTopics.bookingPaid,
  BookingTopics.bookingRefunded,
  BookingTopics.bookingCancelled,
  BookingTopics.bookingsReset,
];

export const TICKETS_FILE_KIND = 'e-ticket';
const SYSTEM = { actorType: 'system', actorId: null } as const;

/**
 * The outbox handler (at-least-once, in position order, so a booking's payment is seen before its refund).
 * Issuing writes outside the cursor's transaction on purpose: each booking's tickets and its file are
 * committed as soon as they exist, so a later failure in the batch cannot roll back a link to a stored file.
 * A PDF that cannot be made now (the file store refuses) is left for the retry task rather than holding up
 * the events behind it: a refund must revoke tickets even while the store is read-only. Revocations are
 * database-only and commit with the cursor.
 */
export function ticketEventHandler(platform: Platform): EventHandler {
  const log = platform.logger.child({ module: 'tickets' });
  return async (event: OutboxEvent, tx: Tx) => {
    switch (event.topic) {
      case BookingTopics.bookingPaid: {
        const paid = event.payload as BookingStatusPayload;
        await claimTickets(platform, paid);
        const outcome = await renderTickets(platform, paid.bookingId).catch((error: unknown) => {
          log.warn(
            { err: error, bookingId: paid.bookingId },
            'tickets: the PDF could not be made now; the retry task will try again',
          );
          return 'deferred' as const;
        });
        log.debug({ bookingId: paid.bookingId, outcome }, 'tickets: booking paid');
        return;
      }
      case BookingTopics.bookingRefunded:
      case BookingTopics.bookingCancelled: {
        const { bookingId } = event.payload as { bookingId: number };
        const revoked = await store.revokeBooking(tx, bookingId);
        if (revoked > 0) log.info({ bookingId, revoked, topic: event.topic }, 'tickets: revoked');
        return;
      }
      case BookingTopics.bookingsReset: {
        const { lastBookingId } = event.payload as { lastBookingId: number };
        const revoked = await store.revokeUpTo(tx, lastBookingId);
        log.info({ lastBookingId, revoked }, 'tickets: every ticket of the reset bookings revoked');
        return;
      }
    }
  };
}

/**
 * Step 1 of issuing: commits the booking's row (state `rendering`) with one ticket per seat, unless it has
 * one. From then on the ticket ids are fixed: however often the PDF is rendered, it carries the same tokens.
 * Returns whether this call wrote them.
 */
export async function claimTickets(platform: Platform, paid: BookingStatusPayload): Promise<boolean> {
  const { db } = platform;
  if (await store.findTicketBooking(db, paid.bookingId)) return false;
  const [event, labels] = await Promise.all([getEvent(db, paid.eventId), seatLabels(db, paid.seatIds)]);
  const byId = new Map(labels.map((label) => [label.seatId, label]));
  return db.begin((tx) =>
    store.insertTicketBooking(tx, {
      bookingId: paid.bookingId,
      eventId: paid.eventId,
      userId: paid.userId,
      eventTitle: event?.title ?? `Событие · Event ${paid.eventId}`,
      eventStartsAt: event?.datetimeStart ?? null,
      venue: labels[0]?.venue ?? null,
      seats: [...new Set(paid.seatIds)].map((seatId) => {
        const label = byId.get(seatId);
        return { seatId, row: label?.row ?? null, number: label?.number ?? null, zone: label?.zone ?? null };
      }),
    }),
  );
}

export type RenderOutcome = 'issued' | 'skipped';

/**
 * Step 2: renders the PDF (deterministic: same tickets, same tokens, same bytes), stores it and links it
 * (`ready`), under the row's lock. `skipped` when there is nothing to do: ready already (a redelivery),
 * revoked, or being rendered by someone else right now. A crash after the file is stored and before the
 * link commits leaves the row `rendering`: the next attempt stores the same bytes again and links that copy.
 */
export async function renderTickets(platform: Platform, bookingId: number): Promise<RenderOutcome> {
  const signer = await ticketSignerOf(platform);
  return platform.db.begin(async (tx) => {
    const booking = await store.lockRendering(tx, bookingId);
    if (!booking) return 'skipped';
    const tickets = await store.listTickets(tx, bookingId);
    if (tickets.length === 0) return 'skipped';
    const pdf = await renderTicketsPdf(
      {
        bookingId,
        eventTitle: booking.eventTitle,
        eventStartsAt: booking.eventStartsAt,
        venue: booking.venue,
        issuedAt: booking.issuedAt,
        pages: tickets.map((t) => ({
          ticketId: t.id,
          seatId: t.seatId,
          row: t.row,
          number: t.number,
          zone: t.zone,
          token: signer.sign({ ticketId: t.id, bookingId, seatId: t.seatId }),
        })),
      },
      platform.config.TICKETS_TIME_ZONE,
    );
    const file = await putFile(platform, {
      filename: ticketsFilename(bookingId),
      contentType: 'application/pdf',
      body: pdf,
      metadata: {
        booking_id: String(bookingId),
        kind: TICKETS_FILE_KIND,
        event_id: String(booking.eventId),
        tickets: String(tickets.length),
      },
      actor: SYSTEM,
    });
    await store.markReady(tx, bookingId, file.fileId);
    return 'issued';
  });
}

export const RENDER_PENDING_TASK = 'tickets:render_pending';
/** The cron schedule's name (graphile-worker allows no ':' there). */
export const RENDER_PENDING_SCHEDULE = 'tickets_render_pending';
/** A row younger than this is the consumer's own work in progress. */
const RETRY_AFTER_MS = 60_000;

/**
 * The retry task (cron, every minute): renders the PDFs the consumer could not make (the store refused).
 * Returns how many it issued; failures are logged and left for the next run.
 */
export async function renderPendingTickets(
  platform: Platform,
  options: { olderThanMs?: number; limit?: number } = {},
): Promise<number> {
  const log = platform.logger.child({ module: 'tickets' });
  const before = new Date(Date.now() - (options.olderThanMs ?? RETRY_AFTER_MS));
  let issued = 0;
  for (const bookingId of await store.listRendering(platform.db, before, options.limit ?? 100)) {
    try {
      if ((await renderTickets(platform, bookingId)) === 'issued') issued++;
    } catch (error) {
      log.warn({ err: error, bookingId }, 'tickets: the PDF still cannot be made; next run tries again');
    }
  }
  if (issued > 0) log.info({ issued }, 'tickets: pending PDFs made');
  return issued;
}

export const ticketsFilename = (bookingId: number) => `tickets-booking-${bookingId}.pdf`;

export type ScanResult = 'valid' | 'already_used' | 'revoked' | 'invalid';

export interface ScannedTicket {
  id: number;
  booking_id: number;
  seat_id: number;
  event_id: number;
  event_title: string;
  event_starts_at: string | null;
  venue: string | null;
  row: number | null;
  number: number | null;
  zone: string | null;
  status: store.TicketStatus;
}

export interface ScanAnswer {
  result: ScanResult;
  ticket?: ScannedTicket;
  used_at?: string;
}

/**
 * The gate's scan. A token that is not ours (malformed, forged, tampered, or for a ticket we do not have) is
 * `invalid`; a genuine valid one becomes used in this transaction (exactly one of two simultaneous scans wins:
 * store.useTicket); a used or revoked one says so. Scans that found a ticket are audited with the scanner.
 */
export async function scanTicket(platform: Platform, token: string, scanner: Principal): Promise<ScanAnswer> {
  const claims = (await ticketSignerOf(platform)).verify(token);
  if (!claims) return { result: 'invalid' };
  return platform.db.begin(async (tx) => {
    const found = await store.useTicket(tx, claims);
    const booking = found && (await store.findTicketBooking(tx, claims.bookingId));
    if (!found || !booking) return { result: 'invalid' } satisfies ScanAnswer;
    const { ticket, usedNow } = found;
    const result: ScanResult = usedNow ? 'valid' : ticket.status === 'used' ? 'already_used' : 'revoked';
    await appendAudit(tx, {
      ...auditFromPrincipal(scanner),
      action: 'ticket.scan',
      resource: `ticket:${ticket.id}`,
      result: usedNow ? 'success' : 'denied',
      ...(usedNow ? {} : { reason: result }),
      metadata: { booking_id: ticket.bookingId, seat_id: ticket.seatId },
    });
    const answer: ScanAnswer = {
      result,
      ticket: {
        id: ticket.id,
        booking_id: ticket.bookingId,
        seat_id: ticket.seatId,
        event_id: booking.eventId,
        event_title: booking.eventTitle,
        event_starts_at: booking.eventStartsAt?.toISOString() ?? null,
        venue: booking.venue,
        row: ticket.row,
        number: ticket.number,
        zone: ticket.zone,
        status: ticket.status,
      },
    };
    if (ticket.usedAt) answer.used_at = ticket.usedAt.toISOString();
    return answer;
  });
}

/** The stored PDF of a booking whose owner and payment the caller checked, ready to stream. */
export async function openTicketsPdf(
  platform: Platform,
  bookingId: number,
): Promise<{ stream: Readable; sizeBytes: number; checksum: string; filename: string }> {
  const row = await store.findTicketBooking(platform.db, bookingId);
  if (row?.state !== 'ready' || !row.fileId || row.revokedAt) throw TicketErrors.notReady(bookingId);
  const info = await getFileInfo(platform, row.fileId);
  if (!info) {
    platform.logger.error(
      { bookingId, fileId: row.fileId },
      'tickets: the linked PDF is not in the file store',
    );
    throw TicketErrors.fileUnavailable(bookingId);
  }
  const stream = await openFileStream(platform, row.fileId);
  return {
    stream,
    sizeBytes: info.sizeBytes,
    checksum: info.checksum,
    filename: ticketsFilename(bookingId),
  };
}
