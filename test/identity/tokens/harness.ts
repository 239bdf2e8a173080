import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { identityModule } from '../../../src/identity/index.ts';
import { createServiceAccount } from '../../../src/identity/service-accounts/service.ts';
import { setTokenClock } from '../../../src/identity/tokens/index.ts';
import type { Platform } from '../../../src/platform/context.ts';
import { type Running, runRole } from '../../../src/platform/runtime.ts';
import { testConfig } from '../../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';

/** A clock tests move by hand: tokens, keys, rotation and grace all read it. */
export class TestClock {
  constructor(public ms = Date.now()) {}
  now = () => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export const ISSUER = 'http://issuer.test';

export interface TokenServer {
  running: Running;
  platform: Platform;
  app: FastifyInstance;
  clock: TestClock;
  stop(): Promise<void>;
}

/** The API role with identity only, on `db`, its clock under the test's control. */
export async function startTokenServer(
  db: TestDatabase,
  overrides: Record<string, string> = {},
  clock = new TestClock(),
): Promise<TokenServer> {
  const running = await runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, IDENTITY_ISSUER: ISSUER, ...overrides }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule],
  );
  // The first keys were made at boot on the system clock: this clock never runs behind them.
  clock.ms = Math.max(clock.ms, Date.now());
  setTokenClock(running.platform, clock);
  return { running, platform: running.platform, app: running.app!, clock, stop: () => running.stop() };
}

export interface TestAccount {
  id: string;
  clientId: string;
  clientSecret: string;
  role: string;
}

let counter = 0;

export async function createAccount(
  db: TestDatabase,
  role: 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY',
  options: { rateLimit?: { perMinute: number; burst: number } } = {},
): Promise<TestAccount> {
  const { account, clientSecret } = await createServiceAccount(
    { db: db.sql, config: testConfig() },
    {
      name: `tokens-test-${role.toLowerCase()}-${++counter}-${process.pid}`,
      role,
      rateLimit: options.rateLimit ?? null,
    },
    { actorType: 'system', actorId: null },
  );
  return { id: account.id, clientId: account.clientId, clientSecret, role };
}

/** A token by the JSON form; throws unless 200. */
export async function tokenFor(app: FastifyInstance, account: TestAccount): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/token',
    payload: { client_id: account.clientId, client_secret: account.clientSecret },
  });
  if (response.statusCode !== 200) throw new Error(`token: ${response.statusCode} ${response.body}`);
  return response.json().access_token as string;
}

export function basic(id: string, secret: string, encode = true): string {
  const e = (s: string) => (encode ? encodeURIComponent(s) : s);
  return `Basic ${Buffer.from(`${e(id)}:${e(secret)}`).toString('base64')}`;
}

export { createTestDatabase, type TestDatabase };
