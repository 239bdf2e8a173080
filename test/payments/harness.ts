import { bookingModule } from '../../src/booking/index.ts';
import { catalogModule } from '../../src/catalog/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import { type PaymentsService, paymentsModule, paymentsServiceOf } from '../../src/payments/index.ts';
import type { Sql } from '../../src/platform/db/client.ts';
import type { Running } from '../../src/platform/runtime.ts';
import type { BehaviourPatch, GatewaySimulator } from '../../src/sims/gateway/index.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL, startOn, type TestUser } from '../booking/harness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { MERCHANT, startSim, submitCard, waitFor } from './gateway/harness.ts';

export { SMALL_HALL } from '../booking/harness.ts';
export { MERCHANT, submitCard, waitFor } from './gateway/harness.ts';

export interface PaymentsServer {
  url: string;
  sim: GatewaySimulator;
  db: TestDatabase;
  sql: Sql;
  running: Running;
  service: PaymentsService;
  client: Client;
  users: TestUser[];
  eventId: number;
  stop(): Promise<void>;
}

/** Settings that keep tests quick: short gateway timeouts, a breaker that opens after 3 failures for 1 s. */
export const FAST_PAYMENTS: Record<string, string> = {
  PAYMENT_TIMEOUT_MS: '1000',
  PAYMENT_RETRY_ATTEMPTS: '2',
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: '3',
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: '1',
  PAYMENT_RECONCILE_AFTER_SECONDS: '1',
};

/**
 * The API role with identity, catalog, booking and payments against a fresh database, talking to a gateway
 * simulator of its own (real HTTP both ways: our calls to it, its webhooks to us). One event (id 1) with the
 * small test hall, starting in 30 days, and `users` buyers.
 */
export async function startPaymentsServer(
  options: {
    env?: Record<string, string>;
    behaviour?: BehaviourPatch;
    users?: number;
    eventDays?: number;
  } = {},
): Promise<PaymentsServer> {
  const sim = await startSim(options.behaviour);
  const db = await createTestDatabase();
  try {
    const running = await startOn(
      db,
      {
        PAYMENT_ENDPOINT: sim.apiUrl,
        MERCHANT_ID: MERCHANT.teamSlug,
        MERCHANT_PASSWORD: MERCHANT.password,
        PAYMENT_WEBHOOK_SECRET: MERCHANT.webhookSecret,
        ...FAST_PAYMENTS,
        ...options.env,
      },
      [identityModule, catalogModule, bookingModule, paymentsModule],
    );
    const service = paymentsServiceOf(running.platform)!;
    const eventId = await makeEvent(db.sql, 1, { layout: SMALL_HALL, days: options.eventDays ?? 30 });
    const users = await makeUsers(db.sql, options.users ?? 3, 'payer');
    const client = new Client(running.url!);
    return {
      url: running.url!,
      sim,
      db,
      sql: db.sql,
      running,
      service,
      client,
      users,
      eventId,
      async stop() {
        client.close();
        await running.stop();
        await sim.stop();
        await db.drop();
      },
    };
  } catch (error) {
    await sim.stop();
    await db.drop();
    throw error;
  }
}

/** Seat ids of the small hall's event 1: 1 … 15 (zone A: 1500.00 × 10, zone B: 999.50 × 5). */
export const seat = (n: number) => n;

/** A new booking of `user` holding `seats` (fails the test on any refusal). */
export async function bookingWith(server: PaymentsServer, user: TestUser, seats: number[]): Promise<number> {
  const bookingId = await server.client.book(user, server.eventId);
  for (const s of seats) {
    const answer = await server.client.select(user, bookingId, s);
    if (answer.status !== 200) throw new Error(`select ${s}: ${answer.status} ${answer.body}`);
  }
  return bookingId;
}

/** PATCH /api/bookings/initiatePayment as a JSON client. */
export function initiate(server: PaymentsServer, user: TestUser, bookingId: number) {
  return server.client.send('PATCH', '/api/bookings/initiatePayment', {
    auth: user.auth,
    body: { booking_id: bookingId },
    headers: { accept: 'application/json' },
  });
}

/** Starts the payment and returns the gateway's payment id (fails the test on anything but 200). */
export async function startPayment(
  server: PaymentsServer,
  user: TestUser,
  bookingId: number,
): Promise<string> {
  const answer = await initiate(server, user, bookingId);
  if (answer.status !== 200) throw new Error(`initiatePayment: ${answer.status} ${answer.body}`);
  return answer.json().payment_id;
}

