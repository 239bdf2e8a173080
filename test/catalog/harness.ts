import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { catalogModule } from '../../src/catalog/index.ts';
import { createUser, identityModule } from '../../src/identity/index.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import type { SeedContext } from '../../src/platform/seeding.ts';
import { testConfig } from '../helpers/config.ts';
import type { TestDatabase } from '../helpers/db.ts';

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A SeedContext for the generator and the importer, without progress output. */
export function seedContext(db: TestDatabase): SeedContext {
  return { db: db.sql, logger: silent, progress: () => ({ tick() {}, done() {} }) };
}

/** The API role with identity and the catalog on `db` (several may share one database). */
export async function startCatalog(
  db: TestDatabase,
  overrides: Record<string, string> = {},
): Promise<Running> {
  return runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, SEED_DEMO_ON_START: 'false', ...overrides }),
    silent,
    [identityModule, catalogModule],
  );
}

export interface Client {
  get(url: string, options?: Omit<InjectOptions, 'url' | 'method'>): Promise<LightMyRequestResponse>;
  /** GET with the test user's credentials; the body parsed. */
  events(url: string): Promise<{ status: number; body: EventsBody & ErrorBody }>;
}

export interface EventJson {
  id: number;
  title: string;
  description: string | null;
  type: string;
  datetime_start: string;
  provider: string;
}

export interface EventsBody {
  success: boolean;
  count: number;
  events: EventJson[];
}

export interface ErrorBody {
  code: string;
  message: string;
}

export async function signedInClient(
  db: TestDatabase,
  running: Running,
  email = 'reader@catalog.test',
): Promise<Client> {
  const password = 'pw:catalog:reader';
  await createUser(db.sql, { email, password }).catch(() => {}); // several servers may share the user
  const authorization = `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
  const app = running.app!;
  return {
    get: (url, options = {}) => app.inject({ method: 'GET', url, ...options }),
    async events(url) {
      const response = await app.inject({ method: 'GET', url, headers: { authorization } });
      return { status: response.statusCode, body: response.json() };
    },
  };
}

/** `?a=1&b=x` from an object, encoding values (Cyrillic, quotes). */
export function qs(params: Record<string, string | number>): string {
  return `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}
