import type postgres from 'postgres';
import type { Sql } from './client.ts';

/** A connection of the pool, reserved for one pipelined transaction. */
export type PipelineSql = postgres.ReservedSql;

/** A query not yet sent: what postgres.js's tagged template returns (an async function's promise is not). */
export interface PipelineStatement {
  execute(): PromiseLike<unknown>;
}

/** COMMIT answered ROLLBACK: the transaction had failed, though no statement's own answer said so. */
export class PipelineRolledBackError extends Error {
  override name = 'PipelineRolledBackError';
}

/**
 * One transaction in one round trip: BEGIN, the statements `build` issues and COMMIT are sent together on
 * one reserved connection, and only then are the answers awaited. `sql.begin` waits for BEGIN before the
 * first statement and for the last statement before COMMIT: three round trips at least, each a socket write
 * that wakes a backend. So the statements cannot use each other's results; they can use each other's writes
 * (each statement sees the ones before it, as in any transaction).
 *
 * If a statement fails, PostgreSQL refuses the rest (25P02) and turns COMMIT into a rollback: nothing is
 * written, and the first error (the cause) is thrown. Resolves with the statements' results in order once
 * COMMIT has succeeded, i.e. once the transaction is durable.
 */
export async function pipelinedTransaction(
  db: Sql,
  build: (sql: PipelineSql) => readonly PipelineStatement[],
): Promise<unknown[]> {
  const sql = await db.reserve();
  try {
    // postgres.js sends a query when it is first executed (or awaited), each a microtask later, in the order
    // of those calls: so they are executed here, in order, and `build` must hand over the queries themselves
    // (an async function around one would send it after COMMIT).
    const begin = sql`begin`.execute();
    const statements = build(sql).map((query) => query.execute());
    const commit = sql`commit`.execute();
    const settled = await Promise.allSettled([begin, ...statements, commit]);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const committed = (settled.at(-1) as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value;
    if (committed.command !== 'COMMIT') {
      throw new PipelineRolledBackError(`the transaction ended in ${committed.command}, not COMMIT`);
    }
    return settled.slice(1, -1).map((s) => (s as PromiseFulfilledResult<unknown>).value);
  } finally {
    sql.release();
  }
}
