import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
} from '../../src/platform/resilience/circuit-breaker.ts';
import { clock, declined, deferred, peerDown } from '../helpers/breaker-fixtures.ts';

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const time = clock();
  const changes: [CircuitState, CircuitState][] = [];
  const breaker = new CircuitBreaker({
    name: 'test peer',
    failureThreshold: 3,
    openTimeoutMs: 10_000,
    now: time.now,
    onStateChange: ({ from, to }) => changes.push([from, to]),
    ...options,
  });
  let calls = 0;
  const succeed = () =>
    breaker.execute(async () => {
      calls++;
      return 'ok';
    });
  const fail = (make: () => Error = peerDown) =>
    breaker
      .execute(async () => {
        calls++;
        throw make();
      })
      .catch((error: unknown) => error);
  return { breaker, time, changes, succeed, fail, calls: () => calls };
}

describe('circuit breaker', () => {
  it('starts closed and reports the status shape', () => {
    const { breaker } = setup();
    expect(breaker.snapshot()).toEqual({
      state: 'Closed',
      failures: 0,
      threshold: 3,
      timeoutSeconds: 10,
      openedAt: null,
      nextAttemptAt: null,
    });
  });

  it('opens after the threshold of consecutive failures, then fails fast without calling the peer', async () => {
    const { breaker, time, fail, calls, changes } = setup();
    await fail();
    await fail();
    expect(breaker.state).toBe('Closed');
    expect(breaker.snapshot().failures).toBe(2);
    const third = await fail();
    expect((third as Error).message).toBe('connection refused');
    expect(breaker.snapshot()).toEqual({
      state: 'Open',
      failures: 3,
      threshold: 3,
      timeoutSeconds: 10,
      openedAt: new Date(time.now()).toISOString(),
      nextAttemptAt: new Date(time.now() + 10_000).toISOString(),
    });
    expect(changes).toEqual([['Closed', 'Open']]);

    time.advance(4_000);
    const refused = await fail();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({
      code: 'CIRCUIT_OPEN',
      statusCode: 503,
      state: 'Open',
      retryAfterMs: 6_000,
    });
    expect((refused as CircuitOpenError).peerFailure).toBe(false);
    expect(calls()).toBe(3);
  });

  it('counts consecutive failures only: any answer from the peer sets the count back to zero', async () => {
    const { breaker, fail, succeed } = setup();
    await fail();
    await fail();
    await succeed();
    expect(breaker.snapshot().failures).toBe(0);
    await fail();
    await fail();
    await fail(declined); // a business refusal: the peer is healthy
    expect(breaker.snapshot().failures).toBe(0);
    await fail();
    await fail();
    expect(breaker.state).toBe('Closed');
  });

  it('never opens on business refusals (errors marked peerFailure: false)', async () => {
    const { breaker, fail } = setup();
    for (let i = 0; i < 10; i++) await fail(declined);
    expect(breaker.snapshot()).toMatchObject({ state: 'Closed', failures: 0 });
  });

  it('takes a custom classifier', async () => {
    const { breaker, fail } = setup({ isFailure: (error) => (error as Error).message === 'timeout' });
    for (let i = 0; i < 5; i++) await fail(peerDown);
    expect(breaker.state).toBe('Closed');
    for (let i = 0; i < 3; i++) await fail(() => new Error('timeout'));
    expect(breaker.state).toBe('Open');
  });

  it('after the open timeout lets exactly one trial through; the others fail fast while it is in flight', async () => {
    const { breaker, time, fail, calls } = setup();
    for (let i = 0; i < 3; i++) await fail();
    time.advance(9_999);
    expect(breaker.state).toBe('Open');
    time.advance(1);
    expect(breaker.state).toBe('HalfOpen');
    expect(breaker.snapshot().nextAttemptAt).toBeNull();

    const trial = deferred<string>();
    const first = breaker.execute(() => trial.promise);
    const second = await breaker.execute(async () => 'not called').catch((error: unknown) => error);
    expect(second).toBeInstanceOf(CircuitOpenError);
    expect(second).toMatchObject({ state: 'HalfOpen', retryAfterMs: 0 });
    expect(calls()).toBe(3);

    trial.resolve('recovered');
    expect(await first).toBe('recovered');
    expect(breaker.snapshot()).toMatchObject({
      state: 'Closed',
      failures: 0,
      openedAt: null,
      nextAttemptAt: null,
    });
  });

  it('a failed trial opens it again for a whole timeout', async () => {
    const { breaker, time, fail, changes } = setup();
    for (let i = 0; i < 3; i++) await fail();
    time.advance(10_000);
    await fail();
    expect(breaker.snapshot()).toMatchObject({
      state: 'Open',
      openedAt: new Date(time.now()).toISOString(),
      nextAttemptAt: new Date(time.now() + 10_000).toISOString(),
    });
    expect(changes).toEqual([
      ['Closed', 'Open'],
      ['Open', 'HalfOpen'],
      ['HalfOpen', 'Open'],
    ]);
  });

  it('a trial answered with a business refusal closes it (the peer answered)', async () => {
    const { breaker, time, fail } = setup();
    for (let i = 0; i < 3; i++) await fail();
    time.advance(10_000);
    const error = await fail(declined);
    expect((error as Error).message).toBe('card declined');
    expect(breaker.state).toBe('Closed');
  });

  it('ignores outcomes of calls that started before the last state change', async () => {
    const { breaker, time, fail } = setup();
    const slowSuccess = deferred<string>();
    const slowFailure = deferred<string>();
    const pendingSuccess = breaker.execute(() => slowSuccess.promise);
    const pendingFailure = breaker.execute(() => slowFailure.promise).catch(() => undefined);
    for (let i = 0; i < 3; i++) await fail();
    expect(breaker.state).toBe('Open');

    // A success that began while closed does not close the breaker that has since opened…
    slowSuccess.resolve('late');
    await pendingSuccess;
    expect(breaker.state).toBe('Open');
    // …and a late failure does not push the next attempt back.
    const before = breaker.snapshot();
    time.advance(1_000);
    slowFailure.reject(peerDown());
    await pendingFailure;
    expect(breaker.snapshot()).toEqual({ ...before });
  });

  it('a trial that never settles stops blocking after trialTimeoutMs, and its late outcome is ignored', async () => {
    const { breaker, time, fail, succeed } = setup({ trialTimeoutMs: 5_000 });
    for (let i = 0; i < 3; i++) await fail();
    time.advance(10_000);
    const stuck = deferred<string>();
    const stuckCall = breaker.execute(() => stuck.promise).catch(() => undefined);
    time.advance(4_999);
    expect(await fail()).toBeInstanceOf(CircuitOpenError);
    time.advance(1);
    expect(await succeed()).toBe('ok');
    expect(breaker.state).toBe('Closed');
    stuck.reject(peerDown());
    await stuckCall;
    expect(breaker.snapshot()).toMatchObject({ state: 'Closed', failures: 0 });
  });

  it('reset() closes it at once', async () => {
    const { breaker, fail } = setup();
    for (let i = 0; i < 3; i++) await fail();
    breaker.reset();
    expect(breaker.snapshot()).toMatchObject({ state: 'Closed', failures: 0, openedAt: null });
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new CircuitBreaker({ name: 'x', failureThreshold: 0, openTimeoutMs: 1 })).toThrow(
      RangeError,
    );
    expect(() => new CircuitBreaker({ name: 'x', failureThreshold: 1.5, openTimeoutMs: 1 })).toThrow(
      RangeError,
    );
    expect(() => new CircuitBreaker({ name: 'x', failureThreshold: 1, openTimeoutMs: -1 })).toThrow(
      RangeError,
    );
  });
});
