import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';

/**
 * One PDF per booking, one A5 page per seat: the event, its date, the venue, the seat, the booking and a QR
 * code of the seat's signed token. PT Sans (ParaType's typeface made for Russian, shipped in an npm package)
 * is embedded, so Cyrillic titles render on any machine whatever fonts its OS has. The bytes depend only on
 * the input: a re-render after a crash produces the same file.
 */

export interface TicketPage {
  ticketId: number;
  seatId: number;
  row: number | null;
  number: number | null;
  zone: string | null;
  token: string;
}

export interface TicketDocument {
  bookingId: number;
  eventTitle: string;
  eventStartsAt: Date | null;
  venue: string | null;
  /** When the tickets were issued: the PDF's creation date (fixed, so re-renders are identical). */
  issuedAt: Date;
  pages: TicketPage[];
}

const require = createRequire(import.meta.url);
const FONT_REGULAR = require.resolve('@expo-google-fonts/pt-sans/400Regular/PTSans_400Regular.ttf');
const FONT_BOLD = require.resolve('@expo-google-fonts/pt-sans/700Bold/PTSans_700Bold.ttf');

/** The seat as printed: `Ряд 2 · Место 3 · Зона A` (the parts the booking module knows). */
export function seatLine(
  page: Pick<TicketPage, 'row' | 'number' | 'zone' | 'seatId'>,
  english = false,
): string {
  const [row, seat, zone] = english ? ['Row', 'Seat', 'Zone'] : ['Ряд', 'Место', 'Зона'];
  const parts: string[] = [];
  if (page.row !== null) parts.push(`${row} ${page.row}`);
  if (page.number !== null) parts.push(`${seat} ${page.number}`);
  if (page.zone) parts.push(`${zone} ${page.zone}`);
  return parts.length > 0 ? parts.join(' · ') : `${seat} #${page.seatId}`;
}

/** `25 декабря 2024 г., 19:00 (Europe/Moscow)` in `timeZone`. */
export function eventDateLine(startsAt: Date | null, timeZone: string): string {
  if (!startsAt) return 'Дата уточняется · Date to be announced';
  const text = new Intl.DateTimeFormat('ru-RU', { dateStyle: 'long', timeStyle: 'short', timeZone }).format(
    startsAt,
  );
  return `${text} (${timeZone})`;
}

export async function renderTicketsPdf(ticket: TicketDocument, timeZone: string): Promise<Buffer> {
  const qrCodes = await Promise.all(
    ticket.pages.map((page) =>
      QRCode.toBuffer(page.token, {
        type: 'png',
        errorCorrectionLevel: 'M',
        margin: 4,
        scale: 6,
        // Grey without alpha: pdfkit embeds such a PNG as it is, while an alpha channel is split off
        // asynchronously, which makes the object order (and so the bytes) vary between renders.
        rendererOpts: { colorType: 0 } as QRCode.QRCodeToBufferOptions['rendererOpts'],
      }),
    ),
  );
  const doc = new PDFDocument({
    size: 'A5',
    margin: 36,
    autoFirstPage: false,
    info: {
      Title: `Билеты · Tickets — ${ticket.eventTitle}`,
      Subject: `Booking ${ticket.bookingId}`,
      Producer: 'boxoffice',
      Creator: 'boxoffice tickets',
      CreationDate: ticket.issuedAt,
      ModDate: ticket.issuedAt,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  doc.registerFont('regular', FONT_REGULAR);
  doc.registerFont('bold', FONT_BOLD);
  const date = eventDateLine(ticket.eventStartsAt, timeZone);
  ticket.pages.forEach((page, i) => {
    doc.addPage();
    const width = doc.page.width - 72;
    doc.font('regular').fontSize(10).fillColor('#555555');
    doc.text(`Электронный билет · E-ticket   ${i + 1} / ${ticket.pages.length}`, { width });
    doc.moveDown(0.6);
    doc.font('bold').fontSize(18).fillColor('#000000').text(ticket.eventTitle, { width });
    doc.moveDown(0.4);
    doc.font('regular').fontSize(12).text(date, { width });
    if (ticket.venue) doc.text(ticket.venue, { width });
    doc.moveDown(0.6);
    doc.font('bold').fontSize(15).text(seatLine(page), { width });
    doc.font('regular').fontSize(10).fillColor('#555555').text(seatLine(page, true), { width });
    doc.moveDown(0.4);
    doc.fillColor('#000000').fontSize(10);
    doc.text(`Бронирование · Booking ${ticket.bookingId}   Билет · Ticket ${page.ticketId}`, { width });
    const size = Math.min(width, 220);
    const top = Math.max(doc.y + 12, doc.page.height - 36 - size - 30);
    doc.image(qrCodes[i]!, 36 + (width - size) / 2, top, { width: size, height: size });
    doc
      .fontSize(8)
      .fillColor('#555555')
      .text('Покажите QR-код на входе · Show this code at the entrance', 36, top + size + 6, {
        width,
        align: 'center',
      });
  });
  doc.end();
  await finished;
  return Buffer.concat(chunks);
}
