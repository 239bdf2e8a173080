import type { Redis } from 'ioredis';
import { pingRedis } from '../redis.ts';
import { incrementAmount, ttlMilliseconds } from './arguments.ts';
import type { Cache } from './cache.ts';

export interface RedisCacheOptions {
  client: Redis;
  /** Prepended to every key, e.g. `boxoffice:`, so several apps or test runs can share one Redis. */
  prefix: string;
  /** Whether `close()` quits the client; false when the client is shared with other components. */
  ownsClient?: boolean;
  /** Bound on `ping()`, so a readiness probe answers even while Redis is unreachable. */
  pingTimeoutMs?: number;
}

// Compare-and-delete must be one step on the server: a GET then DEL could delete a successor's gate.
const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

// The TTL is set only when INCRBY creates the key, so a rate-limit window is not extended by each hit;
// in one script so a crash between the two steps cannot leave a counter that never expires.
const INCREMENT = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value`;

/** The scripts registered with `defineCommand`: ioredis sends them by SHA and loads them on NOSCRIPT. */
interface CacheScripts {
  boxofficeCacheDeleteIfEquals(key: string, value: string): Promise<number>;
  boxofficeCacheIncrement(key: string, by: number, ttlMs: number | ''): Promise<number>;
}

/** The shared cache: every process pointing at the same Redis and prefix sees the same entries. */
export class RedisCache implements Cache {
  readonly #client: Redis & CacheScripts;
  readonly #prefix: string;
  readonly #ownsClient: boolean;
  readonly #pingTimeoutMs: number;

  constructor(options: RedisCacheOptions) {
    options.client.defineCommand('boxofficeCacheDeleteIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS });
    options.client.defineCommand('boxofficeCacheIncrement', { numberOfKeys: 1, lua: INCREMENT });
    this.#client = options.client as Redis & CacheScripts;
    this.#prefix = options.prefix;
    this.#ownsClient = options.ownsClient ?? true;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#client.get(this.#key(key))) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return []; // MGET with no keys is a syntax error
    const values = await this.#client.mget(keys.map((key) => this.#key(key)));
    return values.map((value) => value ?? undefined);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.#client.set(this.#key(key), value);
    else await this.#client.set(this.#key(key), value, 'PX', ttlMilliseconds(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.#client.set(this.#key(key), value, 'PX', ttlMilliseconds(ttlMs), 'NX')) === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#client.del(this.#key(key))) > 0;
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return (await this.#client.boxofficeCacheDeleteIfEquals(this.#key(key), value)) > 0;
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const ttl = ttlMs === undefined ? '' : ttlMilliseconds(ttlMs);
    return await this.#client.boxofficeCacheIncrement(this.#key(key), incrementAmount(by), ttl);
  }

  async ping(): Promise<void> {
    await pingRedis(this.#client, this.#pingTimeoutMs);
  }

  async close(): Promise<void> {
    if (!this.#ownsClient || this.#client.status === 'end') return;
    try {
      await this.#client.quit(); // waits for replies already in flight
    } catch {
      this.#client.disconnect();
    }
  }

  #key(key: string): string {
    return this.#prefix + key;
  }
}
