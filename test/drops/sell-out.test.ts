import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  type DropsServer,
  dropTestState,
  HttpClient,
  pool,
  redisOverrides,
  startDropsServer,
  UUID,
} from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the drops sell-out across two API processes: REDIS_URL is not set');

const LIMIT = 10;

interface Rush {
  checkouts: number;
  checkoutOk: number;
  purchases: { code: string; item: number; user: string }[];
  statuses: Map<number, number>;
}

/**
 * Thousands of users buy through real HTTP requests (keep-alive sockets, bounded concurrency) until
 * every item is sold, then keep trying (the 409 storm). Each client picks items among those it has not
 * seen sold, so near the end they collide on the last few: the races the authority must settle.
 */
async function rush(targets: string[], items: number, users: string[], concurrency: number, storm: number) {
  const client = new HttpClient(concurrency);
  const result: Rush = { checkouts: 0, checkoutOk: 0, purchases: [], statuses: new Map() };
  const unsold = Array.from({ length: items }, (_, i) => i);
  const count = (status: number) => result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
  const random = (n: number) => Math.floor(Math.random() * n);
  try {
    await pool(concurrency, concurrency, async (worker) => {
      const base = targets[worker % targets.length]!;
      while (unsold.length > 0) {
        const item = unsold[random(unsold.length)]!;
        const user = users[random(users.length)]!;
        result.checkouts++;
        const answer = await client.post(`${base}/checkout?user_id=${user}&id=${item}`);
        count(answer.status);
        if (answer.status !== 200) continue;
        result.checkoutOk++;
        expect(answer.body).toMatch(UUID);
        const bought = await client.post(`${base}/purchase?code=${answer.body}`);
        count(bought.status);
        if (bought.status !== 200)
          throw new Error(`purchase of a fresh code answered ${bought.status} ${bought.body}`);
        result.purchases.push({ code: answer.body, item, user });
        const index = unsold.indexOf(item);
        if (index !== -1) unsold.splice(index, 1);
      }
    });
    // Sold out: every further checkout is refused.
    await pool(storm, concurrency, async (i) => {
      result.checkouts++;
      const answer = await client.post(
        `${targets[i % targets.length]}/checkout?user_id=${users[random(users.length)]}&id=${random(items)}`,
      );
      count(answer.status);
      expect(answer.status).toBe(409);
    });
  } finally {
    client.close();
  }
  return result;
}

async function verify(db: TestDatabase, result: Rush, items: number, users: number) {
  const [totals] = await db.sql<
    { sold: number; distinct_items: number; min_item: number; max_item: number }[]
  >`
    select count(*)::int as sold, count(distinct item)::int as distinct_items,
           min(item) as min_item, max(item) as max_item
    from drop_purchases`;
  // Exactly N sold, each item once.
  expect(totals).toEqual({ sold: items, distinct_items: items, min_item: 0, max_item: items - 1 });
  expect(result.purchases).toHaveLength(items);
  // Every acknowledged purchase is in the database, as acknowledged.
  const rows = await db.sql<{ code: string; item: number; user: string }[]>`
    select code::text, item, user_id::text as user from drop_purchases`;
  const stored = new Map(rows.map((row) => [row.code, row]));
  for (const purchase of result.purchases) expect(stored.get(purchase.code)).toEqual(purchase);
  // Nobody above the limit.
  const [perUser] = await db.sql<{ max: number; buyers: number }[]>`
    select max(n)::int as max, count(*)::int as buyers
    from (select user_id, count(*) as n from drop_purchases group by user_id) t`;
  expect(perUser!.max).toBeLessThanOrEqual(LIMIT);
  expect(perUser!.buyers).toBeLessThanOrEqual(users);
  // Every attempt persisted: as many attempt rows as checkout requests sent, with the right outcomes.
  const outcomes = Object.fromEntries(
    (
      await db.sql<{ outcome: string; n: number }[]>`
        select outcome::text, count(*)::int as n from drop_checkout_attempts group by 1`
    ).map((row) => [row.outcome, row.n]),
  );
  const attempts = Object.values(outcomes).reduce((sum, n) => sum + n, 0);
  expect(attempts).toBe(result.checkouts);
  expect(outcomes.reserved).toBe(result.checkoutOk);
  expect((outcomes.unavailable ?? 0) + (outcomes.user_limit ?? 0)).toBe(result.checkouts - result.checkoutOk);
  const [events] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox_events where topic = 'drop.purchased'`;
  expect(events!.n).toBe(items);
}

/** 1,500 users, many with ids beyond 2^31 and 2^53: capacity 15,000 for 10,000 items. */
function makeUsers(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i % 3 === 0
      ? String(i + 1)
      : i % 3 === 1
        ? String(2n ** 31n + BigInt(i))
        : String(2n ** 62n + BigInt(i) * 1_000_003n),
  );
}

describe('sell-out (in-memory authority, one API process)', () => {
  let db: TestDatabase;
  let server: DropsServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('sells exactly 10,000 items to thousands of racing users; nothing lost, nothing twice', async () => {
    db = await createTestDatabase();
    server = await startDropsServer(db.url, { DROPS_PER_USER_LIMIT: String(LIMIT) });
    const users = makeUsers(1_500);
    const result = await rush([server.contest], 10_000, users, 128, 2_000);
    expect(result.statuses.get(200)).toBe(result.checkoutOk + 10_000);

    const current = await new HttpClient(1).json<Record<string, unknown>>(`${server.main}/api/drops/current`);
    expect(current).toMatchObject({ sold: 10_000, left: 0, reserved: 0 });
    expect(current.soldOutAt).not.toBeNull();
    // A graceful stop flushes every queued attempt record before the pool closes.
    await server.stop();
    server = undefined;
    await verify(db, result, 10_000, users.length);
  });
});

describe.skipIf(!redisUrl)('sell-out (Redis authority, two API processes on one database)', () => {
  let db: TestDatabase;
  const servers: DropsServer[] = [];
  let env: Record<string, string>;
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await dropTestState(env, redisUrl, db);
  });

  it('sells exactly 10,000 items through both processes; nothing lost, nothing twice', async () => {
    db = await createTestDatabase();
    env = { ...redisOverrides(redisUrl!), DROPS_PER_USER_LIMIT: String(LIMIT) };
    // Two API processes (in this test process, each with its own platform, Redis client and pool).
    servers.push(await startDropsServer(db.url, env));
    servers.push(await startDropsServer(db.url, env));
    const users = makeUsers(1_500);
    const result = await rush(
      servers.map((s) => s.contest),
      10_000,
      users,
      128,
      1_000,
    );
    while (servers.length > 0) await servers.pop()!.stop();
    await verify(db, result, 10_000, users.length);
  });
});
