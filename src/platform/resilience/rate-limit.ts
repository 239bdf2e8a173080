import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Platform } from '../context.ts';

/**
 * Token buckets: a bucket holds up to `burst` tokens and regains `perMinute / 60` a second; a request
 * takes `cost` of them or is refused. One contract, two homes: this process's memory (one API process)
 * or Redis (several: every process takes from the same bucket, timed by the Redis server's clock).
 */
export interface RateLimitPolicy {
  perMinute: number;
  burst: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** The bucket size (`burst`): what a caller may send at once from a full bucket. */
  limit: number;
  /** Seconds until the bucket is full again (0 when it is). */
  resetSeconds: number;
  /** Refused: seconds until `cost` tokens are back; allowed: 0. */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  take(key: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision>;
}

function check(policy: RateLimitPolicy, cost: number): void {
  if (!(policy.perMinute > 0 && Number.isInteger(policy.burst) && policy.burst >= 1)) {
    throw new RangeError(
      `a rate limit needs perMinute > 0 and a whole burst >= 1 (got ${JSON.stringify(policy)})`,
    );
  }
  if (!(Number.isInteger(cost) && cost >= 1 && cost <= policy.burst)) {
    throw new RangeError(
      `a request's cost must be a whole number from 1 to the burst ${policy.burst} (got ${cost})`,
    );
  }
}

/** The decision for `tokens` left after (not) taking `cost`; shared so both implementations answer alike. */
export function decide(
  policy: RateLimitPolicy,
  cost: number,
  allowed: boolean,
  tokens: number,
): RateLimitDecision {
  const perMs = policy.perMinute / 60_000;
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    limit: policy.burst,
    resetSeconds: Math.max(0, Math.ceil((policy.burst - tokens) / perMs / 1000)),
    // At least 1: a Retry-After of 0 invites an immediate retry that would be refused again.
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((cost - tokens) / perMs / 1000)),
  };
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Buckets in a Map, refilled lazily when touched. Bounded: past `maxKeys` the least recently used
 * bucket is dropped (it has had the longest to refill, so it is the one most likely full anyway;
 * a dropped bucket comes back full).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: { maxKeys?: number; now?: () => number } = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? (() => Date.now());
  }

  get size(): number {
    return this.#buckets.size;
  }

  async take(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    check(policy, cost);
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    let tokens = policy.burst;
    if (bucket) {
      // A clock that went back refills nothing rather than taking tokens away.
      const elapsed = Math.max(0, now - bucket.at);
      tokens = Math.min(policy.burst, bucket.tokens + (elapsed * policy.perMinute) / 60_000);
      this.#buckets.delete(key); // re-inserted below: Map order is recency order
    }
    const allowed = tokens >= cost;
    if (allowed) tokens -= cost;
    this.#buckets.set(key, { tokens, at: bucket ? Math.max(now, bucket.at) : now });
    if (this.#buckets.size > this.#maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return decide(policy, cost, allowed, tokens);
  }
}

// Read, refill, take and write in one step on the server, timed by the server's own clock (TIME), so
// API processes with skewed clocks agree. The key expires once it would be full again: an expired
// bucket and a full one are the same. Tokens travel as strings: Lua numbers in a reply are truncated.
const TAKE = `
local burst = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2]) / 60000
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
elseif now > at then
  tokens = math.min(burst, tokens + (now - at) * per_ms)
  at = now
end
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms) + 1000)
return {allowed, tostring(tokens)}`;

interface RateLimitScripts {
  boxofficeRateLimitTake(
    key: string,
    burst: number,
    perMinute: number,
    cost: number,
  ): Promise<[number, string]>;
}

/** Buckets in Redis under `prefix`: every process with the same Redis and prefix shares them. */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: Redis & RateLimitScripts;
  readonly #prefix: string;

  constructor(client: Redis, options: { prefix?: string } = {}) {
    // defineCommand: sent by EVALSHA, loaded again by ioredis after a NOSCRIPT (a restarted Redis).
    client.defineCommand('boxofficeRateLimitTake', { numberOfKeys: 1, lua: TAKE });
    this.#client = client as Redis & RateLimitScripts;
    this.#prefix = options.prefix ?? 'boxoffice:ratelimit:';
  }

  /** The Redis key of a bucket (tests set its state directly). */
  keyOf(key: string): string {
    return this.#prefix + key;
  }

  async take(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    check(policy, cost);
    const [allowed, tokens] = await this.#client.boxofficeRateLimitTake(
      this.keyOf(key),
      policy.burst,
      policy.perMinute,
      cost,
    );
    return decide(policy, cost, allowed === 1, Number(tokens));
  }
}

/**
 * Redis first; while it fails, this process's own buckets, so an outage of Redis loosens the limit
 * (to one budget per process) instead of turning every request into a 500.
 */
export class FallbackRateLimiter implements RateLimiter {
  readonly #primary: RateLimiter;
  readonly #fallback: RateLimiter;
  readonly #logger: Logger;
  #warnedAt = 0;

  constructor(primary: RateLimiter, fallback: RateLimiter, logger: Logger) {
    this.#primary = primary;
    this.#fallback = fallback;
    this.#logger = logger;
  }

  async take(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    check(policy, cost);
    try {
      return await this.#primary.take(key, policy, cost);
    } catch (error) {
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now();
        this.#logger.warn({ err: error }, 'rate limit: Redis failed; using per-process buckets meanwhile');
      }
      return this.#fallback.take(key, policy, cost);
    }
  }
}

/**
 * The header fields of draft-ietf-httpapi-ratelimit-headers, in its separate-fields form (draft 07):
 * `RateLimit-Limit` (the bucket size), `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the
 * bucket is full) and `RateLimit-Policy: <perMinute>;w=60;burst=<burst>`. Refused: `Retry-After` too.
 */
export function rateLimitHeaders(
  policy: RateLimitPolicy,
  decision: RateLimitDecision,
): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(decision.resetSeconds),
    'ratelimit-policy': `${policy.perMinute};w=60;burst=${policy.burst}`,
  };
  if (!decision.allowed) headers['retry-after'] = String(decision.retryAfterSeconds);
  return headers;
}

const limiters = new WeakMap<Platform, RateLimiter>();

/** The platform's limiter (one per platform): Redis-backed when REDIS_URL is set, else in this process. */
export function rateLimiter(platform: Platform): RateLimiter {
  let limiter = limiters.get(platform);
  if (!limiter) {
    limiter = platform.redis
      ? new FallbackRateLimiter(
          new RedisRateLimiter(platform.redis),
          new MemoryRateLimiter(),
          platform.logger.child({ component: 'rate-limit' }),
        )
      : new MemoryRateLimiter();
    limiters.set(platform, limiter);
  }
  return limiter;
}
