import { describe, expect, it } from 'vitest';
import { eventDateLine, renderTicketsPdf, seatLine } from '../../src/tickets/pdf.ts';
import { ticketSigner } from '../../src/tickets/token.ts';
import { readPdf } from './harness.ts';

const signer = ticketSigner(Buffer.alloc(32, 3));
const document = (seats: number) => ({
  bookingId: 77,
  eventTitle: 'Ёлка в Кремле: «Щелкунчик»',
  eventStartsAt: new Date('2027-01-05T16:00:00Z'),
  venue: 'Большой зал',
  issuedAt: new Date('2026-12-01T10:00:00Z'),
  pages: Array.from({ length: seats }, (_, i) => ({
    ticketId: 100 + i,
    seatId: 500 + i,
    row: 4,
    number: i + 1,
    zone: 'Партер',
    token: signer.sign({ ticketId: 100 + i, bookingId: 77, seatId: 500 + i }),
  })),
});

describe('the tickets PDF', () => {
  it('renders the same bytes every time (a re-render after a crash is the same file)', async () => {
    const first = await renderTicketsPdf(document(6), 'Europe/Moscow');
    const again = await renderTicketsPdf(document(6), 'Europe/Moscow');
    expect(again.equals(first)).toBe(true);
  });

  it('a page per seat with the Cyrillic text extractable and the QR code of its token', async () => {
    const doc = document(3);
    const { pages, qrCodes } = await readPdf(await renderTicketsPdf(doc, 'Europe/Moscow'));
    expect(pages).toHaveLength(3);
    pages.forEach((text, i) => {
      const flat = text.replace(/\s+/g, ' ');
      expect(flat).toContain(doc.eventTitle);
      expect(flat).toContain('Большой зал');
      expect(flat).toContain(`Ряд 4 · Место ${i + 1} · Зона Партер`);
      expect(flat).toContain(`Row 4 · Seat ${i + 1} · Zone Партер`);
      expect(flat).toContain('5 января 2027'); // 19:00 in Moscow
      expect(flat).toContain('19:00 (Europe/Moscow)');
    });
    expect(qrCodes).toEqual(doc.pages.map((p) => [p.token]));
  });

  it('prints what is known: a seat without labels by id, an event without a date as such', () => {
    expect(seatLine({ seatId: 9, row: null, number: null, zone: null })).toBe('Место #9');
    expect(seatLine({ seatId: 9, row: 2, number: 5, zone: null }, true)).toBe('Row 2 · Seat 5');
    expect(eventDateLine(null, 'UTC')).toContain('Date to be announced');
    expect(eventDateLine(new Date('2027-01-05T16:00:00Z'), 'UTC')).toContain('16:00 (UTC)');
  });
});
