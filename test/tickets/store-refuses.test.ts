import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPendingTickets, ticketSignerOf } from '../../src/tickets/index.ts';
import {
  EVENT_TITLE,
  fetchPdf,
  paidBooking,
  readPdf,
  startTicketsServer,
  type TicketsServer,
} from './harness.ts';

/**
 * The file store refuses the PDF (its only element is read-only): the consumer must not stall, since the
 * refunds behind the paid booking must still revoke tickets; the PDF is made by the retry task once the
 * store takes writes again.
 */
let server: TicketsServer;
beforeAll(async () => {
  server = await startTicketsServer({ env: { FILES_ELEMENTS: 'se-1:files/se-1:ro' } });
});
afterAll(async () => {
  await server?.stop();
});

const stateOf = async (bookingId: number) =>
  (
    await server.sql<{ state: string }[]>`select state from ticket_bookings where booking_id = ${bookingId}`
  )[0]?.state;

describe('tickets while the file store refuses writes', () => {
  it('the paid booking waits in rendering; a refund after it is still revoked; the retry task makes the PDF later', async () => {
    const [buyer, other] = server.users;
    const waiting = await paidBooking(server, buyer!, [1, 2]);
    const refunded = await paidBooking(server, other!, [3]);
    expect((await server.client.cancel(other!, refunded)).status).toBe(200);
    await server.deliver();

    expect(await stateOf(waiting)).toBe('rendering');
    const early = await fetchPdf(server, waiting, buyer!.auth);
    expect(early.response.status).toBe(404);
    expect(JSON.parse(early.bytes.toString()).code).toBe('TICKETS_NOT_READY');
    // The refund behind it went through: its tickets are revoked although its PDF was never made.
    const revoked = await server.sql<
      { status: string }[]
    >`select status from tickets where booking_id = ${refunded}`;
    expect(revoked.map((t) => t.status)).toEqual(['revoked']);
    // Still refused: the retry task leaves it for its next run.
    expect(await renderPendingTickets(server.platform, { olderThanMs: 0 })).toBe(0);
    expect(await stateOf(waiting)).toBe('rendering');

    // A writable element is added (configuration and restart): the next run makes the waiting PDF only.
    await server.restart({ FILES_ELEMENTS: 'se-1:files/se-1:ro,se-2:files/se-2:edit' });
    expect(await renderPendingTickets(server.platform, { olderThanMs: 0 })).toBe(1);
    expect(await stateOf(waiting)).toBe('ready');
    expect(await stateOf(refunded)).toBe('rendering');
    expect(await renderPendingTickets(server.platform, { olderThanMs: 0 })).toBe(0);

    const ready = await fetchPdf(server, waiting, buyer!.auth);
    expect(ready.response.status).toBe(200);
    const { pages, qrCodes } = await readPdf(ready.bytes);
    expect(pages.map((p) => p.replace(/\s+/g, ' ').includes(EVENT_TITLE))).toEqual([true, true]);
    const signer = await ticketSignerOf(server.platform);
    expect(qrCodes.map(([code]) => signer.verify(code!)?.bookingId)).toEqual([waiting, waiting]);
  });
});
