import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

/** prev_hash of entry 1: there is nothing before it. */
export const GENESIS_HASH = '0'.repeat(64);

export type ActorType = 'service_account' | 'staff' | 'system' | 'anonymous';
export type AuditResult = 'success' | 'failure' | 'denied';

/** One entry as stored and as the API returns it (platform-services.md, "Audit log"). */
export interface AuditEntry {
  id: string;
  /** ISO 8601 with milliseconds, UTC: exactly the text that was hashed. */
  at: string;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  resource: string;
  result: AuditResult;
  reason?: string;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * The hash of an entry: SHA-256 (hex) of the RFC 8785 canonical JSON of every field but `hash`.
 * `id` is a string (bigint-safe) and a missing reason is `null`, so the form does not depend on
 * how a reader represents them. Covering `id` and `prev_hash` is what makes a moved, removed or
 * inserted entry show.
 */
export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const canonical = canonicalJson({
    id: entry.id,
    at: entry.at,
    actor_type: entry.actor_type,
    actor_id: entry.actor_id,
    action: entry.action,
    resource: entry.resource,
    result: entry.result,
    reason: entry.reason ?? null,
    metadata: entry.metadata,
    prev_hash: entry.prev_hash,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** A row of audit_log as postgres.js returns it. */
export interface AuditRow {
  id: string;
  at: Date;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  resource: string;
  result: AuditResult;
  reason: string | null;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS = [
  'id',
  'at',
  'actor_type',
  'actor_id',
  'action',
  'resource',
  'result',
  'reason',
  'metadata',
  'prev_hash',
  'hash',
] as const;

export function rowToEntry(row: AuditRow): AuditEntry {
  const entry: AuditEntry = {
    id: String(row.id),
    // timestamptz keeps microseconds; we only ever store milliseconds, so this is the stored text.
    at: row.at.toISOString(),
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    action: row.action,
    resource: row.resource,
    result: row.result,
    metadata: row.metadata,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
  if (row.reason !== null) entry.reason = row.reason;
  return entry;
}
