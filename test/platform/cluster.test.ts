import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstSeatId } from '../../src/booking/index.ts';
import { removeEmbeddedData } from '../../src/platform/db/embedded.ts';
import type { GatewaySimulator } from '../../src/sims/gateway/index.ts';
import { Client, makeEvent, makeUsers, pool, SMALL_HALL, type TestUser } from '../booking/harness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, type Spawned, spawnNode, waitForOk } from '../helpers/process.ts';
import { startSim } from '../payments/gateway/harness.ts';
import { FAST_PAYMENTS, MERCHANT } from '../payments/harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping `start --processes 2` (Node cluster) tests: REDIS_URL is not set');

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pid that answers /health/live on a fresh connection. */
async function livePid(base: string): Promise<number> {
  const response = await fetch(`${base}/health/live`, { headers: { connection: 'close' } });
  if (!response.ok) throw new Error(`/health/live: ${response.status}`);
  return ((await response.json()) as { pid: number }).pid;
}

/** Distinct pids answering on fresh connections, until `count` of them have answered. */
async function pidsAnswering(base: string, count: number, exclude: number[] = []): Promise<Set<number>> {
  const seen = new Set<number>();
  return until(`${count} worker pids answering`, async () => {
    const pid = await livePid(base);
    if (!exclude.includes(pid)) seen.add(pid);
    return seen.size >= count ? seen : undefined;
  });
}

