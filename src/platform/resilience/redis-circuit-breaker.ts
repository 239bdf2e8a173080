import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type Breaker,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
  CircuitOpenError,
  type CircuitState,
  defaultIsFailure,
} from './circuit-breaker.ts';

/**
 * The circuit breaker of circuit-breaker.ts with its state in Redis, so every process of a deployment opens
 * and closes it together: failures seen by one count for all, and while it is half-open exactly one trial
 * call runs across all of them. Same states, same rules, same snapshot as the in-process `CircuitBreaker`
 * (the contract test runs one set of scenarios on both).
 *
 * One hash per breaker (`<prefix><name>`): state, failures, openedAt, nextAttemptAt, a generation bumped on
 * every state change, and trialAt: the half-open trial's lease, taken atomically by the first caller after
 * the open timeout and void after `trialTimeoutMs`. Each step is one Lua script, so two processes never both
 * see "closed, 2 failures" and both add the third, or both take the trial. Times are the callers' clocks
 * (milliseconds since the epoch, passed in), which on one host are one clock.
 *
 * Redis is an accelerator, never a reason to refuse a payment: while it does not answer, calls go through
 * a breaker of this process's own (and the snapshot is that one's), with a warning.
 */
export interface RedisCircuitBreakerOptions extends CircuitBreakerOptions {
  redis: Redis;
  /** Key prefix, so deployments (and test runs) can share one Redis. */
  prefix: string;
  logger?: Logger;
}

/** A key untouched this long goes: a breaker's state is worth nothing a day later. */
const KEY_TTL_MS = 86_400_000;

// Shared by the scripts: the hash's fields, read once, written back by `open`/`close`.
const PRELUDE = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', key, 'state', 'failures', 'openedAt', 'nextAttemptAt', 'gen', 'trialAt')
local state = h[1] or 'Closed'
local failures = tonumber(h[2]) or 0
local gen = tonumber(h[5]) or 0
local trialAt = tonumber(h[6])
local function open(openTimeout)
  gen = gen + 1
  redis.call('HSET', key, 'state', 'Open', 'failures', failures, 'openedAt', now,
    'nextAttemptAt', now + openTimeout, 'gen', gen)
  redis.call('HDEL', key, 'trialAt')
end
local function close()
  gen = gen + 1
  redis.call('HSET', key, 'state', 'Closed', 'failures', 0, 'gen', gen)
  redis.call('HDEL', key, 'openedAt', 'nextAttemptAt', 'trialAt')
end
`;

/**
 * ARGV: now, trialTimeoutMs. Returns {admitted (1/0), generation, state before, state now, retryAfterMs}.
 * An open breaker past its timeout turns half-open here; the first caller then takes the trial lease.
 */
const ADMIT = `${PRELUDE}
local trialTimeout = tonumber(ARGV[2])
local before = state
if state == 'Open' then
  local nextAttemptAt = tonumber(h[4]) or now
  if now < nextAttemptAt then return {0, gen, before, 'Open', nextAttemptAt - now} end
  state = 'HalfOpen'
  gen = gen + 1
  redis.call('HSET', key, 'state', 'HalfOpen', 'gen', gen)
  redis.call('HDEL', key, 'nextAttemptAt', 'trialAt')
  trialAt = nil
end
if state == 'HalfOpen' then
  if trialAt and now - trialAt < trialTimeout then return {0, gen, before, 'HalfOpen', 0} end
  -- A new trial (the first, or one replacing a trial that never settled): its own generation.
  gen = gen + 1
  redis.call('HSET', key, 'gen', gen, 'trialAt', now)
end
redis.call('PEXPIRE', key, ${KEY_TTL_MS})
return {1, gen, before, state, 0}
`;

/** ARGV: now, generation of the call, failed (1/0), threshold, openTimeoutMs. Returns {state before, now}. */
const RECORD = `${PRELUDE}
local callGen = tonumber(ARGV[2])
local failed = ARGV[3] == '1'
local threshold = tonumber(ARGV[4])
local openTimeout = tonumber(ARGV[5])
local before = state
if callGen ~= gen then return {before, state} end
if state == 'HalfOpen' then
  if failed then
    failures = failures + 1
    open(openTimeout)
    state = 'Open'
  else
    close()
    state = 'Closed'
  end
elseif state == 'Closed' then
  if not failed then
    if failures > 0 then redis.call('HSET', key, 'failures', 0) end
  else
    failures = failures + 1
    if failures >= threshold then
      open(openTimeout)
      state = 'Open'
    else
      redis.call('HSET', key, 'failures', failures)
    end
  end
