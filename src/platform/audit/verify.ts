import type { Sql, Tx } from '../db/client.ts';
import { type Checkpoint, checkpointKey, checkpointSignatureValid, checkpointsAfter } from './checkpoints.ts';
import {
  AUDIT_COLUMNS,
  type AuditEntry,
  type AuditRow,
  entryHash,
  GENESIS_HASH,
  rowToEntry,
} from './entry.ts';

export type VerifyResult =
  | { valid: true; entries: number; head: { id: string; hash: string } | null }
  | { valid: false; first_bad_id: string; reason: string };

const BATCH = 5_000;
const CHECKPOINT_BATCH = 1_000;

/**
 * Walks the whole chain in id order, a batch at a time (memory stays flat however long it is), in
 * one REPEATABLE READ snapshot so appends during the walk do not confuse it. For every entry:
 * its id follows the previous one, its hash is the hash of its contents, its prev_hash is the
 * previous entry's hash. For every checkpoint: its signature is ours and the chain still has the
 * checkpointed hash at that id; and the chain reaches the last checkpoint (no cut tail).
 *
 * `first_bad_id` is the first id at which the stored chain provably departs from a valid one: the
 * edited, missing or inserted entry itself, or, for a chain rewritten consistently, the first
 * checkpoint it no longer matches (the rewrite began after the previous matching checkpoint).
 */
export async function verifyAuditChain(
  sql: Sql,
  masterKey: Buffer,
  options: { batchSize?: number } = {},
): Promise<VerifyResult> {
  const key = checkpointKey(masterKey);
  const batchSize = options.batchSize ?? BATCH;
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const checkpoints = checkpointCursor(tx);
    let checkpoint = await checkpoints.next();
    let expected = 1n;
    let prevHash = GENESIS_HASH;
    let lastGoodCheckpoint = '0';
    let entries = 0;
    let after = '0';
    for (;;) {
      const rows = await tx<AuditRow[]>`
        select ${tx(AUDIT_COLUMNS as unknown as string[])} from audit_log
        where id > ${after} order by id limit ${batchSize}`;
      for (const row of rows) {
        const id = BigInt(row.id);
        let entry: AuditEntry;
        try {
          entry = rowToEntry(row);
        } catch {
          return bad(id, `entry ${id} cannot be read as an audit entry: it was changed`); // e.g. a NULL where none may be
        }
        if (id !== expected) {
          return bad(expected, `entry ${expected} is missing: the entry after ${expected - 1n} is ${id}`);
        }
        const { hash, ...unsigned } = entry;
        if (entryHash(unsigned) !== hash)
          return bad(id, `entry ${id} does not match its hash: it was changed`);
        if (entry.prev_hash !== prevHash) {
          return bad(
            id,
            `entry ${id} does not link to entry ${id - 1n}: its prev_hash is not that entry's hash`,
          );
        }
        while (checkpoint && BigInt(checkpoint.head_id) === id) {
          if (!checkpointSignatureValid(key, checkpoint)) {
            return bad(
              id,
              `the checkpoint of entry ${id} (${checkpoint.at}) has an invalid signature: it was forged or changed`,
            );
          }
          if (checkpoint.head_hash !== hash) {
            return bad(
              id,
              `entry ${id} differs from its signed checkpoint of ${checkpoint.at}: the chain was rewritten after entry ${lastGoodCheckpoint} (the last checkpoint it still matches)`,
            );
          }
          lastGoodCheckpoint = checkpoint.head_id;
          checkpoint = await checkpoints.next();
        }
        prevHash = hash;
        expected = id + 1n;
        entries += 1;
      }
      if (rows.length < batchSize) break;
      after = String(expected - 1n);
    }
    if (checkpoint) {
      const head = expected - 1n;
      if (!checkpointSignatureValid(key, checkpoint)) {
        return bad(
          BigInt(checkpoint.head_id),
          `the checkpoint of entry ${checkpoint.head_id} (${checkpoint.at}) has an invalid signature: it was forged or changed`,
        );
      }
      return bad(
        head + 1n,
        `the chain ends at entry ${head}, but a signed checkpoint of ${checkpoint.at} vouches for entry ${checkpoint.head_id}: entries from ${head + 1n} on were deleted`,
      );
    }
    return {
      valid: true,
      entries,
      head: entries === 0 ? null : { id: String(expected - 1n), hash: prevHash },
    };
  });
}

function bad(id: bigint, reason: string): VerifyResult {
  return { valid: false, first_bad_id: String(id), reason };
}

/** Checkpoints in head_id order, fetched a page at a time. */
function checkpointCursor(tx: Tx) {
  let page: Checkpoint[] = [];
  let index = 0;
  let after = '0';
  let done = false;
  return {
    async next(): Promise<Checkpoint | undefined> {
      if (index >= page.length) {
        if (done) return undefined;
        page = await checkpointsAfter(tx, after, CHECKPOINT_BATCH);
        index = 0;
        if (page.length < CHECKPOINT_BATCH) done = true;
        if (page.length === 0) return undefined;
        after = page[page.length - 1]!.head_id;
      }
      return page[index++];
    },
  };
}
