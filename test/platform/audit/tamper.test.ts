import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkpointKey, signCheckpoint, writeCheckpoint } from '../../../src/platform/audit/checkpoints.ts';
import { type AuditRow, entryHash, rowToEntry } from '../../../src/platform/audit/entry.ts';
import { appendAudit } from '../../../src/platform/audit/index.ts';
import { verifyAuditChain } from '../../../src/platform/audit/verify.ts';
import type { Tx } from '../../../src/platform/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.ts';
import { MASTER, resetAuditLog, tamper } from './helpers.ts';

/**
 * Every kind of tampering an attacker with the database (and not the master key) can do, done
 * directly in the table with the triggers off; verify must name the first bad id.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

/** 30 entries, signed checkpoints at 10 and 20. */
beforeEach(async () => {
  await resetAuditLog(db.sql);
  for (let n = 1; n <= 30; n++) {
    await appendAudit(db.sql, {
      actorType: 'service_account',
      actorId: String(n % 3),
      action: 'test.change',
      resource: `thing:${n}`,
      result: 'success',
      metadata: { n, tags: ['a', 'b'] },
    });
    if (n === 10 || n === 20) expect((await writeCheckpoint(db.sql, MASTER)).written).toBe(true);
  }
  expect(await verifyAuditChain(db.sql, MASTER)).toMatchObject({
    valid: true,
    entries: 30,
    head: { id: '30' },
  });
});

const verify = (batchSize = 7) => verifyAuditChain(db.sql, MASTER, { batchSize });

/** Moves ids without tripping the primary key mid-statement. */
async function moveId(tx: Tx, from: number, to: number) {
  await tx`update audit_log set id = ${to} where id = ${from}`;
}

async function rows(tx: Tx, fromId: number) {
  return (await tx<AuditRow[]>`select * from audit_log where id >= ${fromId} order by id`).map(rowToEntry);
}

