import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityModule } from '../../../src/identity/index.ts';
import { canonicalJson } from '../../../src/platform/audit/canonical-json.ts';
import { appendAudit } from '../../../src/platform/audit/index.ts';
import { AUDIT_CHECKPOINT_TASK } from '../../../src/platform/audit/wiring.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { makeStaff, signIn } from '../../identity/staff/harness.ts';
import {
  createAccount,
  startTokenServer,
  type TokenServer,
  tokenFor,
} from '../../identity/tokens/harness.ts';
import { resetAuditLog, tamper } from './helpers.ts';

/**
 * GET /api/audit, /api/audit/verify and /api/audit/checkpoints end to end: real Bearer tokens of real service
 * accounts and real staff sessions, through the identity module as `boxoffice api` runs it.
 */
let db: TestDatabase;
let server: TokenServer;
const credentials: Record<string, Record<string, string>> = {};

const ROUTES = ['/api/audit', '/api/audit/verify', '/api/audit/checkpoints'];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTokenServer(db, { AUDIT_CHECKPOINT_MINUTES: '15' });
  for (const role of ['ADMIN', 'USER', 'AUDITOR', 'READONLY'] as const) {
    credentials[role] = {
      authorization: `Bearer ${await tokenFor(server.app, await createAccount(db, role))}`,
    };
  }
  for (const role of ['admin', 'manager', 'analyst'] as const) {
    const browser = await signIn(server.running, await makeStaff(db.sql, role));
    credentials[`staff ${role}`] = { cookie: browser.cookie };
  }
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const get = (url: string, headers: Record<string, string> = credentials.AUDITOR!) =>
  server.app.inject({ method: 'GET', url, headers });

describe('role matrix', () => {
  it('401 with a Bearer challenge without credentials, or with a bad token', async () => {
    for (const url of ROUTES) {
      const anonymous = await get(url, {});
      expect(anonymous.statusCode, url).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect((await get(url, { authorization: 'Bearer not-a-token' })).statusCode, url).toBe(401);
    }
    // Authentication comes before validation: an anonymous caller learns nothing of the input rules.
    expect((await get('/api/audit?from=yesterday', {})).statusCode).toBe(401);
  });

  it.each([
    ['ADMIN', 200],
    ['AUDITOR', 200],
    ['USER', 403],
    ['READONLY', 403],
    ['staff admin', 200],
    ['staff analyst', 200],
    ['staff manager', 403],
  ])('%s gets %i', async (who, status) => {
    for (const url of ROUTES) {
      const response = await get(url, credentials[who]);
      expect(response.statusCode, `${who} ${url}: ${response.body}`).toBe(status);
      if (status === 403) expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
    }
  });
});

describe('GET /api/audit', () => {
  beforeAll(async () => {
    await resetAuditLog(db.sql);
    for (let n = 1; n <= 12; n++) {
      await appendAudit(db.sql, {
        actorType: n % 2 ? 'service_account' : 'staff',
        actorId: n % 2 ? 'sa-1' : 'staff-2',
        action: n % 3 ? 'thing.update' : 'thing.delete',
        resource: `thing:${n % 4}`,
        result: 'success',
        ...(n === 5 ? { reason: 'because' } : {}),
        metadata: { n },
      });
    }
  });

  it('pages newest first, with exactly the spec fields', async () => {
    const first = (await get('/api/audit?pageSize=5')).json();
    expect(first.items.map((e: { id: string }) => e.id)).toEqual(['12', '11', '10', '9', '8']);
    expect(first).toMatchObject({ page: 1, pageSize: 5, hasMore: true });
    expect(Object.keys(first.items[0]).sort()).toEqual(
      [
        'action',
        'actor_id',
        'actor_type',
        'at',
        'hash',
        'id',
        'metadata',
        'prev_hash',
        'resource',
        'result',
      ].sort(),
    );
    const last = (await get('/api/audit?pageSize=5&page=3')).json();
    expect(last.items.map((e: { id: string }) => e.id)).toEqual(['2', '1']);
    expect(last.hasMore).toBe(false);
    expect(last.items[1].prev_hash).toBe('0'.repeat(64));
    const withReason = (await get('/api/audit?pageSize=1&page=8')).json().items[0];
    expect(withReason).toMatchObject({ id: '5', reason: 'because', metadata: { n: 5 } });
  });

  it('filters by actor, action, resource and time', async () => {
    const ids = async (query: string) =>
      (await get(`/api/audit?${query}`)).json().items.map((e: { id: string }) => Number(e.id));
    expect(await ids('actor_id=staff-2')).toEqual([12, 10, 8, 6, 4, 2]);
    expect(await ids('action=thing.delete')).toEqual([12, 9, 6, 3]);
    expect(await ids('resource=thing:1&actor_id=sa-1')).toEqual([9, 5, 1]);
    expect(await ids('action=nothing')).toEqual([]);
    const [row] = await db.sql<{ at: Date }[]>`select at from audit_log where id = 6`;
    const at = row!.at.toISOString();
    expect(await ids(`to=${encodeURIComponent(at)}`)).toEqual(expect.arrayContaining([6, 5, 1]));
    expect((await ids(`from=${encodeURIComponent(at)}`)).every((id: number) => id >= 6)).toBe(true);
    expect(await ids(`from=${encodeURIComponent(at)}&to=${encodeURIComponent(at)}`)).toContain(6);
    expect(await ids('from=2000-01-01&to=2000-01-02')).toEqual([]);
  });

  it.each([
    ['from=yesterday', /querystring\/from must be an ISO 8601/],
    ['to=2026-13-45T00:00:00Z', /querystring\/to must be an ISO 8601/],
    ['from=2026-01-01T00:00:00', /querystring\/from/], // no zone: ambiguous
    ['from=2026-02-01&to=2026-01-01', /from must not be after/],
    ['page=0', /page/],
    ['page=abc', /page/],
    ['pageSize=501', /pageSize/],
    ['actor_id=', /actor_id/],
  ])('400 for %s', async (query, message) => {
    const response = await get(`/api/audit?${query}`);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(message),
    });
  });
});

