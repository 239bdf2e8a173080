import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../../../src/platform/audit/checkpoints.ts';
import { FailedSignInAggregator } from '../../../src/platform/audit/failed-sign-ins.ts';
import {
  appendAudit,
  auditFromPrincipal,
  GENESIS_HASH,
  recordFailedSignIn,
} from '../../../src/platform/audit/index.ts';
import { verifyAuditChain } from '../../../src/platform/audit/verify.ts';
import { auditStarter } from '../../../src/platform/audit/wiring.ts';
import type { Principal } from '../../../src/platform/auth/principal.ts';
import type { Platform } from '../../../src/platform/context.ts';
import { testConfig } from '../../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { spawnNode } from '../../helpers/process.ts';
import { MASTER, resetAuditLog } from './helpers.ts';
import { BARRIER_KEY } from './writer.ts';

const WRITER = new URL('./writer.ts', import.meta.url).pathname;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

beforeEach(async () => resetAuditLog(db.sql));

const entry = (n: number) =>
  ({
    actorType: 'system',
    actorId: null,
    action: 'test.entry',
    resource: `thing:${n}`,
    result: 'success',
  }) as const;

async function chainIds(): Promise<string[]> {
  return (await db.sql<{ id: string }[]>`select id from audit_log order by id`).map((row) => row.id);
}