describe('verifyAuditChain finds', () => {
  it('an edited field', async () => {
    await tamper(db.sql, (tx) => tx`update audit_log set result = 'denied' where id = 7`);
    expect(await verify()).toEqual({
      valid: false,
      first_bad_id: '7',
      reason: 'entry 7 does not match its hash: it was changed',
    });
  });

  it('an edited timestamp', async () => {
    await tamper(db.sql, (tx) => tx`update audit_log set at = at + interval '1 millisecond' where id = 3`);
    expect(await verify()).toMatchObject({ valid: false, first_bad_id: '3' });
  });

  it('edited metadata', async () => {
    await tamper(
      db.sql,
      (tx) => tx`update audit_log set metadata = jsonb_set(metadata, '{tags,1}', '"c"') where id = 12`,
    );
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '12',
      reason: expect.stringMatching(/hash/),
    });
  });

  it('an edited hash (recomputed to match the edit) breaks the link of the next entry', async () => {
    await tamper(db.sql, async (tx) => {
      const [entry] = await rows(tx, 5);
      const { hash: _, ...unsigned } = { ...entry!, action: 'test.hidden' };
      await tx`update audit_log set action = 'test.hidden', hash = ${entryHash(unsigned)} where id = 5`;
    });
    expect(await verify()).toEqual({
      valid: false,
      first_bad_id: '6',
      reason: "entry 6 does not link to entry 5: its prev_hash is not that entry's hash",
    });
  });

  it('a deleted entry in the middle', async () => {
    await tamper(db.sql, (tx) => tx`delete from audit_log where id = 15`);
    expect(await verify()).toEqual({
      valid: false,
      first_bad_id: '15',
      reason: 'entry 15 is missing: the entry after 14 is 16',
    });
  });

  it('a deleted first entry', async () => {
    await tamper(db.sql, (tx) => tx`delete from audit_log where id = 1`);
    expect(await verify()).toMatchObject({ valid: false, first_bad_id: '1' });
  });

  it('a deleted tail after a checkpoint', async () => {
    expect((await writeCheckpoint(db.sql, MASTER)).written).toBe(true); // vouches for entry 30
    await tamper(db.sql, (tx) => tx`delete from audit_log where id > 25`);
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '26',
      reason: expect.stringMatching(
        /^the chain ends at entry 25, but a signed checkpoint of .* vouches for entry 30: entries from 26 on were deleted$/,
      ),
    });
  });

  it('an entry inserted at the end with a made-up hash', async () => {
    await tamper(
      db.sql,
      (tx) => tx`insert into audit_log (id, at, actor_type, action, resource, result, prev_hash, hash)
                 select 31, now(), 'system', 'test.forged', 'x', 'success', hash, ${'f'.repeat(64)}
                 from audit_log where id = 30`,
    );
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '31',
      reason: expect.stringMatching(/hash/),
    });
  });

  it('an entry inserted in the middle, even with a correct hash of its own', async () => {
    await tamper(db.sql, async (tx) => {
      // Entries 15 and 16 will share a prev_hash: the unique constraint refuses that, so the attacker drops it.
      await tx`alter table audit_log drop constraint audit_log_prev_hash_key`;
      for (let id = 30; id >= 15; id--) await moveId(tx, id, id + 1);
      const [before] = await rows(tx, 14);
      const forged = {
        id: '15',
        at: before!.at,
        actor_type: 'system' as const,
        actor_id: null,
        action: 'test.forged',
        resource: 'x',
        result: 'success' as const,
        metadata: {},
        prev_hash: before!.hash,
      };
      await tx`insert into audit_log (id, at, actor_type, actor_id, action, resource, result, metadata, prev_hash, hash)
               values (15, ${forged.at}, 'system', null, 'test.forged', 'x', 'success', '{}', ${forged.prev_hash}, ${entryHash(forged)})`;
    });
    // Entry 15 is self-consistent; the entry pushed to 16 no longer matches its hash (its id is hashed).
    expect(await verify()).toEqual({
      valid: false,
      first_bad_id: '16',
      reason: 'entry 16 does not match its hash: it was changed',
    });
  });

  it('two entries swapped', async () => {
    await tamper(db.sql, async (tx) => {
      await moveId(tx, 8, 1008);
      await moveId(tx, 9, 8);
      await moveId(tx, 1008, 9);
    });
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '8',
      reason: expect.stringMatching(/hash/),
    });
  });

  it('the chain rewritten consistently from entry 15 on: the checkpoint of entry 20 no longer matches', async () => {
    await tamper(db.sql, async (tx) => {
      let prev = (await rows(tx, 14))[0]!.hash;
      for (const entry of await rows(tx, 15)) {
        const { hash: _, ...unsigned } = {
          ...entry,
          prev_hash: prev,
          action: entry.id === '15' ? 'test.rewritten' : entry.action,
        };
        const hash = entryHash(unsigned);
        await tx`update audit_log set action = ${unsigned.action}, prev_hash = ${prev}, hash = ${hash} where id = ${entry.id}`;
        prev = hash;
      }
    });
    // Without the checkpoints the rewrite would verify: every hash and link is right.
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '20',
      reason: expect.stringMatching(
        /^entry 20 differs from its signed checkpoint of .*: the chain was rewritten after entry 10 /,
      ),
    });
  });

  it('a forged checkpoint (signed with another key)', async () => {
    await tamper(db.sql, async (tx) => {
      const [head] = await rows(tx, 25);
      const forged = { head_id: '25', head_hash: head!.hash, at: head!.at };
      const signature = signCheckpoint(checkpointKey(Buffer.alloc(32, 7)), forged);
      await tx`insert into audit_checkpoints (head_id, head_hash, at, signature) values (25, ${forged.head_hash}, ${forged.at}, ${signature})`;
    });
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '25',
      reason: expect.stringMatching(/invalid signature/),
    });
  });

  it('an edited checkpoint', async () => {
    await tamper(
      db.sql,
      (tx) => tx`update audit_checkpoints set at = at + interval '1 second' where head_id = 10`,
    );
    expect(await verify()).toMatchObject({
      valid: false,
      first_bad_id: '10',
      reason: expect.stringMatching(/invalid signature/),
    });
  });

  it('checkpoints checked with the wrong master key', async () => {
    expect(await verifyAuditChain(db.sql, Buffer.alloc(32, 1))).toMatchObject({
      valid: false,
      first_bad_id: '10',
    });
  });
});

describe('what verify cannot see (why checkpoints must be copied out)', () => {
  it('a tail deleted after the last checkpoint', async () => {
    await tamper(db.sql, (tx) => tx`delete from audit_log where id > 25`);
    expect(await verify()).toMatchObject({ valid: true, entries: 25 });
  });
});
