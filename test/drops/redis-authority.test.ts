import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RedisAuthority } from '../../src/drops/redis-authority.ts';
import { SaleClock } from '../../src/drops/sale-clock.ts';
import { assertRedisReachable, createRedis, type Redis } from '../../src/platform/redis.ts';
import { authorityContract } from './authority-contract.ts';
import { deleteKeys } from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the Redis drops authority contract: REDIS_URL is not set');

describe.skipIf(!redisUrl)('RedisAuthority', () => {
  const clients: Redis[] = [];
  const prefixes: string[] = [];
  authorityContract({
    async open(options) {
      const client = createRedis(redisUrl!, pino({ level: 'silent' }));
      await assertRedisReachable(client, redisUrl!);
      clients.push(client);
      // A fresh prefix per authority: every test starts from empty state, as a new deployment would.
      const prefix = `test:drops:${randomUUID()}:`;
      prefixes.push(prefix);
      return new RedisAuthority({ client, prefix, ...options });
    },
    async close() {
      for (const [i, client] of clients.entries()) {
        await deleteKeys(client, prefixes[i]!);
        await client.quit();
      }
    },
  });

  it('two processes (two clients) share one inventory: each item goes to exactly one of them', async () => {
    const sale = new SaleClock(0, 3_600_000).at(Date.now());
    const now = sale.startsAt + 1;
    const prefix = `test:drops:${randomUUID()}:`;
    const pair = [1, 2].map(() => createRedis(redisUrl!, pino({ level: 'silent' })));
    try {
      const [a, b] = pair.map(
        (client) => new RedisAuthority({ client, prefix, items: 100, perUserLimit: 100 }),
      );
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, item) => [
          a!.checkout(sale, '1', item, now, now + 60_000),
          b!.checkout(sale, '2', item, now, now + 60_000),
        ]).flat(),
      );
      expect(answers.filter((x) => typeof x === 'string')).toHaveLength(100);
    } finally {
      await deleteKeys(pair[0]!, prefix);
      for (const client of pair) await client.quit();
    }
  });
});
