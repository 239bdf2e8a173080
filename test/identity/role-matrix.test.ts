import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modules } from '../../src/modules.ts';
import { type ProtectedRoute, protectedRoutes } from '../../src/platform/auth/access.ts';
import {
  type Permission,
  SERVICE_ROLE_PERMISSIONS,
  SERVICE_ROLES,
  STAFF_ROLE_PERMISSIONS,
  STAFF_ROLES,
} from '../../src/platform/auth/permissions.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type Browser, makeStaff, signIn } from './staff/harness.ts';
import { createAccount, tokenFor } from './tokens/harness.ts';

/**
 * Every protected route of the whole platform (as the HTTP app recorded them, so a new route is
 * covered without editing this file) × every role: without credentials 401 with the Bearer
 * challenge; with a role that lacks the route's permission 403; with one that has it, neither.
 * Ids in paths do not exist, so no allowed call changes anything the next one relies on.
 */
let db: TestDatabase;
let running: Running;
let routes: readonly ProtectedRoute[];
const tokens = new Map<string, string>();
const browsers = new Map<string, Browser>();

beforeAll(async () => {
  db = await createTestDatabase();
  running = await runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, DROPS_ENABLED: 'false' }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    modules,
  );
  routes = protectedRoutes(running.platform);
  for (const role of SERVICE_ROLES)
    tokens.set(role, await tokenFor(running.app!, await createAccount(db, role)));
  for (const role of STAFF_ROLES) browsers.set(role, await signIn(running, await makeStaff(db.sql, role)));
});

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

const NOT_FOUND_ID = '999999';
const urlOf = (route: ProtectedRoute) => route.url.replace(/:[A-Za-z_]+/g, NOT_FOUND_ID);
const payloadOf = (route: ProtectedRoute) => (['GET', 'DELETE'].includes(route.method) ? undefined : {});
const allowed = (permissions: readonly Permission[], route: ProtectedRoute) =>
  route.requires === 'any' || permissions.includes(route.requires);

describe('the role matrix of every protected route', () => {
  it('covers the identity and audit routes, each with the permission the spec gives it', () => {
    const requires = new Map(routes.map((route) => [`${route.method} ${route.url}`, route.requires]));
    const expected: Record<string, Permission | 'any'> = {
      'POST /api/service-accounts': 'service-accounts:manage',
      'GET /api/service-accounts': 'service-accounts:manage',
      'GET /api/service-accounts/:id': 'service-accounts:manage',
      'PATCH /api/service-accounts/:id': 'service-accounts:manage',
      'POST /api/service-accounts/:id/rotate-secret': 'service-accounts:manage',
      'DELETE /api/service-accounts/:id': 'service-accounts:manage',
      'POST /api/auth/keys/rotate': 'keys:rotate',
      'GET /api/audit': 'audit:read',
      'GET /api/audit/verify': 'audit:read',
      'GET /api/admin/staff': 'staff:manage',
      'POST /api/admin/staff': 'staff:manage',
      'PATCH /api/admin/staff/:id': 'staff:manage',
      'DELETE /api/admin/staff/:id': 'staff:manage',
      'GET /api/admin/me': 'any',
    };
    for (const [route, permission] of Object.entries(expected))
      expect(requires.get(route), route).toBe(permission);
    // Only ADMIN among service accounts manages them; AUDITOR alone besides ADMIN reads the audit log.
    const holders = (permission: Permission) =>
      SERVICE_ROLES.filter((role) => SERVICE_ROLE_PERMISSIONS[role].includes(permission));
    expect(holders('service-accounts:manage')).toEqual(['ADMIN']);
    expect(holders('audit:read')).toEqual(['ADMIN', 'AUDITOR']);
    expect(STAFF_ROLES.filter((role) => STAFF_ROLE_PERMISSIONS[role].includes('audit:read'))).toEqual([
      'admin',
      'analyst',
    ]);
  });

  it('answers 401 with a Bearer challenge without credentials, and with a forged token', async () => {
    for (const route of routes) {
      for (const authorization of [undefined, 'Bearer not-a-token']) {
        const response = await running.app!.inject({
          method: route.method as 'GET',
          url: urlOf(route),
          payload: payloadOf(route),
          headers: authorization ? { authorization } : {},
        });
        expect(response.statusCode, `${route.method} ${route.url} with ${authorization}`).toBe(401);
        expect(response.headers['www-authenticate'], `${route.method} ${route.url}`).toMatch(/^Bearer/);
      }
    }
  });

  it.each(SERVICE_ROLES)(
    'service account %s: 403 exactly where its role lacks the permission',
    async (role) => {
      const permissions = SERVICE_ROLE_PERMISSIONS[role];
      for (const route of routes) {
        if (route.url.startsWith('/api/admin/')) continue; // the admin panel's own routes are for staff sessions
        const response = await running.app!.inject({
          method: route.method as 'GET',
          url: urlOf(route),
          payload: payloadOf(route),
          headers: { authorization: `Bearer ${tokens.get(role)}` },
        });
        const label = `${role} ${route.method} ${route.url} → ${response.statusCode} ${response.body.slice(0, 120)}`;
        if (allowed(permissions, route)) expect([401, 403], label).not.toContain(response.statusCode);
        else expect(response.statusCode, label).toBe(403);
      }
    },
  );

  it.each(STAFF_ROLES)('staff %s: 403 exactly where its role lacks the permission', async (role) => {
    const permissions = STAFF_ROLE_PERMISSIONS[role];
    const browser = browsers.get(role)!;
    for (const route of routes) {
      if (route.url === '/api/admin/session' && route.method === 'DELETE') continue; // would sign it out
      const response = await browser.send(running, {
        method: route.method as 'GET',
        url: urlOf(route),
        payload: payloadOf(route),
      });
      const label = `${role} ${route.method} ${route.url} → ${response.statusCode} ${response.body.slice(0, 120)}`;
      if (allowed(permissions, route)) expect([401, 403], label).not.toContain(response.statusCode);
      else expect(response.statusCode, label).toBe(403);
    }
  });
});