describe('verify and checkpoints', () => {
  beforeAll(async () => {
    await resetAuditLog(db.sql);
    for (let n = 1; n <= 5; n++) {
      await appendAudit(db.sql, {
        actorType: 'system',
        actorId: null,
        action: 'x',
        resource: `r:${n}`,
        result: 'success',
      });
    }
  });

  it('the checkpoint job signs the head when the chain grew, at most every AUDIT_CHECKPOINT_MINUTES', async () => {
    const task = identityModule.tasks!(server.platform)[AUDIT_CHECKPOINT_TASK]!;
    const run = () => task({}, { attempt: 1, maxAttempts: 1, signal: new AbortController().signal });
    await run();
    await appendAudit(db.sql, {
      actorType: 'system',
      actorId: null,
      action: 'x',
      resource: 'r:6',
      result: 'success',
    });
    await run(); // too soon: 15 minutes have not passed
    expect(await db.sql`select head_id from audit_checkpoints`).toEqual([{ head_id: '5' }]);
    expect(identityModule.cron).toContainEqual(expect.objectContaining({ task: AUDIT_CHECKPOINT_TASK }));
  });

  it('publishes checkpoints with a public key anyone can check them with', async () => {
    const body = (await get('/api/audit/checkpoints')).json();
    expect(body.public_key).toMatchObject({ alg: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519' } });
    expect(body.checkpoints).toHaveLength(1);
    const [checkpoint] = body.checkpoints;
    const key = createPublicKey({ key: body.public_key.jwk, format: 'jwk' });
    const message = Buffer.from(
      canonicalJson({ at: checkpoint.at, head_hash: checkpoint.head_hash, head_id: checkpoint.head_id }),
    );
    expect(verifySignature(null, message, key, Buffer.from(checkpoint.signature, 'base64url'))).toBe(true);
    expect(
      verifySignature(null, Buffer.from('{}'), key, Buffer.from(checkpoint.signature, 'base64url')),
    ).toBe(false);
    expect((await get('/api/audit/checkpoints?after_head_id=5')).json().checkpoints).toEqual([]);
    expect((await get('/api/audit/checkpoints?after_head_id=x')).statusCode).toBe(400);
  });

  it('GET /api/audit/verify answers {valid, entries, head}, then {valid:false, first_bad_id, reason}', async () => {
    const [head] = await db.sql`select hash from audit_log where id = 6`;
    expect((await get('/api/audit/verify')).json()).toEqual({
      valid: true,
      entries: 6,
      head: { id: '6', hash: head!.hash },
    });
    await tamper(db.sql, (tx) => tx`update audit_log set resource = 'r:hidden' where id = 4`);
    expect((await get('/api/audit/verify', credentials['staff analyst'])).json()).toEqual({
      valid: false,
      first_bad_id: '4',
      reason: 'entry 4 does not match its hash: it was changed',
    });
  });

  it('documents the routes in /openapi.json', async () => {
    const spec = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const url of ROUTES) expect(spec.paths[url]?.get, url).toBeDefined();
  });
});