describe('boxoffice start --processes N without REDIS_URL', () => {
  it('is refused before forking, with one line naming REDIS_URL and the drops inventory', async () => {
    const run = spawnNode(['start', '--processes', '2'], {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never-reached',
      DROPS_ENABLED: 'true',
      LOG_LEVEL: 'info',
    });
    try {
      const { code } = await run.exited;
      expect(code).not.toBe(0);
      const lines = run.output().trim().split('\n');
      // One line, and no worker (nor the database) was ever reached.
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^boxoffice: --processes 2 needs REDIS_URL: .*drops inventory/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});

describe.skipIf(!redisUrl)('boxoffice start --processes 2 (Node cluster, shared Redis)', () => {
  let db: TestDatabase;
  let run: Spawned;
  let base: string;
  let contestPort: number;
  let sim: GatewaySimulator;
  const breakerPrefix = `test:cluster-breaker:${randomBytes(4).toString('hex')}:`;
  const workerPids = new Set<number>();
  const EVENT = 8_000_000 + Math.floor(Math.random() * 1_000_000);

  beforeAll(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    contestPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    // A gateway of the test's own, so the test can take it down.
    sim = await startSim();
    run = spawnNode(['start', '--processes', '2'], {
      PAYMENT_ENDPOINT: sim.apiUrl,
      MERCHANT_ID: MERCHANT.teamSlug,
      MERCHANT_PASSWORD: MERCHANT.password,
      PAYMENT_WEBHOOK_SECRET: MERCHANT.webhookSecret,
      ...FAST_PAYMENTS,
      CIRCUIT_BREAKER_TIMEOUT_SECONDS: '60',
      CIRCUIT_BREAKER_REDIS_PREFIX: breakerPrefix,
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl!,
      PORT: String(port),
      DROPS_ENABLED: 'true',
      DROPS_CONTEST_PORT: String(contestPort),
      DROPS_REDIS_PREFIX: `test:cluster:${randomBytes(4).toString('hex')}:`,
      SIM_GATEWAY_PORT: '0',
      SEED_DEMO_ON_START: 'false',
      LOG_LEVEL: 'info',
    });
    await waitForOk(`${base}/health/ready`, 45_000);
  }, 60_000);

  afterAll(async () => {
    if (run) reportedPids();
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
    for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await sim?.stop();
    await db?.drop();
    if (redisUrl) {
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${breakerPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  /** Every worker pid the primary has forked so far (HTTP and background ones, restarts included). */
  const reportedPids = () => {
    for (const match of run.output().matchAll(/"worker":(\d+)/g)) workerPids.add(Number(match[1]));
  };

  it('serves requests from two different pids, none of them the primary', async () => {
    const pids = await pidsAnswering(base, 2);
    expect(pids.size).toBe(2);
    expect(pids.has(run.child.pid!)).toBe(false);
    for (const pid of pids) workerPids.add(pid);
    // The contest port (a raw node:net server) is shared the same way.
    const contest = await fetch(`http://127.0.0.1:${contestPort}/nowhere`);
    expect(contest.status).toBe(404);
  });

  it('a seat race across both workers: 200 parallel selects of one seat, exactly one 200', async () => {
    const users = await makeUsers(db.sql, 20);
    await makeEvent(db.sql, EVENT, {
      layout: { name: 'Race', kind: 'club', zones: [{ name: 'Hall', price: 10, rows: 1, seatsPerRow: 10 }] },
    });
    const seat = firstSeatId(EVENT);
    const client = new Client(base, 100);
    try {
      // The client's keep-alive sockets reach both workers (the primary deals connections round-robin).
      const socketPids = new Set<number>();
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          socketPids.add((await client.get('/health/live')).json().pid);
        }),
      );
      expect(socketPids.size).toBe(2);

      const bookings: { user: TestUser; id: number }[] = [];
      await pool(200, 20, async (i) => {
        const user = users[i % users.length]!;
        bookings.push({ user, id: await client.book(user, EVENT) });
      });
      const answers = await Promise.all(bookings.map((b) => client.select(b.user, b.id, seat)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 419)).toHaveLength(199);
      const rows = await db.sql`select booking_id from booking_seats where seat_id = ${seat}`;
      expect(rows).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('the payment breaker opened by failures through one worker is open on the other', async () => {
    // Two clients of one keep-alive socket each, pinned to different workers.
    const pinned = new Map<number, Client>();
    await until('a client pinned to each worker', async () => {
      const client = new Client(base, 1);
      const pid = (await client.get('/health/live')).json().pid as number;
      if (pinned.has(pid)) client.close();
      else pinned.set(pid, client);
      return pinned.size === 2 ? true : undefined;
    });
    const [[onePid, one], [twoPid, two]] = [...pinned] as [[number, Client], [number, Client]];
    try {
      expect(onePid).not.toBe(twoPid);
      const status = async (client: Client) =>
        (await client.get('/api/payments/circuit-breaker-status')).json().circuit_breaker;
      expect((await status(two)).state).toBe('Closed');
      const eventId = EVENT + 1;
      await makeEvent(db.sql, eventId, { layout: SMALL_HALL });
      const payers = await makeUsers(db.sql, 2, 'cluster-payer');
      sim.configure({ outage: 'unavailable' });
      // Through the first worker only: two attempts each (503s are retried), open at the third failure.
      for (const [i, payer] of payers.entries()) {
        const bookingId = await one.book(payer, eventId);
        expect((await one.select(payer, bookingId, firstSeatId(eventId) + i)).status).toBe(200);
        const answer = await one.send('PATCH', '/api/bookings/initiatePayment', {
          auth: payer.auth,
          body: { booking_id: bookingId },
        });
        expect(answer.status).toBe(504);
      }
      // Both pinned sockets still reach the workers they reached at first.
      expect((await one.get('/health/live')).json().pid).toBe(onePid);
      expect((await two.get('/health/live')).json().pid).toBe(twoPid);
      const seenByOne = await status(one);
      expect(seenByOne).toMatchObject({ state: 'Open', failure_count: 3 });
      expect(await status(two)).toEqual(seenByOne);
    } finally {
      sim.configure({ outage: 'none' });
      for (const client of pinned.values()) client.close();
    }
  });

  it('kill -9 of a worker: the primary restarts it and requests keep succeeding', async () => {
    const [victim, survivor] = [...(await pidsAnswering(base, 2))] as [number, number];
    process.kill(victim, 'SIGKILL');
    await until('the primary noticing the death', async () =>
      run.output().includes('worker died unexpectedly') ? true : undefined,
    );
    // Meanwhile and afterwards every new connection is served (by the survivor or the replacement).
    for (let i = 0; i < 30; i++) {
      const pid = await livePid(base);
      expect(pid).not.toBe(victim);
    }
    const now = await pidsAnswering(base, 2, [victim]);
    expect(now.has(survivor)).toBe(true);
    expect(now.has(victim)).toBe(false);
    for (const pid of now) workerPids.add(pid);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  });

  it('SIGTERM: every worker drains, the primary exits 0 and nothing is left running', async () => {
    reportedPids();
    const pids = [...workerPids, run.child.pid!];
    expect(workerPids.size).toBeGreaterThanOrEqual(4); // 2 HTTP + 1 background + 1 replacement
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code).toBe(0);
    await until(
      'every worker gone',
      async () => (pids.every((pid) => !alive(pid)) ? true : undefined),
      10_000,
    );
    expect(run.output()).not.toContain('took too long');
  });
});

describe.skipIf(!redisUrl)('boxoffice start --processes 2 on embedded PostgreSQL', () => {
  let dataDir: string;
  let run: Spawned | undefined;
  afterAll(async () => {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
    for (const match of run?.output().matchAll(/"worker":(\d+)/g) ?? [])
      if (alive(Number(match[1]))) process.kill(Number(match[1]), 'SIGKILL');
    // removeEmbeddedData also removes the cluster when, as root, it had to live outside the private TMPDIR.
    if (dataDir) await removeEmbeddedData(dataDir);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the primary starts the one server; the workers use it; it stops with the primary', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'boxoffice-cluster-'));
    const port = await freePort();
    run = spawnNode(['start', '--processes', '2'], {
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      REDIS_URL: redisUrl!,
      PORT: String(port),
      DROPS_CONTEST_PORT: '0',
      DROPS_REDIS_PREFIX: `test:cluster:${randomBytes(4).toString('hex')}:`,
      SIM_GATEWAY_PORT: '0',
      SEED_DEMO_ON_START: 'false',
      MASTER_KEY: 'Ym94b2ZmaWNlLXRlc3QtbWFzdGVyLWtleS0wMTIzNDU=',
      LOG_LEVEL: 'info',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/health/ready`, 45_000);
    await pidsAnswering(base, 2);
    const output = run.output();
    const started = [...output.matchAll(/"postmaster":(\d+)[^\n]*"embedded PostgreSQL started"/g)];
    expect(started).toHaveLength(1);
    expect(output).not.toContain('using the embedded PostgreSQL that another boxoffice process runs');
    // Only the primary registered as a user of the server.
    expect(readdirSync(join(dataDir, 'pg.users')).map((name) => Number(name.split('-')[0]))).toEqual([
      run.child.pid,
    ]);
    const postmaster = Number(started[0]![1]);
    expect(alive(postmaster)).toBe(true);

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    await until('the embedded server gone', async () => (alive(postmaster) ? undefined : true), 30_000);
  });
});
