import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redactUrl } from './db/client.ts';

export type { Redis };

/**
 * The process's Redis client. Commands issued in the same tick share one round trip (auto-pipelining),
 * which is what makes a burst of cache reads cheap. While Redis is down a command waits through at most
 * two reconnect attempts and then fails, so requests degrade instead of piling up behind an outage.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const log = logger.child({ component: 'redis' });
  const client = new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // Connect on first use: a CLI command that never touches Redis opens no socket.
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Without a listener ioredis reports each failed reconnect as an unhandled 'error' event.
  client.on('error', (error: Error) => log.warn({ err: error }, 'redis connection error'));
  client.on('ready', () => log.debug({ url: redactUrl(url) }, 'redis ready'));
  return client;
}

/** Resolves when Redis answers PING within `timeoutMs`; rejects with the last connection error otherwise. */
export async function pingRedis(client: Redis, timeoutMs: number): Promise<void> {
  let lastError: Error | undefined;
  const remember = (error: Error) => {
    lastError = error;
  };
  client.on('error', remember);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(lastError ?? new Error(`no answer to PING within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([client.ping(), timeout]);
  } catch (error) {
    // The ping's own error is often just "max retries reached"; the connection error says why.
    throw lastError ?? error;
  } finally {
    clearTimeout(timer);
    client.off('error', remember);
  }
}

/** Fails fast at boot with an error that names the server (password redacted) and the reason. */
export async function assertRedisReachable(client: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  try {
    await pingRedis(client, timeoutMs);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    const reason = code && message && !message.includes(code) ? `${code} (${message})` : (message ?? code);
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${reason}`, { cause: error });
  }
}
