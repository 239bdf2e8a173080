import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginPayment, bookingModule, confirmPayment } from '../../src/booking/index.ts';
import { catalogModule } from '../../src/catalog/index.ts';
import { filesModule } from '../../src/files/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { ticketsModule } from '../../src/tickets/index.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL } from '../booking/harness.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../payments/gateway/harness.ts';
import { EVENT_TITLE, readPdf } from './harness.ts';

/**
 * The `start` role as `npm start` runs it: the outbox sequencer and the tickets consumer run on their own,
 * the booking paid through the booking module's transition functions (what payments calls).
 */
let db: TestDatabase;
let dataDir: string;
let running: Running;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'boxoffice-tickets-start-'));
  running = await runRole(
    'start',
    testConfig({ DATABASE_URL: db.url, DATA_DIR: dataDir, OUTBOX_POLL_MS: '50' }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule, catalogModule, bookingModule, filesModule, ticketsModule],
  );
});
afterAll(async () => {
  await running?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('e-tickets in the start role', () => {
  it('a booking that becomes paid gets its PDF from the running consumer', async () => {
    const eventId = await makeEvent(db.sql, 1, { layout: SMALL_HALL, title: EVENT_TITLE });
    const [buyer] = await makeUsers(db.sql, 1, 'start-buyer');
    const client = new Client(running.url!);
    try {
      const bookingId = await client.book(buyer!, eventId);
      expect((await client.select(buyer!, bookingId, 5)).status).toBe(200);
      await db.sql.begin(async (tx) => {
        await beginPayment(tx, bookingId, null);
        await confirmPayment(tx, bookingId);
      });
      await waitFor(async () => {
        const [row] = await db.sql<{ state: string }[]>`
          select state from ticket_bookings where booking_id = ${bookingId}`;
        return row?.state === 'ready' ? true : undefined;
      }, 20_000);
      const response = await fetch(`${running.url}/api/bookings/${bookingId}/tickets.pdf`, {
        headers: { authorization: buyer!.auth },
      });
      expect(response.status).toBe(200);
      const { pages } = await readPdf(Buffer.from(await response.arrayBuffer()));
      expect(pages[0]?.replace(/\s+/g, ' ')).toContain('Ряд 1 · Место 5 · Зона A');
    } finally {
      client.close();
    }
  });
});
