import type { Principal } from '../auth/principal.ts';
import type { Platform } from '../context.ts';
import type { Queryable } from '../db/client.ts';
import { appendAuditEntry } from './append.ts';
import { FailedSignInAggregator } from './failed-sign-ins.ts';

/**
 * The audit log (docs/identity.md, "Audit log"): append-only, hash-chained, with signed
 * checkpoints. Everything other code needs is exported here.
 */

export interface AuditEntryInput {
  actorType: 'service_account' | 'staff' | 'system' | 'anonymous';
  actorId: string | null;
  /** e.g. 'service_account.create', 'keys.rotate', 'staff.sign_in_failed' */
  action: string;
  /** e.g. 'service_account:42' */
  resource: string;
  result: 'success' | 'failure' | 'denied';
  reason?: string;
  metadata?: Record<string, unknown>;
}

/**
 * Appends one entry in the caller's transaction (sql may be a transaction `tx`); the chain is
 * extended under a lock held until that transaction ends, so append last, just before commit.
 * Rolled back with the transaction, the entry leaves no trace and no gap.
 */
export async function appendAudit(
  sql: Queryable,
  entry: AuditEntryInput,
): Promise<{ id: string; hash: string }> {
  const { id, hash } = await appendAuditEntry(sql, entry);
  return { id, hash };
}

const aggregators = new WeakMap<Platform, FailedSignInAggregator>();

/** This process's failed sign-in counts for a platform (flushed by the audit starter). */
export function failedSignIns(platform: Platform): FailedSignInAggregator {
  let aggregator = aggregators.get(platform);
  if (!aggregator) {
    aggregator = new FailedSignInAggregator();
    aggregators.set(platform, aggregator);
  }
  return aggregator;
}

/**
 * Security events that come in floods (failed sign-ins): counted in memory and written as one
 * entry per kind, subject and minute (`<kind>.sign_in_failed`, metadata {count, addresses,
 * first_at, last_at, reasons}). Never throws, never waits.
 */
export function recordFailedSignIn(
  platform: Platform,
  event: { kind: 'token' | 'staff' | 'basic'; subject: string; address: string; reason: string },
): void {
  failedSignIns(platform).record(event);
}

export function auditFromPrincipal(principal: Principal): Pick<AuditEntryInput, 'actorType' | 'actorId'> {
  return { actorType: principal.kind, actorId: principal.id };
}

export { type AuditEntry, GENESIS_HASH } from './entry.ts';
