import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { firstSeatId } from '../../src/booking/index.ts';
import { testDataDir } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, ROOT, waitForOk } from '../helpers/process.ts';
import { Client, makeEvent, makeUsers, pool, type TestUser } from './harness.ts';

const SEATS = 2_000;
const SOCKETS = 64;

interface Child {
  process: ChildProcess;
  url: string;
  output: string[];
}

/** `node bin/boxoffice.js api`, as production runs it, against the test database. */
async function spawnApi(databaseUrl: string): Promise<Child> {
  const port = await freePort();
  const { REDIS_URL: _notHere, ...parentEnv } = process.env;
  const child = spawn(process.execPath, ['bin/boxoffice.js', 'api'], {
    cwd: ROOT,
    env: {
      ...parentEnv,
      DATABASE_URL: databaseUrl,
      DATA_DIR: testDataDir(),
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SEED_DEMO_ON_START: 'false',
      DROPS_ENABLED: 'false',
      DROPS_CONTEST_ENABLED: 'false',
      SIM_GATEWAY_PORT: '0',
      BOOKING_MAX_SEATS_PER_USER: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForOk(`${url}/health/ready`, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output.join('')}`);
  }
  return { process: child, url, output };
}

describe('kill -9 in the middle of a rush of holds', () => {
  let db: TestDatabase;
  const children: Child[] = [];
  afterAll(async () => {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await db?.drop();
  });

  it('loses no acknowledged hold; the restarted server still refuses those seats to others', async () => {
    db = await createTestDatabase();
    const users = await makeUsers(db.sql, 8, 'crash');
    const EVENT = 6001;
    await makeEvent(db.sql, EVENT, {
      layout: {
        name: 'Crash hall',
        kind: 'arena',
        zones: [{ name: 'All', price: 100, rows: 40, seatsPerRow: 50 }],
      },
    });
    const first = await spawnApi(db.url);
    children.push(first);

    const client = new Client(first.url, SOCKETS);
    const bookings: { user: TestUser; id: number }[] = [];
    for (const user of users)
      for (let i = 0; i < 4; i++) bookings.push({ user, id: await client.book(user, EVENT) });

    /** Holds answered 200: seat → booking. */
    const acknowledged = new Map<number, number>();
    let killed = false;
    let sent = 0;
    const rush = pool(SOCKETS, SOCKETS, async () => {
      try {
        while (!killed) {
          const { user, id } = bookings[Math.floor(Math.random() * bookings.length)]!;
          const seat = firstSeatId(EVENT) + Math.floor(Math.random() * SEATS);
          sent++;
          const answer = await client.select(user, id, seat);
          if (answer.status === 200) acknowledged.set(seat, id);
          else expect(answer.status).toBe(419);
        }
      } catch (error) {
        if (!killed) throw error;
      }
    });
    // Kill, without warning, once the rush is well under way.
    while (acknowledged.size < 400) await new Promise((resolve) => setTimeout(resolve, 5));
    killed = true;
    const exited = once(first.process, 'exit');
    first.process.kill('SIGKILL');
    await exited;
    await rush;
    client.close();

    // Every hold acknowledged before the kill is in the database, for the booking it was acknowledged to.
    const rows = await db.sql<{ seat_id: string; booking_id: string }[]>`
      select seat_id, booking_id from booking_seats where event_id = ${EVENT} and held_until > now()`;
    const stored = new Map(rows.map((r) => [Number(r.seat_id), Number(r.booking_id)]));
    expect(acknowledged.size).toBeGreaterThanOrEqual(400);
    for (const [seat, booking] of acknowledged) expect(stored.get(seat)).toBe(booking);
    expect(sent).toBeGreaterThan(acknowledged.size);

    // After a restart those seats are still taken for everyone else, and the rest can be held.
    const second = await spawnApi(db.url);
    children.push(second);
    const after = new Client(second.url, 8);
    try {
      const [stranger] = await makeUsers(db.sql, 1, 'late');
      const late = await after.book(stranger!, EVENT);
      const some = [...acknowledged.keys()].slice(0, 20);
      for (const seat of some) expect((await after.select(stranger!, late, seat)).status).toBe(419);
      const free = Array.from({ length: SEATS }, (_, i) => firstSeatId(EVENT) + i).find(
        (s) => !stored.has(s),
      )!;
      expect((await after.select(stranger!, late, free)).status).toBe(200);
    } finally {
      after.close();
    }
  });
});
