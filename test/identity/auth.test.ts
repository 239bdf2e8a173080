import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, createUser, identityModule, seededUserCredentials } from '../../src/identity/index.ts';
import { failedSignIns } from '../../src/platform/audit/index.ts';
import type { BoxofficeModule } from '../../src/platform/context.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** Modules with one protected route each, standing in for the box office routes. */
const whoami: BoxofficeModule = {
  name: 'whoami',
  async routes(app, platform) {
    app.get('/whoami', { preHandler: basicAuth(platform) }, async (request) => request.user);
  },
};
const whoamiToo: BoxofficeModule = {
  name: 'whoami-too',
  async routes(app, platform) {
    app.get('/whoami-too', { preHandler: basicAuth(platform) }, async (request) => request.user);
  },
};

const basic = (email: string, password: string) =>
  `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;

async function start(db: TestDatabase, overrides: Record<string, string> = {}): Promise<Running> {
  return runRole(
    'api',
    testConfig({
      DATABASE_URL: db.url,
      SEED_DEMO_ON_START: 'false',
      AUTH_MAX_FAILURES_PER_ACCOUNT: '3',
      ...overrides,
    }),
    pino({ level: 'silent' }),
    [identityModule, whoami, whoamiToo],
  );
}

describe('HTTP Basic sign-in', () => {
  let db: TestDatabase;
  let running: Running;
  let aliceId: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    // Release users 1–3 (legacy hashes) first: later users continue after them.
    await identityModule.seed!(
      { db: db.sql, logger: pino({ level: 'silent' }), progress: () => ({ tick() {}, done() {} }) },
      { name: 'custom', seed: 1, users: 3, currentEvents: 0, archiveEvents: 0 },
    );
    aliceId = await createUser(db.sql, { email: 'Alice@Example.com', password: 'pa:ss:word' });
    await createUser(db.sql, { email: 'sleeper@example.com', password: 'secret12', active: false });
    running = await start(db);
  });
  afterAll(async () => {
    await running.stop();
    await db.drop();
  });
  const whoamiAs = (authorization?: string, ip = '10.0.0.1') =>
    running.app!.inject({
      method: 'GET',
      url: '/whoami',
      remoteAddress: ip,
      headers: authorization ? { authorization } : {},
    });

  it('signs in with email:password, the password itself containing colons, email in any case', async () => {
    const response = await whoamiAs(basic('alice@EXAMPLE.com', 'pa:ss:word'));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: aliceId, email: 'alice@example.com' });
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Bearer abc'],
    ['no colon', `Basic ${Buffer.from('alice@example.com').toString('base64')}`],
    ['empty email', basic('', 'x')],
  ])('answers %s with 401 and a Basic challenge', async (_case, header) => {
    const response = await whoamiAs(header);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Basic realm="boxoffice", charset="UTF-8"');
    expect(response.json().code).toBe('UNAUTHENTICATED');
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    const wrong = await whoamiAs(basic('alice@example.com', 'pa:ss:wordX'), '10.0.0.2');
    const unknown = await whoamiAs(basic('nobody@example.com', 'whatever'), '10.0.0.2');
    for (const response of [wrong, unknown]) {
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('INVALID_CREDENTIALS');
      expect(response.headers['www-authenticate']).toBeDefined();
    }
  });

  it('refuses an inactive account even with the right password', async () => {
    const response = await whoamiAs(basic('sleeper@example.com', 'secret12'));
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('ACCOUNT_INACTIVE');
  });

  it('throttles an account after repeated failures, even for the right password, but not others', async () => {
    const victim = 'throttled@example.com';
    await createUser(db.sql, { email: victim, password: 'right-one' });
    for (let i = 0; i < 3; i++) {
      expect((await whoamiAs(basic(victim, `wrong-${i}`), `10.1.0.${i}`)).statusCode).toBe(401);
    }
    const blocked = await whoamiAs(basic(victim, 'right-one'), '10.1.0.9');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBe('900');
    expect(blocked.json().code).toBe('TOO_MANY_FAILED_SIGN_INS');
    expect((await whoamiAs(basic('alice@example.com', 'pa:ss:word'), '10.1.0.9')).statusCode).toBe(200);
  });

  it('remembers a verified sign-in for the cache TTL (deactivation applies once it lapses)', async () => {
    const id = await createUser(db.sql, { email: 'cached@example.com', password: 'cache-me' });
    expect((await whoamiAs(basic('cached@example.com', 'cache-me'))).statusCode).toBe(200);
    await db.sql`update users set is_active = false where id = ${id}`;
    // Served from the verified-credential cache: no hash, no query.
    expect((await whoamiAs(basic('cached@example.com', 'cache-me'))).statusCode).toBe(200);
    const uncached = await start(db, { AUTH_CACHE_TTL_SECONDS: '0' });
    try {
      const response = await uncached.app!.inject({
        method: 'GET',
        url: '/whoami',
        headers: { authorization: basic('cached@example.com', 'cache-me') },
      });
      expect(response.json().code).toBe('ACCOUNT_INACTIVE');
    } finally {
      await uncached.stop();
    }
  });

  it('shares one verified-credential cache among all modules’ routes (one slow hash per buyer)', async () => {
    const id = await createUser(db.sql, { email: 'shared@example.com', password: 'once-only' });
    expect((await whoamiAs(basic('shared@example.com', 'once-only'))).statusCode).toBe(200);
    // Had the other module's routes a cache of their own, they would now verify the hash and refuse.
    await db.sql`update users set is_active = false where id = ${id}`;
    const other = await running.app!.inject({
      method: 'GET',
      url: '/whoami-too',
      headers: { authorization: basic('shared@example.com', 'once-only') },
    });
    expect(other.statusCode).toBe(200);
    expect(other.json()).toEqual({ id, email: 'shared@example.com' });
  });

  it("upgrades a release user's unsalted SHA-256 to scrypt at the first sign-in", async () => {
    const known = seededUserCredentials(1, 1);
    expect(known).toEqual({ email: 'aysultan_talgat_1@fest.tix', password: '/8eC$AD>', active: true });
    const [before] = await db.sql`select password_hash from users where email = ${known.email}`;
    expect(before!.password_hash).toMatch(/^sha256\$[0-9a-f]{64}$/);

    expect((await whoamiAs(basic(known.email, known.password))).statusCode).toBe(200);
    let after = '';
    for (let i = 0; i < 100 && !after.startsWith('scrypt$'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [row] = await db.sql<
        { password_hash: string }[]
      >`select password_hash from users where email = ${known.email}`;
      after = row!.password_hash;
    }
    expect(after).toMatch(/^scrypt\$16384\$8\$1\$/);

    const fresh = await start(db, { AUTH_CACHE_TTL_SECONDS: '0' });
    try {
      const ok = await fresh.app!.inject({
        method: 'GET',
        url: '/whoami',
        headers: { authorization: basic(known.email, known.password) },
      });
      expect(ok.statusCode).toBe(200);
      const bad = await fresh.app!.inject({
        method: 'GET',
        url: '/whoami',
        headers: { authorization: basic(known.email, 'nope') },
      });
      expect(bad.statusCode).toBe(401);
    } finally {
      await fresh.stop();
    }
  });

  it('reports failed sign-ins to the audit log, one entry per account and minute', async () => {
    for (const password of ['guess-1', 'guess-2']) {
      expect((await whoamiAs(basic('audited@example.com', password), '10.0.0.9')).statusCode).toBe(401);
    }
    await failedSignIns(running.platform).flush(running.platform);
    const entries = await db.sql<{ action: string; resource: string; metadata: { count: number } }[]>`
      select action, resource, metadata from audit_log where action = 'basic.sign_in_failed'`;
    const entry = entries.find((row) => row.resource.includes('audited@example.com'));
    expect(entry, JSON.stringify(entries)).toBeDefined();
    expect(entry!.metadata.count).toBe(2);
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl)
  console.warn('skipping the verified-credential cache shared by two API processes: REDIS_URL is not set');

describe.skipIf(!redisUrl)('HTTP Basic sign-in across API processes (REDIS_URL)', () => {
  let db: TestDatabase;
  let a: Running;
  let b: Running;
  let alone: Running;
  beforeAll(async () => {
    db = await createTestDatabase();
    a = await start(db, { REDIS_URL: redisUrl! });
    b = await start(db, { REDIS_URL: redisUrl! });
    alone = await start(db);
  });
  afterAll(async () => {
    for (const running of [a, b, alone]) await running?.stop();
    await db?.drop();
  });
  const whoami = (running: Running, authorization: string) =>
    running.app!.inject({ method: 'GET', url: '/whoami', headers: { authorization } });

  it('a buyer verified by one process is trusted by the others until that first trust lapses: one slow hash, not one per process', async () => {
    const email = `shared-${Date.now()}@example.com`;
    const id = await createUser(db.sql, { email, password: 'hash-me-once' });
    expect((await whoami(a, basic(email, 'hash-me-once'))).statusCode).toBe(200);
    // From here a verification would fail: only the shared cache can let the buyer in.
    await db.sql`update users set is_active = false where id = ${id}`;
    const other = await whoami(b, basic(email, 'hash-me-once'));
    expect(other.statusCode).toBe(200);
    expect(other.json()).toEqual({ id, email });
    // A process without Redis has only its own cache, and verifies.
    expect((await whoami(alone, basic(email, 'hash-me-once'))).json().code).toBe('ACCOUNT_INACTIVE');
    // A wrong password is never served from the shared cache.
    expect((await whoami(b, basic(email, 'hash-me-twice'))).statusCode).toBe(401);
  });

  it('keeps no password and no plain email in Redis, and the entry expires with the cache TTL', async () => {
    const email = `keys-${Date.now()}@example.com`;
    await createUser(db.sql, { email, password: 'not-in-redis' });
    expect((await whoami(a, basic(email, 'not-in-redis'))).statusCode).toBe(200);
    const redis = a.platform.redis!;
    const keys = await redis.keys('boxoffice:auth:verified:*');
    expect(keys.length).toBeGreaterThan(0);
    const values = await Promise.all(keys.map((key) => redis.get(key)));
    expect(JSON.stringify([keys, values])).not.toMatch(/not-in-redis|keys-\d+@example\.com/);
    const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(0);
    for (const ttl of ttls) expect(ttl).toBeLessThanOrEqual(300_000);
  });
});
