import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEvent } from '../../src/catalog/index.ts';
import { protectedRoutes } from '../../src/platform/auth/access.ts';
import { ticketSignerOf, verifyTicketToken } from '../../src/tickets/index.ts';
import { eventDateLine } from '../../src/tickets/pdf.ts';
import { ticketSigner } from '../../src/tickets/token.ts';
import {
  EVENT_TITLE,
  fetchPdf,
  paidBooking,
  readPdf,
  startTicketsServer,
  type TicketsServer,
} from './harness.ts';

let server: TicketsServer;
beforeAll(async () => {
  server = await startTicketsServer({ users: 2 });
});
afterAll(async () => {
  await server?.stop();
});

interface TicketRow {
  id: string;
  seat_id: string;
  status: string;
  used_at: Date | null;
}
const ticketsOf = (bookingId: number) =>
  server.sql<
    TicketRow[]
  >`select id, seat_id, status, used_at from tickets where booking_id = ${bookingId} order by seat_id`;
const fileOf = async (bookingId: number) =>
  (
    await server.sql<{ file_id: string | null; state: string }[]>`
    select file_id, state from ticket_bookings where booking_id = ${bookingId}`
  )[0];

const verify = (token: unknown, auth = `Bearer ${server.scanner}`) =>
  server.client.send('POST', '/api/tickets/verify', { body: { token }, headers: { authorization: auth } });

/** The tokens a booking's tickets carry, made by the same function the PDF's QR codes come from. */
async function tokensOf(bookingId: number): Promise<string[]> {
  const signer = await ticketSignerOf(server.platform);
  return (await ticketsOf(bookingId)).map((t) =>
    signer.sign({ ticketId: Number(t.id), bookingId, seatId: Number(t.seat_id) }),
  );
}

/** Files the store holds under the tickets' filename (its search API, as an admin of files would ask). */
async function storedPdfs(bookingId: number): Promise<string[]> {
  const response = await server.client.send(
    'GET',
    `/api/files?filename=${encodeURIComponent(`tickets-booking-${bookingId}.pdf`)}`,
    { headers: { authorization: `Bearer ${server.scanner}` } },
  );
  expect(response.status, response.body).toBe(200);
  return response.json().items.map((f: { file_id: string }) => f.file_id);
}

