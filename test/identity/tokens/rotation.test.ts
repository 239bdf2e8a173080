import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATE_KEYS_TASK, tokensPart } from '../../../src/identity/tokens/index.ts';
import { keyringOf } from '../../../src/identity/tokens/keyring.ts';
import { testConfig } from '../../helpers/config.ts';
import { spawnNode } from '../../helpers/process.ts';
import {
  createAccount,
  createTestDatabase,
  startTokenServer,
  type TestAccount,
  TestClock,
  type TestDatabase,
  type TokenServer,
  tokenFor,
} from './harness.ts';

// Small periods so the arithmetic is readable: tokens live 600 s, JWKS cached 300 s, grace 120 s.
const SETTINGS = {
  IDENTITY_TOKEN_TTL_SECONDS: '600',
  IDENTITY_JWKS_MAX_AGE_SECONDS: '300',
  IDENTITY_KEY_GRACE_SECONDS: '120',
  IDENTITY_KEY_ROTATION_HOURS: '24',
  IDENTITY_CLOCK_TOLERANCE_SECONDS: '0',
};

let db: TestDatabase;
let server: TokenServer;
let admin: TestAccount;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTokenServer(db, SETTINGS);
  admin = await createAccount(db, 'ADMIN', { rateLimit: { perMinute: 100000, burst: 100000 } });
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function jwksKids(app = server.app): Promise<string[]> {
  const response = await app.inject({ url: '/.well-known/jwks.json' });
  expect(response.statusCode).toBe(200);
  return (response.json() as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
}

async function keyStates(): Promise<Record<string, string>> {
  const rows = await db.sql<{ kid: string; state: string }[]>`select kid, state from identity_signing_keys`;
  return Object.fromEntries(rows.map((r) => [r.kid, r.state]));
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid!;

async function rotate(token: string, body: object = {}) {
  return server.app.inject({
    method: 'POST',
    url: '/api/auth/keys/rotate',
    headers: { authorization: `Bearer ${token}` },
    payload: body,
  });
}

const verifies = async (token: string) =>
  (await server.app.inject({ url: '/api/auth/whoami', headers: { authorization: `Bearer ${token}` } }))
    .statusCode;

describe('keys at first use', () => {
  it('a current and a next key, both in the JWKS with cache headers; the private half is not plaintext', async () => {
    const states = await keyStates();
    expect(Object.values(states).sort()).toEqual(['current', 'next']);
    expect(await jwksKids()).toEqual(Object.keys(states).sort());
    const response = await server.app.inject({ url: '/.well-known/jwks.json' });
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    const etag = response.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await server.app.inject({
      url: '/.well-known/jwks.json',
      headers: { 'if-none-match': etag },
    });
    expect(again.statusCode).toBe(304);
    expect((response.json() as { keys: object[] }).keys[0]).toEqual({
      kty: 'RSA',
      kid: expect.any(String),
      use: 'sig',
      alg: 'RS256',
      n: expect.any(String),
      e: 'AQAB',
    });

    const rows = await db.sql<
      { blob: Buffer }[]
    >`select private_key_encrypted as blob from identity_signing_keys`;
    for (const { blob } of rows) {
      const text = blob.toString('latin1');
      expect(text).not.toContain('PRIVATE KEY');
      // An unencrypted PKCS#8 RSA key's DER starts 30 82 .. .. 02 01 00 30 0d 06 09 2a 86 48 86 f7 0d 01 01 01.
      expect(blob.includes(Buffer.from('2a864886f70d010101', 'hex'))).toBe(false);
      expect(blob.length).toBeGreaterThan(1100);
    }
  });
});

describe('a rotation across the grace period, on a controlled clock', () => {
  it('next is published before it signs; the retired key verifies its tokens until they expire, then leaves the JWKS', async () => {
    const before = await keyStates();
    const oldCurrent = Object.keys(before).find((kid) => before[kid] === 'current')!;
    const oldNext = Object.keys(before).find((kid) => before[kid] === 'next')!;
    const oldToken = await tokenFor(server.app, admin);
    expect(kidOf(oldToken)).toBe(oldCurrent);

    // The next key has been published for less than the JWKS max age: refused without immediate.
    const early = await rotate(oldToken);
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('KEY_ROTATION_TOO_EARLY');
    expect(Number(early.headers['retry-after'])).toBeGreaterThan(0);

    server.clock.advance(301);
    const rotated = await rotate(oldToken, { reason: 'test' });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const result = rotated.json();
    expect(result.current).toBe(oldNext);
    expect(result.retired.kid).toBe(oldCurrent);
    expect(Date.parse(result.retired.published_until)).toBe(server.clock.ms + (600 + 120) * 1000);
    expect(result.immediate).toBe(false);

    // New tokens are signed by the promoted key; the new next key is published, not signing.
    const newToken = await tokenFor(server.app, admin);
    expect(kidOf(newToken)).toBe(oldNext);
    expect(await jwksKids()).toEqual([oldCurrent, oldNext, result.next].sort());
    expect(await verifies(oldToken)).toBe(200);

    // The old token (issued 301 s before the rotation, 600 s lifetime) expires 299 s after it.
    server.clock.advance(298);
    expect(await verifies(oldToken)).toBe(200);
    server.clock.advance(2);
    expect(await verifies(oldToken)).toBe(401);
    // Still published until retired_at + TTL + grace…
    server.clock.advance(600 + 120 - 300 - 1);
    expect(await jwksKids()).toContain(oldCurrent);
    // …and gone after.
    server.clock.advance(2);
    expect(await jwksKids()).not.toContain(oldCurrent);
    expect(await verifies(newToken)).toBe(401); // its own 600 s are over too
    expect(await verifies(await tokenFor(server.app, admin))).toBe(200);

    // The audit log has the rotation, by this account.
    const [entry] = await db.sql<{ actor_id: string; metadata: { trigger: string; retired: string } }[]>`
      select actor_id, metadata from audit_log where action = 'keys.rotate' order by id desc limit 1`;
    expect(entry).toMatchObject({ actor_id: admin.id, metadata: { trigger: 'manual', retired: oldCurrent } });
  });

  it('immediate: true promotes a next key published a moment ago (incidents)', async () => {
    const token = await tokenFor(server.app, admin);
    server.clock.advance(301);
    expect((await rotate(token)).statusCode).toBe(200);
    const response = await rotate(token, { immediate: true });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().immediate).toBe(true);
    expect(kidOf(await tokenFor(server.app, admin))).toBe(response.json().current);
    expect(await verifies(token)).toBe(200);
  });

  it('the scheduled job rotates only when due, and drops retired keys past their grace', async () => {
    const task = tokensPart.tasks(server.platform)[ROTATE_KEYS_TASK]!;
    const run = () => task();
    const current = () =>
      db.sql`select kid from identity_signing_keys where state = 'current'`.then((r) => r[0]!.kid as string);
    const first = await current();
    await run();
    expect(await current()).toBe(first);
    server.clock.advance(24 * 3600);
    await run();
    const second = await current();
    expect(second).not.toBe(first);
    expect(Object.values(await keyStates()).filter((s) => s === 'retired').length).toBeGreaterThan(0);
    server.clock.advance(601 + 120);
    await run();
    // Only the key retired by the last rotation would remain, and its grace is over too.
    expect(Object.values(await keyStates()).sort()).toEqual(['current', 'next']);
    await keyringOf(server.platform).reload();
    expect((await jwksKids()).length).toBe(2);
    expect(tokensPart.cron).toMatchObject({
      task: ROTATE_KEYS_TASK,
      identifier: 'identity-rotate-signing-keys',
    });
  });
});

describe('keys shared through PostgreSQL', () => {
  it('survive a restart (same JWKS) and two platforms on one database verify each other’s tokens', async () => {
    const kids = await jwksKids();
    const clock = new TestClock(server.clock.ms);
    const second = await startTokenServer(db, SETTINGS, clock);
    try {
      expect(await jwksKids(second.app)).toEqual(kids);
      const fromFirst = await tokenFor(server.app, admin);
      const fromSecond = await tokenFor(second.app, admin);
      expect(kidOf(fromFirst)).toBe(kidOf(fromSecond));
      const on = (app: typeof server.app, token: string) =>
        app
          .inject({ url: '/api/auth/whoami', headers: { authorization: `Bearer ${token}` } })
          .then((r) => r.statusCode);
      expect(await on(second.app, fromFirst)).toBe(200);
      expect(await on(server.app, fromSecond)).toBe(200);

      // A rotation on the first reaches the second by NOTIFY: it signs with the new key.
      server.clock.advance(301);
      clock.ms = server.clock.ms;
      const rotated = await rotate(fromFirst);
      expect(rotated.statusCode).toBe(200);
      await expect.poll(async () => kidOf(await tokenFor(second.app, admin))).toBe(rotated.json().current);
      expect(await on(server.app, await tokenFor(second.app, admin))).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('a process with another MASTER_KEY refuses to start, saying so', async () => {
    await expect(
      startTokenServer(db, { ...SETTINGS, MASTER_KEY: Buffer.alloc(32, 7).toString('base64') }),
    ).rejects.toThrow(/encrypted under another MASTER_KEY/);
  });
});

describe('boxoffice keys', () => {
  const cli = async (...args: string[]) => {
    const run = spawnNode(['keys', ...args], {
      DATABASE_URL: db.url,
      MASTER_KEY: testConfig().MASTER_KEY!,
      LOG_LEVEL: 'warn',
      ...SETTINGS,
    });
    const { code } = await run.exited;
    return {
      code,
      lines: run
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line)),
    };
  };

  it('list shows every key without private halves; rotate --immediate reaches the running platform', async () => {
    const listed = await cli('list');
    expect(listed.code).toBe(0);
    const states = await keyStates();
    expect(listed.lines.map((k) => k.kid).sort()).toEqual(Object.keys(states).sort());
    for (const key of listed.lines) {
      expect(Object.keys(key).sort()).toEqual([
        'activated_at',
        'in_jwks',
        'kid',
        'published_at',
        'published_until',
        'retired_at',
        'state',
      ]);
    }
    const rotated = await cli('rotate', '--immediate', '--reason', 'cli test');
    expect(rotated.code).toBe(0);
    const [result] = rotated.lines;
    expect(result).toMatchObject({ current: expect.any(String), next: expect.any(String), immediate: true });
    await expect.poll(async () => kidOf(await tokenFor(server.app, admin))).toBe(result.current);
    const [entry] = await db.sql<{ actor_id: string; reason: string }[]>`
      select actor_id, reason from audit_log where action = 'keys.rotate' order by id desc limit 1`;
    expect(entry).toEqual({ actor_id: 'cli', reason: 'cli test' });
    // Without --immediate, right after: the new next key is too young.
    const refused = await cli('rotate');
    expect(refused.code).toBe(1);
  }, 60_000);
});
