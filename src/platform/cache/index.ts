import type { Logger } from 'pino';
import { createRedis, type Redis } from '../redis.ts';
import type { Cache } from './cache.ts';
import { MemoryCache } from './memory-cache.ts';
import { RedisCache } from './redis-cache.ts';

export type { Cache } from './cache.ts';
export { MemoryCache, type MemoryCacheOptions } from './memory-cache.ts';
export { CacheNamespace } from './namespace.ts';
export { RedisCache, type RedisCacheOptions } from './redis-cache.ts';

export interface CreateCacheOptions {
  /** Unset (and no `redis`): an in-process cache, correct only while the app runs as one process. */
  redisUrl?: string;
  /** An existing client to share instead of opening one from `redisUrl`; the caller closes it. */
  redis?: Redis;
  logger: Logger;
  prefix?: string;
  /** For the in-process cache. */
  maxEntries?: number;
}

/**
 * The cache for this process. At boot, pass a client already checked with `assertRedisReachable`
 * so a wrong REDIS_URL fails fast with a clear message instead of on the first request.
 */
export function createCache(options: CreateCacheOptions): Cache {
  const prefix = options.prefix ?? 'boxoffice:';
  if (options.redis) return new RedisCache({ client: options.redis, prefix, ownsClient: false });
  if (options.redisUrl) {
    return new RedisCache({
      client: createRedis(options.redisUrl, options.logger),
      prefix,
      ownsClient: true,
    });
  }
  options.logger.child({ component: 'cache' }).info('no REDIS_URL: using the in-process cache');
  return new MemoryCache({ maxEntries: options.maxEntries });
}
