import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateClient, serviceAccountDirectory } from '../../../src/identity/service-accounts/index.ts';
import type { Running } from '../../../src/platform/runtime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { as, eventually, makeAccount, startApi, type TestAccount, tokenOf } from './harness.ts';

/** Two API processes' worth of platform on one database: what one changes, the other must see at once. */
describe('the service account directory across processes', () => {
  let db: TestDatabase;
  let a: Running;
  let b: Running;
  let admin: TestAccount;
  let adminToken: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One issuer for both, as behind a load balancer: a token from one is good on the other.
    a = await startApi(db, { IDENTITY_ISSUER: 'http://boxoffice.test' });
    b = await startApi(db, { IDENTITY_ISSUER: 'http://boxoffice.test' });
    admin = await makeAccount(a, 'ADMIN');
    adminToken = await tokenOf(a, admin);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('disabling on one process: the other refuses the client at once and drops its copy', async () => {
    const target = await makeAccount(a, 'READONLY');
    const tokenFromB = await tokenOf(b, target);
    expect((await as(b, tokenFromB, { method: 'GET', url: '/api/service-accounts' })).statusCode).toBe(403);
    const directoryB = serviceAccountDirectory(b.platform);
    const cached = await directoryB.get(target.id);
    expect(cached).toMatchObject({ status: 'active', version: 1, role: 'READONLY' });
    expect(await directoryB.get(target.id)).toBe(cached); // served from memory

    const patched = await as(a, adminToken, {
      method: 'PATCH',
      url: `/api/service-accounts/${target.id}`,
      payload: { status: 'disabled' },
    });
    expect(patched.statusCode).toBe(200);
    // The secret check reads the database: no wait at all.
    expect(await authenticateClient(b.platform, target.clientId, target.secret)).toBeUndefined();
    // The copy goes when the NOTIFY arrives (milliseconds; the safety TTL is 30 s, past this deadline).
    await eventually(async () => (await directoryB.get(target.id))?.status === 'disabled');
    const refused = await as(b, tokenFromB, { method: 'GET', url: '/api/service-accounts' });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().message).toMatch(/disabled/);
  });

  it('rotating on one process: the old secret fails on the other at once', async () => {
    const target = await makeAccount(a, 'USER');
    expect(await authenticateClient(b.platform, target.clientId, target.secret)).toBeDefined();
    const rotated = await as(a, adminToken, {
      method: 'POST',
      url: `/api/service-accounts/${target.id}/rotate-secret`,
    });
    expect(await authenticateClient(b.platform, target.clientId, target.secret)).toBeUndefined();
    expect(await authenticateClient(b.platform, target.clientId, rotated.json().client_secret)).toMatchObject(
      {
        id: target.id,
        version: 2,
      },
    );
  });

  it('a change nobody notified is seen after the listener reconnects (everything is dropped then)', async () => {
    const target = await makeAccount(a, 'USER');
    const directoryB = serviceAccountDirectory(b.platform);
    // Cached once the creation's own NOTIFY has come and gone (two gets give the same object).
    await eventually(async () => {
      const first = await directoryB.get(target.id);
      return first === (await directoryB.get(target.id));
    });
    expect((await directoryB.get(target.id))?.role).toBe('USER');
    // A change behind the directory's back: no NOTIFY. Until something evicts, the copy stays.
    await db.sql`update service_accounts set role = 'AUDITOR', version = version + 1 where id = ${target.id}`;
    expect((await directoryB.get(target.id))?.role).toBe('USER');
    // Cut the LISTEN connections (what a network blip or a server restart does).
    const cut = await db.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen%'`;
    expect(cut.length).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await directoryB.get(target.id))?.role === 'AUDITOR');
    // … and notifications flow again on the new connection.
    await as(a, adminToken, {
      method: 'PATCH',
      url: `/api/service-accounts/${target.id}`,
      payload: { role: 'USER' },
    });
    await eventually(async () => (await directoryB.get(target.id))?.role === 'USER');
  });

  it('unknown and malformed ids are undefined without a query error', async () => {
    const directory = serviceAccountDirectory(a.platform);
    for (const id of ['424242', 'x', '', '0', '99999999999999999999'])
      expect(await directory.get(id)).toBeUndefined();
    expect(await authenticateClient(a.platform, 'sa_nope', 'bxs_nope')).toBeUndefined();
    expect(await authenticateClient(a.platform, admin.clientId, `${admin.secret}x`)).toBeUndefined();
    expect(await authenticateClient(a.platform, admin.clientId, '')).toBeUndefined();
    expect(await authenticateClient(a.platform, admin.clientId, admin.secret.repeat(10))).toBeUndefined();
  });
});
