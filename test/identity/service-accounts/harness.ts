import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { identityModule } from '../../../src/identity/index.ts';
import { createServiceAccount } from '../../../src/identity/service-accounts/service.ts';
import type { ServiceRole } from '../../../src/platform/auth/permissions.ts';
import { type Running, runRole } from '../../../src/platform/runtime.ts';
import { testConfig } from '../../helpers/config.ts';
import type { TestDatabase } from '../../helpers/db.ts';

/** An API process (identity only) on `db`. */
export async function startApi(db: TestDatabase, overrides: Record<string, string> = {}): Promise<Running> {
  return runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, SEED_DEMO_ON_START: 'false', ...overrides }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule],
  );
}

export interface TestAccount {
  id: string;
  clientId: string;
  secret: string;
  role: ServiceRole;
}

let counter = 0;

/** An account made the way the CLI makes one (actor system), bypassing the API. */
export async function makeAccount(
  running: Running,
  role: ServiceRole,
  options: { name?: string; rateLimit?: { perMinute: number; burst: number } } = {},
): Promise<TestAccount> {
  const { account, clientSecret } = await createServiceAccount(
    running.platform,
    {
      name: options.name ?? `${role.toLowerCase()}-${++counter}`,
      role,
      rateLimit: options.rateLimit ?? null,
    },
    { actorType: 'system', actorId: 'test' },
  );
  return { id: account.id, clientId: account.clientId, secret: clientSecret, role };
}

/** POST /api/auth/token (seed 002's JSON form). */
export async function requestToken(
  running: Running,
  clientId: string,
  secret: string,
): Promise<LightMyRequestResponse> {
  return running.app!.inject({
    method: 'POST',
    url: '/api/auth/token',
    payload: { client_id: clientId, client_secret: secret },
  });
}

export async function tokenOf(
  running: Running,
  account: { clientId: string; secret: string },
): Promise<string> {
  const response = await requestToken(running, account.clientId, account.secret);
  if (response.statusCode !== 200) throw new Error(`token: ${response.statusCode} ${response.body}`);
  return `Bearer ${response.json().access_token}`;
}

export function as(running: Running, authorization: string | undefined, options: InjectOptions) {
  return running.app!.inject({
    ...options,
    headers: { ...(authorization ? { authorization } : {}), ...(options.headers ?? {}) },
  });
}

/** Waits until `check` holds (a NOTIFY is delivered asynchronously); fails after `deadlineMs`. */
export async function eventually(check: () => Promise<boolean>, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
