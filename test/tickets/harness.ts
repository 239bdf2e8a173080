import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import { extractImages, extractText, getDocumentProxy } from 'unpdf';
import { bookingModule } from '../../src/booking/index.ts';
import { catalogModule } from '../../src/catalog/index.ts';
import { filesModule } from '../../src/files/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import { paymentsModule } from '../../src/payments/index.ts';
import type { Platform } from '../../src/platform/context.ts';
import { consumeBatch, ensureCursor } from '../../src/platform/outbox/consumer.ts';
import { sequenceOnce } from '../../src/platform/outbox/index.ts';
import type { Running } from '../../src/platform/runtime.ts';
import type { GatewaySimulator } from '../../src/sims/gateway/index.ts';
import { ticketsModule } from '../../src/tickets/index.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL, startOn, type TestUser } from '../booking/harness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { MERCHANT, startSim } from '../payments/gateway/harness.ts';
import {
  FAST_PAYMENTS,
  type PaymentsServer,
  payWithCard,
  startPayment,
  untilBooking,
} from '../payments/harness.ts';

/** A Russian title, so the font's Cyrillic glyphs are what the text extraction must find. */
export const EVENT_TITLE = 'Щелкунчик — балет-феерия в двух действиях';

export interface TicketsServer {
  url: string;
  sim: GatewaySimulator;
  db: TestDatabase;
  sql: TestDatabase['sql'];
  running: Running;
  platform: Platform;
  client: Client;
  users: TestUser[];
  eventId: number;
  dataDir: string;
  /** A Bearer token of a USER service account (what a gate scanner is). */
  scanner: string;
  /** Runs the tickets consumer until the outbox has nothing more for it (the api role runs no consumers). */
  deliver(): Promise<number>;
  /** Moves the consumer's cursor back to the start: every event is delivered again. */
  rewind(): Promise<void>;
  /** Stops the API role and starts it again on the same database and data directory with `env`. */
  restart(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The API role with identity, catalog, booking, payments, files and tickets against a fresh database and a
 * temporary data directory (the file store's element), paying through a gateway simulator of its own. One
 * event (id 1, the small test hall, a Russian title) in 30 days. The tickets consumer is driven by the test
 * (deliver), so when tickets are made is decided by the test, not by a poll interval.
 */
export async function startTicketsServer(
  options: { users?: number; env?: Record<string, string> } = {},
): Promise<TicketsServer> {
  const sim = await startSim();
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'boxoffice-tickets-'));
  const boot = (env: Record<string, string>) =>
    startOn(
      db,
      {
        DATA_DIR: dataDir,
        PAYMENT_ENDPOINT: sim.apiUrl,
        MERCHANT_ID: MERCHANT.teamSlug,
        MERCHANT_PASSWORD: MERCHANT.password,
        PAYMENT_WEBHOOK_SECRET: MERCHANT.webhookSecret,
        ...FAST_PAYMENTS,
        ...env,
      },
      [identityModule, catalogModule, bookingModule, paymentsModule, filesModule, ticketsModule],
    );
  try {
    const running = await boot(options.env ?? {});
    const spec = () => ticketsModule.consumers!(server.platform)[0]!;
    const server: TicketsServer = {
      url: running.url!,
      sim,
      db,
      sql: db.sql,
      running,
      platform: running.platform,
      client: new Client(running.url!),
      users: [],
      eventId: 0,
      dataDir,
      scanner: '',
      async deliver() {
        let handled = 0;
        for (;;) {
          await sequenceOnce(db.sql);
          const n = await consumeBatch(db.sql, spec());
          handled += n;
          if (n === 0) return handled;
        }
      },
      async rewind() {
        await db.sql`update outbox_cursors set position = 0 where consumer = ${spec().name}`;
      },
      async restart(env) {
        server.client.close();
        await server.running.stop();
        const next = await boot(env);
        Object.assign(server, {
          running: next,
          platform: next.platform,
          url: next.url!,
          client: new Client(next.url!),
        });
      },
      async stop() {
        server.client.close();
        await server.running.stop();
        await sim.stop();
        await db.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
    await ensureCursor(db.sql, spec().name);
    server.eventId = await makeEvent(db.sql, 1, { layout: SMALL_HALL, title: EVENT_TITLE });
    server.users = await makeUsers(db.sql, options.users ?? 2, 'ticket-buyer');
    server.scanner = await tokenFor(running.app!, await createAccount(db, 'USER'));
    return server;
  } catch (error) {
    await sim.stop();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** A booking of `user` holding `seats`, paid through the gateway simulator's card form. */
export async function paidBooking(server: TicketsServer, user: TestUser, seats: number[]): Promise<number> {
  const bookingId = await server.client.book(user, server.eventId);
  for (const seat of seats) {
    const answer = await server.client.select(user, bookingId, seat);
    if (answer.status !== 200) throw new Error(`select ${seat}: ${answer.status} ${answer.body}`);
  }
  // The payments harness needs only the client, the simulator and the database of a server.
  const payments = server as unknown as PaymentsServer;
  await payWithCard(payments, await startPayment(payments, user, bookingId));
  await untilBooking(payments, bookingId, 'paid');
  return bookingId;
}

/** GET the PDF as raw bytes. */
export async function fetchPdf(server: TicketsServer, bookingId: number, auth?: string) {
  const response = await fetch(`${server.url}/api/bookings/${bookingId}/tickets.pdf`, {
    headers: auth ? { authorization: auth } : {},
  });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

// pdf.js (inside unpdf) copies image buffers with ArrayBuffer.prototype.transferToFixedLength, which Node
// has from 21 on; the project runs on 20. Test-only, and only what pdf.js calls.
const arrayBufferProto = ArrayBuffer.prototype as ArrayBuffer & {
  transferToFixedLength?: (length?: number) => ArrayBuffer;
};
arrayBufferProto.transferToFixedLength ??= function transferToFixedLength(
  this: ArrayBuffer,
  length?: number,
) {
  const size = length ?? this.byteLength;
  const copy = new ArrayBuffer(size);
  new Uint8Array(copy).set(new Uint8Array(this, 0, Math.min(size, this.byteLength)));
  return copy;
};

// jsqr is CommonJS whose module.exports is the function; its typings declare it as the default export.
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as unknown as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;

/** Each page's text, and the text of every QR code drawn on it (decoded from the embedded image's pixels). */
export async function readPdf(bytes: Buffer): Promise<{ pages: string[]; qrCodes: string[][] }> {
  const pdf = await getDocumentProxy(new Uint8Array(bytes));
  const { text } = await extractText(pdf, { mergePages: false });
  const qrCodes: string[][] = [];
  for (let page = 1; page <= pdf.numPages; page++) {
    const images = await extractImages(pdf, page);
    qrCodes.push(
      images.flatMap((image) => {
        const rgba = new Uint8ClampedArray(image.width * image.height * 4);
        for (let i = 0; i < image.width * image.height; i++) {
          for (let c = 0; c < 3; c++) {
            rgba[i * 4 + c] = image.data[i * image.channels + (image.channels >= 3 ? c : 0)]!;
          }
          rgba[i * 4 + 3] = 255;
        }
        const code = jsQR(rgba, image.width, image.height);
        return code ? [code.data] : [];
      }),
    );
  }
  return { pages: text as string[], qrCodes };
}
