import type { Sql } from '../db/client.ts';
import { AUDIT_COLUMNS, type AuditEntry, type AuditRow, rowToEntry } from './entry.ts';

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  resource?: string | undefined;
  /** Inclusive bounds on `at`. */
  from?: Date | undefined;
  to?: Date | undefined;
}

/**
 * A page of entries, newest first. Each equality filter has an index on (column, id desc), so a
 * page of one actor's or one action's entries is an index walk whatever the log's size; `from`/`to`
 * alone use the index on `at`. Fetches one extra row to tell whether there is a next page (no
 * count(*) over millions of rows).
 */
export async function listAuditEntries(
  sql: Sql,
  filter: AuditFilter,
  page: { page: number; pageSize: number },
): Promise<{ items: AuditEntry[]; hasMore: boolean }> {
  const rows = await sql<AuditRow[]>`
    select ${sql(AUDIT_COLUMNS as unknown as string[])} from audit_log
    where true
      ${filter.actorId !== undefined ? sql`and actor_id = ${filter.actorId}` : sql``}
      ${filter.action !== undefined ? sql`and action = ${filter.action}` : sql``}
      ${filter.resource !== undefined ? sql`and resource = ${filter.resource}` : sql``}
      ${filter.from !== undefined ? sql`and at >= ${filter.from}` : sql``}
      ${filter.to !== undefined ? sql`and at <= ${filter.to}` : sql``}
    order by id desc
    limit ${page.pageSize + 1} offset ${(page.page - 1) * page.pageSize}`;
  return { items: rows.slice(0, page.pageSize).map(rowToEntry), hasMore: rows.length > page.pageSize };
}