end
redis.call('PEXPIRE', key, ${KEY_TTL_MS})
return {before, state}
`;

/** ARGV: now. Returns {state before, state now} (Closed, Closed when it was closed already). */
const RESET = `${PRELUDE}
local before = state
close()
redis.call('PEXPIRE', key, ${KEY_TTL_MS})
return {before, 'Closed'}
`;

type RedisWithScripts = Redis & {
  breakerAdmit(
    key: string,
    now: number,
    trialTimeoutMs: number,
  ): Promise<[number, number, string, string, number]>;
  breakerRecord(
    key: string,
    now: number,
    generation: number,
    failed: 0 | 1,
    threshold: number,
    openTimeoutMs: number,
  ): Promise<[string, string]>;
  breakerReset(key: string, now: number): Promise<[string, string]>;
};

function withScripts(redis: Redis): RedisWithScripts {
  const scripted = redis as RedisWithScripts;
  // defineCommand sends EVALSHA (and the script once if Redis does not know it yet).
  if (typeof scripted.breakerAdmit !== 'function') {
    redis.defineCommand('breakerAdmit', { numberOfKeys: 1, lua: ADMIT });
    redis.defineCommand('breakerRecord', { numberOfKeys: 1, lua: RECORD });
    redis.defineCommand('breakerReset', { numberOfKeys: 1, lua: RESET });
  }
  return scripted;
}

export class RedisCircuitBreaker implements Breaker {
  readonly name: string;
  readonly threshold: number;
  readonly openTimeoutMs: number;
  readonly key: string;
  readonly #trialTimeoutMs: number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #now: () => number;
  readonly #onStateChange: CircuitBreakerOptions['onStateChange'];
  readonly #redis: RedisWithScripts;
  readonly #logger: Logger | undefined;
  /** This process's own breaker, for while Redis does not answer. */
  readonly #fallback: CircuitBreaker;
  #warnedAt = 0;

  constructor(options: RedisCircuitBreakerOptions) {
    // The same checks as the in-process breaker (it throws on bad options).
    this.#fallback = new CircuitBreaker(options);
    this.name = options.name;
    this.threshold = options.failureThreshold;
    this.openTimeoutMs = options.openTimeoutMs;
    this.#trialTimeoutMs = options.trialTimeoutMs ?? options.openTimeoutMs;
    this.#isFailure = options.isFailure ?? defaultIsFailure;
    this.#now = options.now ?? Date.now;
    this.#onStateChange = options.onStateChange;
    this.#redis = withScripts(options.redis);
    this.#logger = options.logger;
    this.key = `${options.prefix}${options.name.replaceAll(/\s+/g, '-')}`;
  }

  async execute<T>(call: () => Promise<T>): Promise<T> {
    let generation: number;
    try {
      const [admitted, gen, before, state, retryAfterMs] = await this.#redis.breakerAdmit(
        this.key,
        this.#now(),
        this.#trialTimeoutMs,
      );
      await this.#changed(before as CircuitState, state as CircuitState);
      if (admitted !== 1) throw new CircuitOpenError(this.name, state as CircuitState, retryAfterMs);
      generation = gen;
    } catch (error) {
      if (error instanceof CircuitOpenError) throw error;
      this.#redisDown(error);
      return this.#fallback.execute(call);
    }
    let result: T;
    try {
      result = await call();
    } catch (error) {
      await this.#record(generation, this.#isFailure(error));
      throw error;
    }
    await this.#record(generation, false);
    return result;
  }

  async status(): Promise<CircuitBreakerSnapshot> {
    let fields: Record<string, string>;
    try {
      fields = await this.#redis.hgetall(this.key);
    } catch (error) {
      this.#redisDown(error);
      return this.#fallback.snapshot();
    }
    return this.#view(fields);
  }

  async reset(): Promise<void> {
    const [before, after] = await this.#redis.breakerReset(this.key, this.#now());
    await this.#changed(before as CircuitState, after as CircuitState);
  }

  async #record(generation: number, failed: boolean): Promise<void> {
    try {
      const [before, after] = await this.#redis.breakerRecord(
        this.key,
        this.#now(),
        generation,
        failed ? 1 : 0,
        this.threshold,
        this.openTimeoutMs,
      );
      await this.#changed(before as CircuitState, after as CircuitState);
    } catch (error) {
      // The call's own outcome stands; only its count is lost.
      this.#redisDown(error);
    }
  }

  /** The snapshot of the in-process breaker, from the hash (an open breaker past its timeout reads HalfOpen). */
  #view(fields: Record<string, string>): CircuitBreakerSnapshot {
    let state = (fields.state as CircuitState | undefined) ?? 'Closed';
    const nextAttemptAt = fields.nextAttemptAt ? Number(fields.nextAttemptAt) : null;
    if (state === 'Open' && nextAttemptAt !== null && this.#now() >= nextAttemptAt) state = 'HalfOpen';
    return {
      state,
      failures: Number(fields.failures ?? 0),
      threshold: this.threshold,
      timeoutSeconds: this.openTimeoutMs / 1000,
      openedAt:
        state !== 'Closed' && fields.openedAt ? new Date(Number(fields.openedAt)).toISOString() : null,
      nextAttemptAt:
        state === 'Open' && nextAttemptAt !== null ? new Date(nextAttemptAt).toISOString() : null,
    };
  }

  /** Tells `onStateChange` of a change this process made (each change is reported by the process that made it). */
  async #changed(from: CircuitState, to: CircuitState): Promise<void> {
    if (from === to || !this.#onStateChange) return;
    const snapshot = await this.status();
    this.#onStateChange({ from, to, snapshot: { ...snapshot, state: to } });
  }

  #redisDown(error: unknown): void {
    const now = Date.now();
    if (now - this.#warnedAt < 10_000) return;
    this.#warnedAt = now;
    this.#logger?.warn(
      { err: error, breaker: this.name },
      `${this.name} circuit breaker: Redis does not answer; this process counts failures on its own meanwhile`,
    );
  }
}
