import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { identityModule } from '../../src/identity/index.ts';
import { notifyModule } from '../../src/notify/index.ts';
import { forgetPartitions } from '../../src/notify/queue.ts';
import type { Platform } from '../../src/platform/context.ts';
import type { Sql } from '../../src/platform/db/client.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { type NotifyPeers, startNotifyPeers } from '../../src/sims/notify/index.ts';
import { testConfig } from '../helpers/config.ts';
import {
  createAccount,
  createTestDatabase,
  type TestDatabase,
  tokenFor,
} from '../identity/tokens/harness.ts';

/** Fast retries, so a test sees a retried delivery land in well under a second. */
export const FAST_RETRIES = {
  NOTIFY_RETRY_BASE_MS: '20',
  NOTIFY_RETRY_MAX_MS: '200',
  NOTIFY_MAX_ATTEMPTS: '3',
};

export interface NotifyServer {
  running: Running;
  platform: Platform;
  app: FastifyInstance;
  stop(): Promise<void>;
}

/** The `api` role with identity and notify: routes only, nothing is sent (no delivery workers). */
export async function startNotifyApi(
  db: TestDatabase,
  overrides: Record<string, string> = {},
): Promise<Running> {
  forgetPartitions();
  return runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, ...overrides }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule, notifyModule],
  );
}

/** The `start` role (API, delivery workers, consumers, jobs) with identity and notify, over the peers. */
export async function startNotifyServer(
  db: TestDatabase,
  peers: NotifyPeers,
  overrides: Record<string, string> = {},
): Promise<NotifyServer> {
  forgetPartitions();
  const running = await runRole(
    'start',
    testConfig({
      DATABASE_URL: db.url,
      SMTP_URL: peers.smtpUrl,
      SMS_PROVIDER_URL: `${peers.smsUrl}/messages`,
      DROPS_ENABLED: 'false',
      ...FAST_RETRIES,
      ...overrides,
    }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule, notifyModule],
  );
  return { running, platform: running.platform, app: running.app!, stop: () => running.stop() };
}

export async function bearer(
  db: TestDatabase,
  app: FastifyInstance,
  role: 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY',
): Promise<string> {
  const account = await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  return `Bearer ${await tokenFor(app, account)}`;
}

let nextUser = 1000;

/** A platform user, with a contact when any contact field is given. */
export async function makeUser(
  sql: Sql,
  contact: { email?: string; phone?: string; time_zone?: string; locale?: string; country?: string } = {},
): Promise<number> {
  const id = nextUser++;
  const email = contact.email ?? `user${id}@example.test`;
  await sql`insert into users (id, email, password_hash, first_name) values (${id}, ${email}, 'x', ${`User${id}`})`;
  if (Object.keys(contact).length > 0)
    await sql`
      insert into notify_contacts (user_id, email, phone, time_zone, locale, country)
      values (${id}, ${email}, ${contact.phone ?? null}, ${contact.time_zone ?? 'UTC'}, ${contact.locale ?? 'en'},
              ${contact.country ?? null})`;
  return id;
}

/** A template stored directly (the templates API has its own tests). */
export async function makeTemplate(sql: Sql, id: string, definition: unknown): Promise<void> {
  await sql`insert into notify_templates (id, name, current_version) values (${id}, ${id}, 1)`;
  await sql`insert into notify_template_versions (template_id, version, definition)
            values (${id}, 1, ${sql.json(definition as never)})`;
}

/** Polls until `check` returns a value (not undefined); fails after `timeoutMs` with the last value seen. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { createTestDatabase, type NotifyPeers, startNotifyPeers, type TestDatabase };
