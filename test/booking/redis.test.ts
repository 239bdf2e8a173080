import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstSeatId } from '../../src/booking/index.ts';
import type { Running } from '../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Client, makeEvent, makeUsers, pool, startOn, type TestUser } from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  console.warn('skipping the booking tests across two API processes sharing Redis: REDIS_URL is not set');
}

/**
 * Two API platforms (as two processes would be) on one database and one Redis: the database arbitrates holds
 * between them, and the taken-seat cache they share never refuses a seat the other one has released.
 */
describe.skipIf(!redisUrl)('two API processes sharing PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let one: Running;
  let two: Running;
  let users: TestUser[];
  let redis: Redis;
  // A random event id: seat ids, hence the shared cache's keys, differ from any other run on this Redis.
  const EVENT = 7_000_000 + Math.floor(Math.random() * 1_000_000);
  const S = firstSeatId(EVENT);

  beforeAll(async () => {
    db = await createTestDatabase();
    one = await startOn(db, { REDIS_URL: redisUrl! });
    two = await startOn(db, { REDIS_URL: redisUrl! });
    redis = new Redis(redisUrl!);
    users = await makeUsers(db.sql, 15);
    await makeEvent(db.sql, EVENT, {
      layout: {
        name: 'Shared',
        kind: 'club',
        zones: [{ name: 'Hall', price: 10, rows: 2, seatsPerRow: 10 }],
      },
    });
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    if (redis) {
      const keys = await redis.keys(`boxoffice:booking:taken:${Math.floor(S / 1000)}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await db?.drop();
  });

  it('300 parallel selects of one seat through both processes: exactly one 200', async () => {
    const clients = [new Client(one.url!, 150), new Client(two.url!, 150)];
    try {
      const bookings: { user: TestUser; id: number; via: Client }[] = [];
      await pool(300, 30, async (i) => {
        const user = users[i % users.length]!;
        const via = clients[i % 2]!;
        bookings.push({ user, id: await via.book(user, EVENT), via });
      });
      const answers = await Promise.all(bookings.map((b) => b.via.select(b.user, b.id, S)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 419)).toHaveLength(299);
      const rows = await db.sql`select booking_id from booking_seats where seat_id = ${S}`;
      expect(rows).toHaveLength(1);
      // The shared cache knows the seat is taken, for no longer than the cache bound.
      const ttl = await redis.pttl(`boxoffice:booking:taken:${S}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2000);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a seat released through one process can be held through the other at once', async () => {
    const [a, b] = users as [TestUser, TestUser];
    const viaOne = new Client(one.url!);
    const viaTwo = new Client(two.url!);
    try {
      const mine = await viaOne.book(a, EVENT);
      expect((await viaOne.select(a, mine, S + 1)).status).toBe(200);
      const theirs = await viaTwo.book(b, EVENT);
      // Both processes have now seen the seat taken.
      expect((await viaOne.select(b, theirs, S + 1)).status).toBe(419);
      expect((await viaTwo.select(b, theirs, S + 1)).status).toBe(419);
      expect((await viaTwo.release(a, S + 1)).status).toBe(200);
      expect((await viaOne.select(b, theirs, S + 1)).status).toBe(200);
      const [row] = await db.sql<
        { booking_id: string }[]
      >`select booking_id from booking_seats where seat_id = ${S + 1}`;
      expect(row!.booking_id).toBe(String(theirs));
    } finally {
      viaOne.close();
      viaTwo.close();
    }
  });
});
