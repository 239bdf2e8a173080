import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireProcessGuard, UnsafeDeploymentError } from '../../src/drops/process-guard.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  type DropsServer,
  dropTestState,
  HttpClient,
  redisOverrides,
  startDropsServer,
  UUID,
  waitFor,
} from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the drops rules with the Redis authority: REDIS_URL is not set');

const variants = [
  { authority: 'memory', env: () => ({}), skip: false },
  { authority: 'redis', env: () => redisOverrides(redisUrl!), skip: !redisUrl },
] as const;

for (const variant of variants) {
  describe.skipIf(variant.skip)(`drops rules (${variant.authority} authority)`, () => {
    let db: TestDatabase;
    let server: DropsServer;
    let env: Record<string, string>;
    const client = new HttpClient(8);

    beforeAll(async () => {
      db = await createTestDatabase();
      env = variant.env();
      server = await startDropsServer(db.url, {
        ...env,
        DROPS_ITEMS_PER_SALE: '50',
        DROPS_PER_USER_LIMIT: '1',
        DROPS_RESERVATION_SECONDS: '1',
      });
    });

    afterAll(async () => {
      client.close();
      await server?.stop();
      await dropTestState(env, redisUrl, db);
    });

    const checkout = (user: string | number, item: number) =>
      client.post(`${server.contest}/checkout?user_id=${user}&id=${item}`);
    const purchase = (code: string) => client.post(`${server.contest}/purchase?code=${code}`);

    it('an expired reservation gives the item back and frees the user, and its code is refused', async () => {
      const first = await checkout(1, 0);
      expect(first.status).toBe(200);
      // Held: nobody else gets it, and user 1 is at the limit of 1.
      expect((await checkout(2, 0)).status).toBe(409);
      expect((await checkout(1, 1)).status).toBe(409);
      const [row] =
        await db.sql`select expires_at - reserved_at as hold from drop_reservations where code = ${first.body}`;
      expect(row?.hold).toBe('00:00:01');
      // Wait until the hold (1 s) is over, then the item is for sale again at once (no sweeper involved).
      await waitFor('the hold to expire', async () => (await checkout(2, 0)).status === 200, 5_000, 100);
      expect((await purchase(first.body)).status).toBe(409);
      const again = await checkout(1, 1);
      expect(again.status).toBe(200);
      expect(again.body).toMatch(UUID);
      expect((await purchase(again.body)).status).toBe(200);
    });

    it('a purchase whose write fails gets a 503, the others of its batch still succeed', async () => {
      const items = [10, 11, 12, 13, 14, 15];
      const codes: string[] = [];
      for (const item of items) {
        const answer = await checkout(100 + item, item);
        expect(answer.status).toBe(200);
        codes.push(answer.body);
      }
      // Make one purchase impossible to write: its reservation row disappears, so the purchase row's
      // foreign key fails (a real constraint violation inside a batch of valid writes).
      await db.sql`delete from drop_checkout_attempts where code = ${codes[2]!}`;
      await db.sql`delete from drop_reservations where code = ${codes[2]!}`;
      const answers = await Promise.all(codes.map((code) => purchase(code)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 503, 200, 200, 200]);
      const bought = await db.sql`select item from drop_purchases where item = any(${items}) order by item`;
      expect(bought.map((r) => r.item)).toEqual([10, 11, 13, 14, 15]);
      // The failed purchase was rolled back in the authority too: nobody else can take the item while
      // the hold lasts, and the code is still the holder's (it fails again, for the same reason).
      expect((await checkout(999, 12)).status).toBe(409);
      expect((await purchase(codes[2]!)).status).toBe(503);
    });

    it('the database refuses a second sale of an item even if the authority allowed it', async () => {
      const [{ sale }] = (await db.sql`select max(number)::int as sale from drop_sales`) as unknown as [
        { sale: number },
      ];
      // Another writer already sold item 20 (as after a lost authority state): a reservation and a purchase.
      const other = randomUUID();
      await db.sql`
        insert into drop_reservations (code, sale, item, user_id, reserved_at, expires_at)
        values (${other}, ${sale}, 20, 7, now(), now() + interval '1 minute')`;
      await db.sql`insert into drop_purchases (sale, item, user_id, code, purchased_at) values (${sale}, 20, 7, ${other}, now())`;
      const held = await checkout(200, 20);
      expect(held.status).toBe(200);
      const answer = await purchase(held.body);
      expect(answer.status).toBe(409);
      const rows = await db.sql`select code::text from drop_purchases where sale = ${sale} and item = 20`;
      expect(rows).toEqual([{ code: other }]);
      // The authority learnt it: the item is sold, and the code is spent.
      expect((await checkout(201, 20)).status).toBe(409);
      expect((await purchase(held.body)).status).toBe(409);
    });

    it('drains on stop: in-flight requests finish, new ones get 503, every write is flushed', async () => {
      // Hold the attempt log's lock so the next batch cannot commit: a checkout stays in flight.
      const blocker = await db.sql.reserve();
      await blocker`begin`;
      await blocker`lock table drop_checkout_attempts in access exclusive mode`;
      const inFlight = checkout(300, 30);
      await waitFor('the checkout to wait on the lock', async () => {
        const [row] = await db.sql`
          select count(*)::int as n from pg_locks where relation = 'drop_checkout_attempts'::regclass and not granted`;
        return (row?.n ?? 0) > 0;
      });
      const stopping = server.stop();
      const drainClient = new HttpClient(1);
      try {
        await waitFor('503 answers', async () => {
          const answer = await drainClient.post(`${server.contest}/checkout?user_id=301&id=31`);
          return answer.status === 503;
        });
        const refused = await drainClient.post(`${server.contest}/purchase?code=${randomUUID()}`);
        expect(refused.status).toBe(503);
        expect(refused.headers.connection).toBe('close');
      } finally {
        drainClient.close();
        await blocker`commit`;
        blocker.release();
      }
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      await stopping;
      const rows = await db.sql`select 1 from drop_reservations where code = ${answer.body}`;
      expect(rows).toHaveLength(1);
      // Restart for the remaining tests of this file (and the hook that stops it).
      server = await startDropsServer(db.url, {
        ...env,
        DROPS_ITEMS_PER_SALE: '50',
        DROPS_PER_USER_LIMIT: '1',
        DROPS_RESERVATION_SECONDS: '1',
      });
    });
  });
}