describe('e-tickets for a paid booking', () => {
  let bookingId: number;
  let pdf: Buffer;

  it('paid through the gateway: 404 until the consumer has made the PDF, then the PDF', async () => {
    const [buyer] = server.users;
    bookingId = await paidBooking(server, buyer!, [2, 12]);
    const early = await fetchPdf(server, bookingId, buyer!.auth);
    expect(early.response.status).toBe(404);
    expect(JSON.parse(early.bytes.toString()).code).toBe('TICKETS_NOT_READY');

    expect(await server.deliver()).toBeGreaterThan(0);
    const ready = await fetchPdf(server, bookingId, buyer!.auth);
    expect(ready.response.status).toBe(200);
    expect(ready.response.headers.get('content-type')).toBe('application/pdf');
    expect(ready.response.headers.get('content-disposition')).toBe(
      `attachment; filename="tickets-booking-${bookingId}.pdf"`,
    );
    expect(Number(ready.response.headers.get('content-length'))).toBe(ready.bytes.length);
    expect(ready.bytes.subarray(0, 5).toString()).toBe('%PDF-');
    pdf = ready.bytes;

    const row = await fileOf(bookingId);
    expect(row?.state).toBe('ready');
    const info = await server.client.send('GET', `/api/files/${row!.file_id}/metadata`, {
      headers: { authorization: `Bearer ${server.scanner}` },
    });
    expect(info.status, info.body).toBe(200);
    expect(JSON.stringify(info.json())).toContain('e-ticket');
    expect(JSON.stringify(info.json())).toContain(String(bookingId));
  });

  it('one page per seat: the Russian title, the date, the venue, the seat and booking, and a QR code', async () => {
    const { pages, qrCodes } = await readPdf(pdf);
    const startsAt = (await getEvent(server.sql, server.eventId))!.datetimeStart;
    expect(eventDateLine(startsAt, 'Europe/Moscow')).toMatch(
      /^\d{1,2} \p{L}+ \d{4} г\.,? (в )?\d{2}:\d{2} \(Europe\/Moscow\)$/u,
    );
    expect(pages).toHaveLength(2);
    // Seat 2 is row 1 seat 2 of zone A; seat 12 is row 3 (the first row of zone B) seat 2.
    const seats = ['Ряд 1 · Место 2 · Зона A', 'Ряд 3 · Место 2 · Зона B'];
    pages.forEach((text, i) => {
      const flat = text.replace(/\s+/g, ' ');
      expect(flat).toContain(EVENT_TITLE);
      expect(flat).toContain(seats[i]);
      expect(flat).toContain('Test hall');
      expect(flat).toContain(`Booking ${bookingId}`);
      expect(flat).toContain(eventDateLine(startsAt, 'Europe/Moscow'));
    });
    // The QR codes decoded from the page images are the tickets' tokens, and verify with the published key.
    const tokens = await tokensOf(bookingId);
    expect(qrCodes).toEqual(tokens.map((t) => [t]));
    const published = (await server.client.get('/api/tickets/public-key')).json();
    const key = createPublicKey(published.pem);
    expect(
      createPublicKey({ key: published.jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }),
    ).toBe(published.pem);
    const tickets = await ticketsOf(bookingId);
    qrCodes.forEach(([code], i) => {
      expect(verifyTicketToken(code!, key)).toEqual({
        ticketId: Number(tickets[i]!.id),
        bookingId,
        seatId: Number(tickets[i]!.seat_id),
      });
    });
  });

  it('a redelivered booking.paid makes no second PDF and no new tickets', async () => {
    const before = await fileOf(bookingId);
    const tickets = await ticketsOf(bookingId);
    await server.rewind();
    expect(await server.deliver()).toBeGreaterThan(0);
    expect(await fileOf(bookingId)).toEqual(before);
    expect(await ticketsOf(bookingId)).toEqual(tickets);
    expect(await storedPdfs(bookingId)).toEqual([before!.file_id]);
  });

  it('a crash between storing the file and linking it: the re-render carries the same tickets, byte for byte', async () => {
    const before = await fileOf(bookingId);
    // What a crash after putFile and before the link leaves: the row still rendering, no file linked.
    await server.sql`update ticket_bookings set state = 'rendering', file_id = null where booking_id = ${bookingId}`;
    await server.rewind();
    await server.deliver();
    const after = await fileOf(bookingId);
    expect(after?.state).toBe('ready');
    const again = await fetchPdf(server, bookingId, server.users[0]!.auth);
    expect(again.bytes.equals(pdf)).toBe(true);
    // The unlinked first file holds the same tokens: still one set of tickets for the booking.
    expect((await storedPdfs(bookingId)).sort()).toEqual([before!.file_id, after!.file_id].sort());
  });

  it('the PDF route: another user 403, no credentials 401, unknown and unpaid bookings 404', async () => {
    const [buyer, other] = server.users;
    expect((await fetchPdf(server, bookingId, other!.auth)).response.status).toBe(403);
    const anonymous = await fetchPdf(server, bookingId);
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await fetchPdf(server, 999_999, buyer!.auth)).response.status).toBe(404);
    const unpaid = await server.client.book(buyer!, server.eventId);
    const answer = await fetchPdf(server, unpaid, buyer!.auth);
    expect(answer.response.status).toBe(404);
    expect(JSON.parse(answer.bytes.toString()).code).toBe('TICKETS_BOOKING_NOT_PAID');
    expect((await fetchPdf(server, unpaid, other!.auth)).response.status).toBe(403);
    expect((await server.client.get('/api/bookings/abc/tickets.pdf', buyer!.auth)).status).toBe(400);
  });
});

