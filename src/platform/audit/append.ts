import type { Queryable, Sql, Tx } from '../db/client.ts';
import { type AuditEntry, entryHash, GENESIS_HASH } from './entry.ts';
import type { AuditEntryInput } from './index.ts';
import { storableJson, storableText } from './storable.ts';

/**
 * Every writer of the chain takes this transaction-level advisory lock before reading the head, so
 * entries are chained one after another however many processes append at once. Any fixed number
 * works; this one spells "audit" in ASCII.
 */
export const AUDIT_CHAIN_LOCK_KEY = 0x61_75_64_69_74;

/**
 * Appends one entry in the caller's transaction. The lock is held until that transaction ends, so
 * callers append last, just before commit: every audited transaction queues behind this lock.
 * Under the lock: read the head and the clock (one statement), hash in JS, insert (one statement).
 * A pool (not a transaction) gets a transaction of its own.
 */
export async function appendAuditEntry(sql: Queryable, input: AuditEntryInput): Promise<AuditEntry> {
  if (!isTransaction(sql)) return (sql as Sql).begin((tx) => appendAuditEntry(tx, input));
  // JSON round trip: the hashed value is exactly what jsonb stores and gives back (no undefined,
  // Dates as strings, no class instances).
  const metadata = storableJson(JSON.parse(JSON.stringify(input.metadata ?? {}))) as Record<string, unknown>;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new TypeError('audit metadata must be a JSON object');
  }
  // Sent together (pipelined): the server runs the head read right after the lock is granted, and
  // as a separate statement in READ COMMITTED it sees the previous holder's commit. One round trip
  // less inside the locked section.
  const [, heads] = await Promise.all([
    sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`,
    sql<{ id: string | null; hash: string | null; now: Date }[]>`
      select h.id, h.hash, date_trunc('milliseconds', clock_timestamp()) as now
      from (select 1) one
      left join lateral (select id, hash from audit_log order by id desc limit 1) h on true`,
  ]);
  const head = heads[0];
  const unsigned: Omit<AuditEntry, 'hash'> = {
    id: String(BigInt(head?.id ?? '0') + 1n),
    at: (head?.now ?? new Date()).toISOString(),
    actor_type: input.actorType,
    actor_id: input.actorId === null ? null : storableText(input.actorId),
    action: storableText(input.action),
    resource: storableText(input.resource),
    result: input.result,
    metadata,
    prev_hash: head?.hash ?? GENESIS_HASH,
  };
  if (input.reason !== undefined) unsigned.reason = storableText(input.reason);
  const entry: AuditEntry = { ...unsigned, hash: entryHash(unsigned) };
  try {
    await sql`
      insert into audit_log (id, at, actor_type, actor_id, action, resource, result, reason, metadata, prev_hash, hash)
      values (${entry.id}, ${entry.at}, ${entry.actor_type}, ${entry.actor_id}, ${entry.action},
              ${entry.resource}, ${entry.result}, ${entry.reason ?? null}, ${sql.json(metadata as never)},
              ${entry.prev_hash}, ${entry.hash})`;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      // Only possible when the head read was stale: a REPEATABLE READ/SERIALIZABLE snapshot taken
      // before the lock, or a writer that skipped the lock. The constraint kept the chain unforked.
      throw new Error(
        `audit chain head moved under entry ${entry.id}: append audit entries in a READ COMMITTED transaction (the default)`,
        { cause: error },
      );
    }
    throw error;
  }
  return entry;
}

/** postgres.js: a transaction handle has `savepoint`, a pool has `begin`. */
function isTransaction(sql: Queryable): sql is Tx {
  return typeof (sql as Partial<Tx>).savepoint === 'function';
}
