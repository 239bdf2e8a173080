import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { pino } from 'pino';
import { createDropsModule, type DropsModule } from '../../src/drops/index.ts';
import type { Redis } from '../../src/platform/redis.ts';
import { runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import type { TestDatabase } from '../helpers/db.ts';

export { freePort } from '../helpers/process.ts';

/**
 * Sales in tests start a few seconds before the test file loads and last an hour (unless a test sets
 * the period), so no test ever runs across a sale boundary by accident. Same value for every server of
 * a file: a restarted server must agree on the sale numbers.
 */
export const TEST_EPOCH_SECONDS = String(Math.floor(Date.now() / 1000) - 10);

export interface DropsServer {
  /** Main port (Fastify), e.g. http://127.0.0.1:40123 */
  main: string;
  /** Contest port (bare node:http). */
  contest: string;
  drops: DropsModule;
  stop(): Promise<void>;
}

/** The real API role in this process: migrations, platform, the drops module on both ports. */
export async function startDropsServer(
  databaseUrl: string,
  overrides: Record<string, string> = {},
): Promise<DropsServer> {
  const drops = createDropsModule();
  const config = testConfig({
    DATABASE_URL: databaseUrl,
    DROPS_CONTEST_PORT: '0',
    DROPS_EPOCH_SECONDS: TEST_EPOCH_SECONDS,
    ...overrides,
  });
  const running = await runRole('api', config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), [
    drops,
  ]);
  return { main: running.url!, contest: drops.contestUrl!, drops, stop: () => running.stop() };
}

/** Extra environment for the Redis authority: its own key prefix, so test files never share state. */
export function redisOverrides(redisUrl: string): Record<string, string> {
  return { REDIS_URL: redisUrl, DROPS_REDIS_PREFIX: `test:drops:${randomUUID()}:` };
}

export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A keep-alive HTTP client over real sockets, with at most `sockets` connections per server. */
export class HttpClient {
  readonly agent: Agent;

  constructor(sockets = 50) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  send(method: string, url: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${method} ${url} within 30 s`)));
      req.end();
    });
  }

  post(url: string): Promise<Answer> {
    return this.send('POST', url);
  }

  async json<T>(url: string): Promise<T> {
    const answer = await this.send('GET', url);
    if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${answer.body}`);
    return JSON.parse(answer.body) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `work` for each of `count` indexes with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, work: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/** Polls `check` until it returns true, failing after `timeoutMs` with the last value seen. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** After a suite: the Redis keys its sale left (when it used the Redis authority), then its database. */
export async function dropTestState(
  env: Record<string, string> | undefined,
  redisUrl: string | undefined,
  db: TestDatabase | undefined,
): Promise<void> {
  if (env?.DROPS_REDIS_PREFIX && redisUrl) {
    const { Redis: RedisClient } = await import('ioredis');
    const redis = new RedisClient(redisUrl);
    await deleteKeys(redis, env.DROPS_REDIS_PREFIX);
    await redis.quit();
  }
  await db?.drop();
}