describe('POST /api/tickets/verify', () => {
  it('every tickets route is in /openapi.json', async () => {
    const paths = Object.keys((await server.client.get('/openapi.json')).json().paths);
    for (const path of [
      '/api/bookings/{booking_id}/tickets.pdf',
      '/api/tickets/verify',
      '/api/tickets/public-key',
    ])
      expect(paths).toContain(path);
  });

  it('is a protected route the role matrix covers, needing tickets:scan (USER and ADMIN service accounts)', () => {
    expect(protectedRoutes(server.platform)).toContainEqual({
      method: 'POST',
      url: '/api/tickets/verify',
      requires: 'tickets:scan',
    });
  });

  it('valid, then already_used with when; the first scan is audited with the scanner', async () => {
    const [buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [3]);
    await server.deliver();
    const [token] = await tokensOf(bookingId);
    const first = await verify(token);
    expect(first.status, first.body).toBe(200);
    expect(first.json()).toMatchObject({
      result: 'valid',
      ticket: {
        booking_id: bookingId,
        seat_id: 3,
        event_id: server.eventId,
        event_title: EVENT_TITLE,
        row: 1,
        number: 3,
        zone: 'A',
        venue: 'Test hall',
        status: 'used',
      },
    });
    const second = await verify(token);
    expect(second.json().result).toBe('already_used');
    expect(second.json().used_at).toBe(first.json().used_at);
    const [row] = await ticketsOf(bookingId);
    expect(row?.status).toBe('used');
    expect(row?.used_at?.toISOString()).toBe(first.json().used_at);
    const audit = await server.sql<{ result: string; reason: string | null; actor_type: string }[]>`
      select result, reason, actor_type from audit_log where action = 'ticket.scan' and resource = ${`ticket:${row!.id}`}
      order by id`;
    expect(audit).toEqual([
      { result: 'success', reason: null, actor_type: 'service_account' },
      { result: 'denied', reason: 'already_used', actor_type: 'service_account' },
    ]);
  });

  it('six parallel scans of one ticket: exactly one valid', async () => {
    const [, buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [4, 5]);
    await server.deliver();
    for (const token of await tokensOf(bookingId)) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => verify(token)));
      const results = answers.map((a) => a.json().result).sort();
      expect(results).toEqual([
        'already_used',
        'already_used',
        'already_used',
        'already_used',
        'already_used',
        'valid',
      ]);
    }
    const rows = await ticketsOf(bookingId);
    expect(rows.map((r) => r.status)).toEqual(['used', 'used']);
    const [{ n } = { n: -1 }] = await server.sql<{ n: number }[]>`
      select count(*)::int as n from audit_log
      where action = 'ticket.scan' and result = 'success' and resource = any(${rows.map((r) => `ticket:${r.id}`)})`;
    expect(n).toBe(2);
  });

  it('a refund revokes the booking’s tickets; the PDF is gone for the buyer', async () => {
    const [buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [6, 7]);
    await server.deliver();
    const tokens = await tokensOf(bookingId);
    expect((await verify(tokens[0])).json().result).toBe('valid');
    expect((await server.client.cancel(buyer!, bookingId)).status).toBe(200); // a paid booking: refunded
    await server.deliver();
    for (const token of tokens) {
      const answer = (await verify(token)).json();
      expect(answer.result).toBe('revoked');
      expect(answer.ticket.status).toBe('revoked');
    }
    expect((await ticketsOf(bookingId)).map((t) => t.status)).toEqual(['revoked', 'revoked']);
    expect((await fetchPdf(server, bookingId, buyer!.auth)).response.status).toBe(404);
    // A redelivery of the whole history changes nothing: still revoked, no new file.
    await server.rewind();
    await server.deliver();
    expect((await verify(tokens[1])).json().result).toBe('revoked');
  });

  it('forged, tampered and foreign tokens are invalid; bad bodies 400; no or weak credentials 401/403', async () => {
    const [buyer] = server.users;
    const bookingId = await paidBooking(server, buyer!, [8]);
    await server.deliver();
    const [token] = await tokensOf(bookingId);
    const [ticket] = await ticketsOf(bookingId);
    const bytes = Buffer.from(token!, 'base64url');
    const flip = (i: number) => {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ 0x20;
      return copy.toString('base64url');
    };
    const foreign = ticketSigner(Buffer.alloc(32, 1)).sign({
      ticketId: Number(ticket!.id),
      bookingId,
      seatId: 8,
    });
    const signer = await ticketSignerOf(server.platform);
    const unknownTicket = signer.sign({ ticketId: 999_999, bookingId, seatId: 8 });
    const wrongSeat = signer.sign({ ticketId: Number(ticket!.id), bookingId, seatId: 9 });
    for (const bad of [
      flip(5),
      flip(20),
      flip(60),
      foreign,
      unknownTicket,
      wrongSeat,
      'hello',
      'A'.repeat(119),
    ]) {
      const answer = await verify(bad);
      expect(answer.status, bad).toBe(200);
      expect(answer.json(), bad).toEqual({ result: 'invalid' });
    }
    // None of that used the ticket.
    expect((await ticketsOf(bookingId))[0]?.status).toBe('valid');
    for (const body of [{}, { token: 5 }, { token: '' }, { token: 'x'.repeat(2000) }]) {
      const answer = await server.client.send('POST', '/api/tickets/verify', {
        body,
        headers: { authorization: `Bearer ${server.scanner}` },
      });
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    const malformed = await server.client.send('POST', '/api/tickets/verify', {
      raw: '{"token":',
      headers: { authorization: `Bearer ${server.scanner}` },
    });
    expect(malformed.status).toBe(400);
    expect((await verify(token, '')).status).toBe(401);
    expect((await verify(token, buyer!.auth)).status).toBe(401); // a buyer's Basic is not a scanner
    expect((await verify(token, 'Bearer nope')).status).toBe(401);
    expect((await ticketsOf(bookingId))[0]?.status).toBe('valid');
  });
});
