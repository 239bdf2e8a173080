import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Breaker,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
} from '../../src/platform/resilience/circuit-breaker.ts';
import { RedisCircuitBreaker } from '../../src/platform/resilience/redis-circuit-breaker.ts';
import { clock, declined, deferred, peerDown } from '../helpers/breaker-fixtures.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the Redis circuit breaker half of the contract: REDIS_URL is not set');

/**
 * One set of scenarios, run on both homes of a breaker's state: this process (`CircuitBreaker`) and Redis
 * (`RedisCircuitBreaker`). The Redis one is also run as two instances on separate connections sharing a key,
 * as two processes would.
 */
type Make = (options: CircuitBreakerOptions) => Breaker[];

const clients: Redis[] = [];
afterAll(async () => {
  for (const client of clients) {
    const keys = await client.keys('test:breaker-contract:*');
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  }
});

const homes: { name: string; make: Make; skip: boolean }[] = [
  { name: 'in-process', make: (options) => [new CircuitBreaker(options)], skip: false },
  {
    name: 'Redis (two instances on separate connections, one key)',
    skip: !redisUrl,
    make: (options) => {
      const prefix = `test:breaker-contract:${randomBytes(6).toString('hex')}:`;
      return [0, 1].map(() => {
        const redis = new Redis(redisUrl!);
        clients.push(redis);
        return new RedisCircuitBreaker({ ...options, redis, prefix });
      });
    },
  },
];