describe('process guard', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());
  const logger = pino({ level: 'silent' });

  it('lets one in-memory process serve a database, or any number of Redis ones, never both', async () => {
    const memory = await acquireProcessGuard(db.url, 'exclusive', logger, 300);
    await expect(acquireProcessGuard(db.url, 'exclusive', logger, 300)).rejects.toThrow(/set REDIS_URL/);
    await expect(acquireProcessGuard(db.url, 'shared', logger, 300)).rejects.toBeInstanceOf(
      UnsafeDeploymentError,
    );
    await memory.release();
    const a = await acquireProcessGuard(db.url, 'shared', logger, 300);
    const b = await acquireProcessGuard(db.url, 'shared', logger, 300);
    await expect(acquireProcessGuard(db.url, 'exclusive', logger, 300)).rejects.toThrow(/already serving/);
    await a.release();
    await b.release();
    await (await acquireProcessGuard(db.url, 'exclusive', logger, 300)).release();
  });

  it('fails to boot with a clear message when the contest port is taken, and cleans up after itself', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      await expect(startDropsServer(db.url, { DROPS_CONTEST_PORT: String(port) })).rejects.toThrow(
        new RegExp(
          `contest API on 127.0.0.1:${port} \\(DROPS_CONTEST_HOST, DROPS_CONTEST_PORT\\): EADDRINUSE`,
        ),
      );
    } finally {
      squatter.close();
    }
    // The failed start released the process guard: the next one starts.
    const server = await startDropsServer(db.url);
    await server.stop();
  });
});
