import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { identityModule } from '../../../src/identity/index.ts';
import { createStaffMember, setStaffClock } from '../../../src/identity/staff/index.ts';
import type { StaffRole } from '../../../src/platform/auth/permissions.ts';
import type { Sql } from '../../../src/platform/db/client.ts';
import { type Running, runRole } from '../../../src/platform/runtime.ts';
import { testConfig } from '../../helpers/config.ts';
import type { TestDatabase } from '../../helpers/db.ts';

/** A clock the test moves by hand: sessions expire without anyone sleeping. */
export class TestClock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

export const MINUTE = 60_000;

/** An API process (identity only) on `db`, its staff sessions on `clock`. */
export async function startApi(
  db: TestDatabase,
  clock: TestClock,
  overrides: Record<string, string> = {},
): Promise<Running> {
  const running = await runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, SEED_DEMO_ON_START: 'false', ...overrides }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule],
  );
  setStaffClock(running.platform, clock);
  return running;
}

const SYSTEM = { actorType: 'system', actorId: 'test' } as const;

export interface TestStaff {
  id: number;
  email: string;
  role: StaffRole;
  password: string;
}

let counter = 0;

export async function makeStaff(sql: Sql, role: StaffRole, email?: string): Promise<TestStaff> {
  const address = email ?? `${role}-${++counter}-${process.pid}@staff.test`;
  const password = `correct horse ${role} ${counter}`;
  const { staff } = await createStaffMember(sql, SYSTEM, { email: address, role, password });
  return { id: Number(staff.id), email: staff.email, role, password };
}

/** A signed-in browser: its cookie and CSRF token, and requests that send them like the admin panel does. */
export interface Browser {
  cookie: string;
  csrf: string;
  response: LightMyRequestResponse;
  send(running: Running, options: InjectOptions, extra?: { csrf?: boolean }): Promise<LightMyRequestResponse>;
}

export function setCookieOf(response: LightMyRequestResponse): string | undefined {
  const header = response.headers['set-cookie'];
  return Array.isArray(header) ? header[0] : header;
}

export async function signIn(
  running: Running,
  staff: { email: string; password: string },
  ip = '127.0.0.1',
): Promise<Browser> {
  const response = await running.app!.inject({
    method: 'POST',
    url: '/api/admin/session',
    payload: { email: staff.email, password: staff.password },
    remoteAddress: ip,
  });
  if (response.statusCode !== 200) throw new Error(`sign-in: ${response.statusCode} ${response.body}`);
  const cookie = setCookieOf(response)!.split(';')[0]!;
  const csrf = response.json().csrf_token as string;
  return {
    cookie,
    csrf,
    response,
    send: (target, options, extra = {}) =>
      target.app!.inject({
        ...options,
        headers: {
          cookie,
          ...(extra.csrf === false ? {} : { 'x-csrf-token': csrf }),
          ...(options.headers ?? {}),
        },
      }),
  };
}