for (const home of homes) {
  describe.skipIf(home.skip)(`circuit breaker contract: ${home.name}`, () => {
    function setup(options: Partial<CircuitBreakerOptions> = {}) {
      const time = clock();
      const changes: [CircuitState, CircuitState][] = [];
      const breakers = home.make({
        name: 'test peer',
        failureThreshold: 3,
        openTimeoutMs: 10_000,
        now: time.now,
        onStateChange: ({ from, to }) => changes.push([from, to]),
        ...options,
      });
      // Calls alternate between the instances (with Redis: between "processes").
      let turn = 0;
      const next = () => breakers[turn++ % breakers.length]!;
      let calls = 0;
      const succeed = () =>
        next().execute(async () => {
          calls++;
          return 'ok';
        });
      const fail = (make: () => Error = peerDown) =>
        next()
          .execute(async () => {
            calls++;
            throw make();
          })
          .catch((error: unknown) => error);
      const states = async () => Promise.all(breakers.map(async (b) => (await b.status()).state));
      return { breakers, first: breakers[0]!, time, changes, succeed, fail, states, calls: () => calls };
    }

    it('starts closed and reports the status shape', async () => {
      const { first } = setup();
      expect(await first.status()).toEqual({
        state: 'Closed',
        failures: 0,
        threshold: 3,
        timeoutSeconds: 10,
        openedAt: null,
        nextAttemptAt: null,
      });
    });

    it('opens after the threshold of consecutive failures (seen by any instance), then fails fast', async () => {
      const { breakers, time, fail, calls, changes, states } = setup();
      await fail();
      await fail();
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
      expect((await breakers.at(-1)!.status()).failures).toBe(2);
      expect(((await fail()) as Error).message).toBe('connection refused');
      for (const breaker of breakers)
        expect(await breaker.status()).toEqual({
          state: 'Open',
          failures: 3,
          threshold: 3,
          timeoutSeconds: 10,
          openedAt: new Date(time.now()).toISOString(),
          nextAttemptAt: new Date(time.now() + 10_000).toISOString(),
        });
      expect(changes).toEqual([['Closed', 'Open']]);

      time.advance(4_000);
      for (let i = 0; i < breakers.length; i++) {
        const refused = await fail();
        expect(refused).toBeInstanceOf(CircuitOpenError);
        expect(refused).toMatchObject({
          code: 'CIRCUIT_OPEN',
          statusCode: 503,
          state: 'Open',
          retryAfterMs: 6_000,
        });
      }
      expect(calls()).toBe(3);
    });

    it('counts consecutive failures only: any answer from the peer sets the count back to zero', async () => {
      const { first, fail, succeed, states, breakers } = setup();
      await fail();
      await fail();
      await succeed();
      expect((await first.status()).failures).toBe(0);
      await fail();
      await fail();
      await fail(declined);
      expect((await first.status()).failures).toBe(0);
      await fail();
      await fail();
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
      for (let i = 0; i < 10; i++) await fail(declined);
      expect(await first.status()).toMatchObject({ state: 'Closed', failures: 0 });
    });

    it('after the open timeout lets exactly one trial through across instances; its success closes', async () => {
      const { breakers, time, fail, calls, changes, states } = setup();
      for (let i = 0; i < 3; i++) await fail();
      time.advance(9_999);
      expect(await states()).toEqual(breakers.map(() => 'Open'));
      time.advance(1);
      expect(await states()).toEqual(breakers.map(() => 'HalfOpen'));
      expect((await breakers[0]!.status()).nextAttemptAt).toBeNull();

      // Many callers at once, on every instance: one trial, the rest refused while it is in flight.
      const trial = deferred<string>();
      const attempts = breakers.flatMap((b) =>
        Array.from({ length: 10 }, () =>
          b
            .execute(() => trial.promise)
            .then(
              (value) => ({ value }),
              (error: unknown) => ({ error }),
            ),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      trial.resolve('recovered');
      const outcomes = await Promise.all(attempts);
      expect(outcomes.filter((o) => 'value' in o)).toHaveLength(1);
      const refused = outcomes.filter((o) => 'error' in o).map((o) => (o as { error: unknown }).error);
      expect(refused).toHaveLength(attempts.length - 1);
      for (const error of refused) expect(error).toMatchObject({ state: 'HalfOpen', retryAfterMs: 0 });
      expect(calls()).toBe(3);
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
      expect(await breakers[0]!.status()).toMatchObject({ failures: 0, openedAt: null, nextAttemptAt: null });
      expect(changes).toEqual([
        ['Closed', 'Open'],
        ['Open', 'HalfOpen'],
        ['HalfOpen', 'Closed'],
      ]);
    });

    it('a failed trial opens it again for another timeout', async () => {
      const { breakers, time, fail, states } = setup();
      for (let i = 0; i < 3; i++) await fail();
      const firstOpened = (await breakers[0]!.status()).openedAt;
      time.advance(10_000);
      await fail();
      expect(await states()).toEqual(breakers.map(() => 'Open'));
      const again = await breakers.at(-1)!.status();
      expect(again.failures).toBe(4);
      expect(again.openedAt).not.toBe(firstOpened);
      expect(again.nextAttemptAt).toBe(new Date(time.now() + 10_000).toISOString());
    });

    it('ignores the outcome of a call that started before the breaker changed state', async () => {
      const { breakers, fail, states } = setup();
      const slowSuccess = deferred<string>();
      const slow = breakers.at(-1)!.execute(() => slowSuccess.promise);
      for (let i = 0; i < 3; i++) await fail();
      expect(await states()).toEqual(breakers.map(() => 'Open'));
      slowSuccess.resolve('late');
      expect(await slow).toBe('late');
      // A success from the closed period does not close the breaker that has opened since.
      expect(await states()).toEqual(breakers.map(() => 'Open'));
    });

    it('a trial that never settles stops blocking after the trial timeout; its late outcome is ignored', async () => {
      const { breakers, time, fail, states } = setup({ trialTimeoutMs: 5_000 });
      for (let i = 0; i < 3; i++) await fail();
      time.advance(10_000);
      const stuck = deferred<string>();
      const abandoned = breakers[0]!.execute(() => stuck.promise);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const blocked = await breakers
        .at(-1)!
        .execute(async () => 'x')
        .catch((error: unknown) => error);
      expect(blocked).toMatchObject({ state: 'HalfOpen' });
      time.advance(5_000);
      expect(await breakers.at(-1)!.execute(async () => 'second trial')).toBe('second trial');
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
      stuck.reject(peerDown());
      await abandoned.catch(() => {});
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
    });

    it('reset closes it for every instance', async () => {
      const { breakers, fail, states } = setup();
      for (let i = 0; i < 3; i++) await fail();
      await breakers[0]!.reset();
      expect(await states()).toEqual(breakers.map(() => 'Closed'));
      expect(await breakers.at(-1)!.status()).toMatchObject({ failures: 0, openedAt: null });
    });
  });
}
