import { Agent, request } from 'node:http';
import pino from 'pino';
import { bookingModule, createSeatMap } from '../../src/booking/index.ts';
import type { VenueLayout } from '../../src/booking/seating/layout.ts';
import { catalogModule, createEvent } from '../../src/catalog/index.ts';
import { createUser, identityModule } from '../../src/identity/index.ts';
import type { Sql } from '../../src/platform/db/client.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

export interface BookingServer {
  url: string;
  running: Running;
  db: TestDatabase;
  sql: Sql;
  stop(): Promise<void>;
}

/**
 * The real API role in this process (identity, catalog, booking), listening on a free port, against a fresh
 * database of its own. `overrides` are environment variables (BOOKING_HOLD_SECONDS …).
 */
export async function startBookingServer(overrides: Record<string, string> = {}): Promise<BookingServer> {
  const db = await createTestDatabase();
  try {
    const running = await startOn(db, overrides);
    return {
      url: running.url!,
      running,
      db,
      sql: db.sql,
      async stop() {
        await running.stop();
        await db.drop();
      },
    };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/** Another API process's worth of platform on an existing database (same process, its own state). */
export async function startOn(
  db: TestDatabase,
  overrides: Record<string, string> = {},
  modules = [identityModule, catalogModule, bookingModule],
): Promise<Running> {
  return runRole(
    'api',
    testConfig({
      DATABASE_URL: db.url,
      SEED_DEMO_ON_START: 'false',
      BOOKING_ANALYTICS_CACHE_MS: '0',
      ...overrides,
    }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    modules,
  );
}

export interface TestUser {
  id: number;
  email: string;
  password: string;
  /** `Basic …` */
  auth: string;
}

export async function makeUsers(sql: Sql, n: number, prefix = 'buyer'): Promise<TestUser[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const email = `${prefix}${i + 1}@booking.test`;
      const password = `pw:${prefix}-${i + 1}`;
      const id = await createUser(sql, { email, password });
      return { id, email, password, auth: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` };
    }),
  );
}

/** A small hall: zone A (2 rows × 5 seats, 1500.00), zone B (1 row × 5 seats, 999.50). */
export const SMALL_HALL: VenueLayout = {
  name: 'Test hall',
  kind: 'club',
  zones: [
    { name: 'A', price: 1500, rows: 2, seatsPerRow: 5 },
    { name: 'B', price: 999.5, rows: 1, seatsPerRow: 5 },
  ],
};

const DAY = 86_400_000;

/** A theatre of `rows` rows of `seatsPerRow`: the first two rows one zone (name, price), the rest another. */
export function twoZoneTheatre(
  name: string,
  rows: number,
  seatsPerRow: number,
  [frontName, frontPrice]: [string, number],
  [backName, backPrice]: [string, number],
): VenueLayout {
  return {
    name,
    kind: 'theatre',
    zones: [
      { name: frontName, price: frontPrice, rows: 2, seatsPerRow },
      { name: backName, price: backPrice, rows: rows - 2, seatsPerRow },
    ],
  };
}

/** A catalog event starting in `days` days (negative: in the past), with `layout` as its seat map if given. */
export async function makeEvent(
  sql: Sql,
  id: number,
  options: { days?: number; layout?: VenueLayout; title?: string } = {},
): Promise<number> {
  await createEvent(sql, {
    id,
    title: options.title ?? `Test event ${id}`,
    datetimeStart: new Date(Date.now() + (options.days ?? 30) * DAY),
  });
  if (options.layout) await createSeatMap(sql, id, options.layout);
  return id;
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  json(): any;
}

/** A keep-alive HTTP client over real sockets (at most `sockets` connections). */
export class Client {
  readonly #agent: Agent;
  readonly #base: string;

  constructor(base: string, sockets = 64) {
    this.#base = base;
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  send(
    method: string,
    path: string,
    options: { auth?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const payload =
      options.raw !== undefined
        ? options.raw
        : options.body === undefined
          ? undefined
          : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth) headers.authorization = options.auth;
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(`${this.#base}${path}`, { method, agent: this.#agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, body, headers: res.headers, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 30 s`)));
      req.end(payload);
    });
  }

  get(path: string, auth?: string) {
    return this.send('GET', path, { auth });
  }

  post(path: string, body: unknown, auth?: string) {
    return this.send('POST', path, { body, auth });
  }

  patch(path: string, body: unknown, auth?: string) {
    return this.send('PATCH', path, { body, auth });
  }

  /** POST /api/bookings; the new booking's id (fails the test on anything but 201). */
  async book(user: TestUser, eventId: number): Promise<number> {
    const answer = await this.post('/api/bookings', { event_id: eventId }, user.auth);
    if (answer.status !== 201) throw new Error(`POST /api/bookings: ${answer.status} ${answer.body}`);
    return answer.json().id;
  }

  select(user: TestUser, bookingId: number, seatId: number) {
    return this.patch('/api/seats/select', { booking_id: bookingId, seat_id: seatId }, user.auth);
  }

  release(user: TestUser, seatId: number) {
    return this.patch('/api/seats/release', { seat_id: seatId }, user.auth);
  }

  cancel(user: TestUser, bookingId: number) {
    return this.patch('/api/bookings/cancel', { booking_id: bookingId }, user.auth);
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Runs `work` for each index below `count`, at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, work: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/** The seat rows of an event straight from the database: seat → booking (live holds and sales only). */
export async function liveHolds(sql: Sql, eventId: number): Promise<Map<number, number>> {
  const rows = await sql<{ seat_id: string; booking_id: string }[]>`
    select seat_id, booking_id from booking_seats
    where event_id = ${eventId} and (held_until is null or held_until > now())`;
  return new Map(rows.map((r) => [Number(r.seat_id), Number(r.booking_id)]));
}