describe('appendAudit', () => {
  it('chains entries from the genesis hash, with exactly the fields of the spec', async () => {
    const first = await appendAudit(db.sql, {
      ...entry(1),
      reason: 'because',
      metadata: { a: 1, nested: { b: [1, 'x'] } },
    });
    const second = await db.sql.begin((tx) => appendAudit(tx, entry(2)));
    expect(first.id).toBe('1');
    expect(second.id).toBe('2');
    const [one, two] = await db.sql`select * from audit_log order by id`;
    expect(one!.prev_hash).toBe(GENESIS_HASH);
    expect(one!.hash).toBe(first.hash);
    expect(two!.prev_hash).toBe(first.hash);
    expect(one!.metadata).toEqual({ a: 1, nested: { b: [1, 'x'] } });
    // `at` is stored at millisecond precision, so the text read back is the text that was hashed.
    const [precision] =
      await db.sql`select bool_and(at = date_trunc('milliseconds', at)) as ms from audit_log`;
    expect(precision!.ms).toBe(true);
    expect(await verifyAuditChain(db.sql, MASTER)).toEqual({
      valid: true,
      entries: 2,
      head: { id: '2', hash: second.hash },
    });
  });

  it('rolled back with its transaction leaves no entry and no gap', async () => {
    await appendAudit(db.sql, entry(1));
    await expect(
      db.sql.begin(async (tx) => {
        await appendAudit(tx, entry(2));
        throw new Error('the audited change failed');
      }),
    ).rejects.toThrow('the audited change failed');
    expect(await chainIds()).toEqual(['1']);
    await appendAudit(db.sql, entry(3));
    expect(await chainIds()).toEqual(['1', '2']);
    expect((await verifyAuditChain(db.sql, MASTER)).valid).toBe(true);
  });

  it('stores text PostgreSQL would refuse (NUL, lone surrogates) as U+FFFD, and still verifies', async () => {
    await appendAudit(db.sql, {
      ...entry(1),
      resource: 'client:a\u0000b',
      metadata: { 'k\ud800': 'v\udc00' },
    });
    const [row] = await db.sql`select resource, metadata from audit_log`;
    expect(row!.resource).toBe('client:a\ufffdb');
    expect(row!.metadata).toEqual({ 'k\ufffd': 'v\ufffd' });
    expect((await verifyAuditChain(db.sql, MASTER)).valid).toBe(true);
  });

  it('refuses a stale head (REPEATABLE READ snapshot taken before the lock) instead of forking', async () => {
    await appendAudit(db.sql, entry(1));
    await expect(
      db.sql.begin('isolation level repeatable read', async (tx) => {
        await tx`select count(*) from audit_log`; // the snapshot is taken here
        await appendAudit(db.sql, entry(2)); // another transaction extends the chain
        await appendAudit(tx, entry(3));
      }),
    ).rejects.toThrow(/READ COMMITTED/);
    expect(await chainIds()).toEqual(['1', '2']);
  });

  it('has unique prev_hash and id: a writer that skips the lock cannot fork the chain', async () => {
    const first = await appendAudit(db.sql, entry(1));
    await appendAudit(db.sql, entry(2));
    await expect(
      db.sql`insert into audit_log (id, at, actor_type, action, resource, result, prev_hash, hash)
             values (3, now(), 'system', 'fork', 'x', 'success', ${first.hash}, ${'a'.repeat(64)})`,
    ).rejects.toMatchObject({ code: '23505' });
    await expect(
      db.sql`insert into audit_log (id, at, actor_type, action, resource, result, prev_hash, hash)
             values (2, now(), 'system', 'fork', 'x', 'success', ${'b'.repeat(64)}, ${'a'.repeat(64)})`,
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('keeps one chain under many concurrent writers: two pools here and two other processes', async () => {
    const PER_PROCESS = 150;
    const PER_POOL = 60;
    // The test holds the barrier; the writer processes wait on it, then all start at once.
    const barrier = await db.sql.reserve();
    await barrier`select pg_advisory_lock(${BARRIER_KEY})`;
    const writers = ['p1', 'p2'].map((tag) => spawnNode([db.url, String(PER_PROCESS), tag, '6'], {}, WRITER));
    const pools = [postgres(db.url, { max: 6 }), postgres(db.url, { max: 6 })];
    try {
      // Wait until both processes are queued on the barrier.
      for (;;) {
        const [row] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = ${BARRIER_KEY} and not granted`;
        if (row!.n >= 2) break;
        const exits = await Promise.race([
          Promise.all(writers.map((w) => w.exited)),
          sleep(50).then(() => null),
        ]);
        if (exits) throw new Error(`writers exited early: ${writers.map((w) => w.output()).join('\n')}`);
      }
      await barrier`select pg_advisory_unlock(${BARRIER_KEY})`;
      const local = pools.flatMap((pool, p) =>
        Array.from({ length: PER_POOL }, (_, n) =>
          pool.begin((tx) => appendAudit(tx, { ...entry(n), actorId: `pool${p}`, metadata: { n } })),
        ),
      );
      await Promise.all(local);
      const exits = await Promise.all(writers.map((w) => w.exited));
      expect(exits, writers.map((w) => w.output()).join('\n')).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
    } finally {
      barrier.release();
      await Promise.all(pools.map((pool) => pool.end()));
    }
    const total = 2 * PER_PROCESS + 2 * PER_POOL;
    const ids = await chainIds();
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
    const [links] = await db.sql<{ forks: number; writers: number }[]>`
      select (select count(*) - count(distinct prev_hash) from audit_log)::int as forks,
             (select count(distinct actor_id) from audit_log)::int as writers`;
    expect(links).toEqual({ forks: 0, writers: 4 });
    expect(await verifyAuditChain(db.sql, MASTER, { batchSize: 97 })).toMatchObject({
      valid: true,
      entries: total,
    });
  });
});

describe('append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE with a clear error', async () => {
    await appendAudit(db.sql, entry(1));
    expect((await writeCheckpoint(db.sql, MASTER)).written).toBe(true);
    await expect(db.sql`update audit_log set action = 'x'`).rejects.toThrow(
      'audit_log is append-only: UPDATE is not allowed',
    );
    await expect(db.sql`delete from audit_log`).rejects.toThrow(
      'audit_log is append-only: DELETE is not allowed',
    );
    await expect(db.sql`truncate audit_log`).rejects.toThrow(
      'audit_log is append-only: TRUNCATE is not allowed',
    );
    await expect(db.sql`delete from audit_checkpoints`).rejects.toThrow(
      'audit_checkpoints is append-only: DELETE is not allowed',
    );
    await expect(db.sql`update audit_checkpoints set head_hash = ${'0'.repeat(64)}`).rejects.toThrow(
      'audit_checkpoints is append-only: UPDATE is not allowed',
    );
    await expect(db.sql`truncate audit_checkpoints`).rejects.toThrow(
      'audit_checkpoints is append-only: TRUNCATE is not allowed',
    );
    expect(await chainIds()).toEqual(['1']);
  });
});

describe('failed sign-ins', () => {
  function fakePlatform(): Platform {
    return { db: db.sql, logger: pino({ level: 'silent' }), config: testConfig() } as unknown as Platform;
  }

  it('aggregates N failures of one subject into one entry, with bounded addresses and reasons', async () => {
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    const aggregator = new FailedSignInAggregator({ now: () => now, limits: { addresses: 2 } });
    for (let i = 0; i < 40; i++) {
      now += 1000;
      aggregator.record({
        kind: 'token',
        subject: 'client-a',
        address: `10.0.0.${i % 3}`,
        reason: i % 4 === 0 ? 'unknown_client' : 'wrong_secret',
      });
    }
    aggregator.record({
      kind: 'staff',
      subject: 'eve@example.test',
      address: '10.0.0.9',
      reason: 'wrong_password',
    });
    expect(await aggregator.flush(fakePlatform())).toBe(2);
    expect(await aggregator.flush(fakePlatform())).toBe(0);
    const rows =
      await db.sql`select action, resource, result, actor_type, actor_id, reason, metadata from audit_log order by id`;
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({
      action: 'token.sign_in_failed',
      resource: 'token:client-a',
      result: 'failure',
      actor_type: 'anonymous',
      actor_id: null,
      reason: '40 failed sign-ins (most often: wrong_secret)',
      metadata: {
        count: 40,
        addresses: ['10.0.0.0', '10.0.0.1'],
        addresses_truncated: true,
        first_at: '2026-03-01T10:00:01.000Z',
        last_at: '2026-03-01T10:00:40.000Z',
        reasons: { unknown_client: 10, wrong_secret: 30 },
      },
    });
    expect(rows[1]).toMatchObject({
      action: 'staff.sign_in_failed',
      reason: 'wrong_password',
      metadata: { count: 1 },
    });
    expect((await verifyAuditChain(db.sql, MASTER)).valid).toBe(true);
  });

  it('caps distinct subjects: the overflow is counted in one entry per kind', async () => {
    const aggregator = new FailedSignInAggregator({ limits: { subjects: 3 } });
    for (let i = 0; i < 10; i++)
      aggregator.record({ kind: 'basic', subject: `u${i}`, address: 'a', reason: 'r' });
    expect(aggregator.pending).toBe(4);
    await aggregator.flush(fakePlatform());
    const rows = await db.sql`select resource, metadata from audit_log order by id`;
    expect(rows.map((row) => row.resource)).toEqual(['basic:u0', 'basic:u1', 'basic:u2', 'basic:*']);
    expect(rows[3]!.metadata).toMatchObject({ count: 7, overflow: true });
  });

  it('recordFailedSignIn is flushed by the starter on stop', async () => {
    const platform = fakePlatform();
    const started = await auditStarter(platform);
    for (let i = 0; i < 25; i++) {
      recordFailedSignIn(platform, {
        kind: 'staff',
        subject: 'admin@x.test',
        address: '127.0.0.1',
        reason: 'wrong_password',
      });
    }
    expect(await chainIds()).toEqual([]);
    await started.stop();
    const rows = await db.sql`select action, metadata from audit_log`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'staff.sign_in_failed',
      metadata: { count: 25, addresses: ['127.0.0.1'] },
    });
  });

  it('keeps the counts for the next flush when writing fails', async () => {
    const aggregator = new FailedSignInAggregator();
    aggregator.record({ kind: 'token', subject: 's', address: 'a', reason: 'r' });
    const broken = postgres('postgres://nobody@127.0.0.1:1/none', { max: 1, connect_timeout: 1 });
    const platform = { ...fakePlatform(), db: broken } as Platform;
    await expect(aggregator.flush(platform)).rejects.toThrow();
    await broken.end();
    aggregator.record({ kind: 'token', subject: 's', address: 'b', reason: 'r' });
    await aggregator.flush(fakePlatform());
    const [row] = await db.sql`select metadata from audit_log`;
    expect(row!.metadata).toMatchObject({ count: 2, addresses: ['a', 'b'] });
  });
});

describe('auditFromPrincipal', () => {
  it('names the actor of a principal', () => {
    const principal: Principal = {
      kind: 'staff',
      id: '7',
      name: 'a@x',
      role: 'admin',
      permissions: new Set(),
    };
    expect(auditFromPrincipal(principal)).toEqual({ actorType: 'staff', actorId: '7' });
  });
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
