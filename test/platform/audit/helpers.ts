import type { Sql, Tx } from '../../../src/platform/db/client.ts';
import { testConfig } from '../../helpers/config.ts';

export const MASTER = Buffer.from(testConfig().MASTER_KEY!, 'base64');

/**
 * Runs `change` as an attacker with direct database access would: with the append-only triggers off
 * (`session_replication_role = replica` skips ordinary triggers, TRUNCATE's too). Needs a superuser.
 */
export async function tamper(sql: Sql, change: (tx: Tx) => Promise<unknown>): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await change(tx);
  });
}

/** Empties the log and its checkpoints between tests. */
export async function resetAuditLog(sql: Sql): Promise<void> {
  await tamper(sql, async (tx) => {
    await tx`truncate audit_log, audit_checkpoints`;
    // A test may have dropped it, as an attacker would.
    await tx`alter table audit_log drop constraint if exists audit_log_prev_hash_key`;
    await tx`alter table audit_log add constraint audit_log_prev_hash_key unique (prev_hash)`;
  });
}
