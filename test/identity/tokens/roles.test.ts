import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffMember } from '../../../src/identity/staff/index.ts';
import type { StaffRole } from '../../../src/platform/auth/permissions.ts';
import {
  createAccount,
  createTestDatabase,
  startTokenServer,
  type TestDatabase,
  type TokenServer,
  tokenFor,
} from './harness.ts';

let db: TestDatabase;
let server: TokenServer;
const credentials: Record<string, Record<string, string>> = {};

const SERVICE = ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const;
const STAFF = ['admin', 'manager', 'analyst'] as const;

beforeAll(async () => {
  db = await createTestDatabase();
  // Every rotation below may promote at once: the publish delay is its own test (rotation.test.ts).
  server = await startTokenServer(db, { IDENTITY_JWKS_MAX_AGE_SECONDS: '0' });
  for (const role of SERVICE) {
    const account = await createAccount(db, role);
    credentials[role] = { authorization: `Bearer ${await tokenFor(server.app, account)}` };
  }
  for (const role of STAFF) {
    const email = `tokens-${role}@staff.test`;
    const password = `pw-${role}-0123456789`;
    await createStaffMember(
      db.sql,
      { actorType: 'system', actorId: null },
      { email, role: role as StaffRole, password },
    );
    const signIn = await server.app.inject({
      method: 'POST',
      url: '/api/admin/session',
      payload: { email, password },
    });
    expect(signIn.statusCode, signIn.body).toBe(200);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    credentials[role] = { cookie, 'x-csrf-token': signIn.json().csrf_token };
  }
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe('POST /api/auth/keys/rotate (keys:rotate)', () => {
  const allowed = new Set(['ADMIN', 'admin']);
  it('without credentials → 401 with the Bearer challenge', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/api/auth/keys/rotate', payload: {} });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });
  for (const role of [...SERVICE, ...STAFF]) {
    it(`${role} → ${allowed.has(role) ? 200 : 403}`, async () => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/auth/keys/rotate',
        headers: credentials[role],
        payload: {},
      });
      expect(response.statusCode, response.body).toBe(allowed.has(role) ? 200 : 403);
      if (!allowed.has(role)) expect(response.json().code).toBe('FORBIDDEN');
    });
  }
  it('refuses a body that is not {immediate?: boolean, reason?: string} (400)', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/auth/keys/rotate',
      headers: credentials.ADMIN,
      payload: { immediate: 'yes' },
    });
    expect(response.statusCode).toBe(400);
  });
});

describe('GET /api/auth/whoami (any principal)', () => {
  it('without credentials → 401', async () => {
    expect((await server.app.inject({ url: '/api/auth/whoami' })).statusCode).toBe(401);
  });
  for (const role of [...SERVICE, ...STAFF]) {
    it(`${role} → 200 with its role`, async () => {
      const response = await server.app.inject({ url: '/api/auth/whoami', headers: credentials[role] });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        kind: role === role.toUpperCase() ? 'service_account' : 'staff',
        role,
      });
    });
  }
});
