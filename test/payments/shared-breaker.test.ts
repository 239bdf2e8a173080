import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingModule } from '../../src/booking/index.ts';
import { catalogModule } from '../../src/catalog/index.ts';
import { identityModule } from '../../src/identity/index.ts';
import { paymentsModule } from '../../src/payments/index.ts';
import type { Running } from '../../src/platform/runtime.ts';
import type { GatewaySimulator } from '../../src/sims/gateway/index.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL, startOn, type TestUser } from '../booking/harness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startSim } from './gateway/harness.ts';
import {
  bookingWith,
  FAST_PAYMENTS,
  initiate,
  MERCHANT,
  type PaymentsServer,
  seat,
  waitFor,
} from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the payment breaker shared by two API processes: REDIS_URL is not set');

/**
 * Two API platforms (as two processes, each with its own Redis connection) on one database, one gateway and
 * one Redis: failures seen by one open the breaker for both, both report it open, and a trial through the
 * other closes it for both.
 */
describe.skipIf(!redisUrl)('payments: the circuit breaker shared by two API processes through Redis', () => {
  let db: TestDatabase;
  let sim: GatewaySimulator;
  let one: Running;
  let two: Running;
  let users: TestUser[];
  const prefix = `test:shared-breaker:${randomBytes(6).toString('hex')}:`;
  const clients: Client[] = [];
  const via = (running: Running) => {
    const client = new Client(running.url!);
    clients.push(client);
    return { client, eventId: 1 } as unknown as PaymentsServer;
  };
  const status = async (server: PaymentsServer) =>
    (await server.client.get('/api/payments/circuit-breaker-status')).json().circuit_breaker;

  beforeAll(async () => {
    sim = await startSim();
    db = await createTestDatabase();
    const env = {
      PAYMENT_ENDPOINT: sim.apiUrl,
      MERCHANT_ID: MERCHANT.teamSlug,
      MERCHANT_PASSWORD: MERCHANT.password,
      PAYMENT_WEBHOOK_SECRET: MERCHANT.webhookSecret,
      ...FAST_PAYMENTS,
      // Long enough that the breaker is still open when both have been asked.
      CIRCUIT_BREAKER_TIMEOUT_SECONDS: '3',
      BOOKING_TAKEN_CACHE_MS: '0',
      REDIS_URL: redisUrl!,
      CIRCUIT_BREAKER_REDIS_PREFIX: prefix,
    };
    const modules = [identityModule, catalogModule, bookingModule, paymentsModule];
    one = await startOn(db, env, modules);
    two = await startOn(db, env, modules);
    await makeEvent(db.sql, 1, { layout: SMALL_HALL });
    users = await makeUsers(db.sql, 3, 'payer');
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await one?.stop();
    await two?.stop();
    await sim?.stop();
    await db?.drop();
    if (redisUrl) {
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('failures seen by one open it on the other; a trial through the other closes it for both', async () => {
    const [a, b] = users as [TestUser, TestUser];
    const first = via(one);
    const second = via(two);
    expect((await status(first)).state).toBe('Closed');

    sim.configure({ outage: 'unavailable' });
    // Through the first process only: two attempts each (503s are retried), open at the third failure.
    expect((await initiate(first, a, await bookingWith(first, a, [seat(1)]))).status).toBe(504);
    expect((await initiate(first, b, await bookingWith(first, b, [seat(2)]))).status).toBe(504);
    const [seenByOne, seenByTwo] = [await status(first), await status(second)];
    expect(seenByOne).toMatchObject({ state: 'Open', failure_count: 3, threshold: 3 });
    expect(seenByTwo).toEqual(seenByOne);

    // The second process refuses a new payment at once, without reaching the gateway.
    const before = sim.stats().received;
    const fast = await initiate(second, a, await bookingWith(second, a, [seat(3)]));
    expect(fast.status).toBe(503);
    expect(fast.json().code).toBe('CIRCUIT_OPEN');
    expect(sim.stats().received).toBe(before);

    // The gateway recovers; after the open timeout a trial through the second process closes it for both.
    sim.configure({ outage: 'none' });
    await waitFor(async () => ((await status(second)).state === 'HalfOpen' ? true : undefined), 6_000);
    const trial = await initiate(second, b, await bookingWith(second, b, [seat(4)]));
    expect(trial.status).toBe(200);
    expect((await status(first)).state).toBe('Closed');
    expect((await status(second)).state).toBe('Closed');
  });
});