/** The buyer pays on the simulator's card form (JSON answer). */
export async function payWithCard(server: PaymentsServer, paymentId: string, card = '4111111111111111') {
  const answer = await submitCard(server.sim, paymentId, { number: card }, 'application/json');
  if (answer.status >= 500) throw new Error(`card form: ${answer.status} ${await answer.text()}`);
  return answer;
}

export async function bookingStatus(sql: Sql, bookingId: number): Promise<string | undefined> {
  const [row] = await sql<{ status: string }[]>`select status::text from bookings where id = ${bookingId}`;
  return row?.status;
}

export async function paymentState(sql: Sql, bookingId: number): Promise<string | undefined> {
  const [row] = await sql<{ state: string }[]>`
    select state::text from payments where booking_id = ${bookingId} order by id desc limit 1`;
  return row?.state;
}

/** The gateway's id of the booking's latest payment (for faults scoped to it). */
export async function gatewayPaymentId(sql: Sql, bookingId: number): Promise<string> {
  const [row] = await sql<{ id: string | null }[]>`
    select gateway_payment_id as id from payments where booking_id = ${bookingId} order by id desc limit 1`;
  if (!row?.id) throw new Error(`booking ${bookingId} has no gateway payment`);
  return row.id;
}

/** Waits until the booking is in `status` (webhooks and their effects are asynchronous). */
export function untilBooking(server: PaymentsServer, bookingId: number, status: string, deadlineMs?: number) {
  return waitFor(
    async () => ((await bookingStatus(server.sql, bookingId)) === status ? true : undefined),
    deadlineMs,
  );
}

/** Waits until the booking's latest payment is in `state`. */
export function untilPayment(server: PaymentsServer, bookingId: number, state: string, deadlineMs?: number) {
  return waitFor(
    async () => ((await paymentState(server.sql, bookingId)) === state ? true : undefined),
    deadlineMs,
  );
}

/** Seats of the booking in booking_seats: [seat id, sold, live]. */
export async function seatsOf(sql: Sql, bookingId: number) {
  return sql<{ seat_id: string; sold: boolean; live: boolean }[]>`
    select seat_id, sold, (held_until is null or held_until > now()) as live
    from booking_seats where booking_id = ${bookingId} order by seat_id`;
}

/**
 * The invariants every scenario must end with, checked in our database against the simulator's books:
 * a booking is paid iff exactly one of its payments is confirmed and the gateway holds that money; no seat is
 * SOLD without a paid booking; money the gateway took (CONFIRMED, or AUTHORIZED and not being given back) is
 * never without a paid booking.
 */
export async function assertConsistent(server: PaymentsServer): Promise<void> {
  await server.sim.webhooksIdle();
  const problems: string[] = [];
  const bookings = await server.sql<{ id: string; status: string }[]>`select id, status::text from bookings`;
  const payments = await server.sql<
    { id: string; booking_id: string; state: string; gateway_payment_id: string | null }[]
  >`select id, booking_id, state::text, gateway_payment_id from payments order by id`;
  const sold = await server.sql<{ seat_id: string; status: string }[]>`
    select s.seat_id, b.status::text from booking_seats s join bookings b on b.id = s.booking_id where s.sold`;
  for (const s of sold)
    if (s.status !== 'paid') problems.push(`seat ${s.seat_id} SOLD in a ${s.status} booking`);
  for (const b of bookings) {
    const confirmed = payments.filter((p) => p.booking_id === b.id && p.state === 'confirmed');
    if (b.status === 'paid' && confirmed.length !== 1)
      problems.push(`booking ${b.id} paid with ${confirmed.length} confirmed payments`);
    if (b.status !== 'paid' && confirmed.length > 0)
      problems.push(`booking ${b.id} ${b.status} with a confirmed payment`);
  }
  for (const p of payments) {
    const remote = p.gateway_payment_id ? server.sim.payment(p.gateway_payment_id) : undefined;
    if (p.state === 'confirmed' && remote?.status !== 'CONFIRMED') {
      problems.push(`payment ${p.id} confirmed here, ${remote?.status ?? 'unknown'} at the gateway`);
    }
  }
  const ours = new Set(payments.map((p) => p.gateway_payment_id));
  for (const remote of server.sim.payments()) {
    if (remote.status !== 'CONFIRMED' && remote.status !== 'AUTHORIZED') continue;
    const local = payments.find((p) => p.gateway_payment_id === remote.paymentId);
    if (!ours.has(remote.paymentId) || local?.state !== 'confirmed') {
      problems.push(
        `gateway holds money (${remote.status}) of payment ${remote.paymentId}, here ${local?.state ?? 'unknown'}`,
      );
    }
  }
  if (problems.length > 0) throw new Error(`inconsistent:\n${problems.join('\n')}`);
}
