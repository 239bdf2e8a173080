import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelinedTransaction } from '../../src/platform/db/pipelined.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`create table pipe_items (id integer primary key)`;
});

afterAll(async () => {
  await db.drop();
});

describe('pipelinedTransaction', () => {
  it('runs every statement in one transaction, in order, and commits', async () => {
    const results = (await pipelinedTransaction(db.sql, (sql) => [
      sql`select txid_current()::text as txid`,
      sql`insert into pipe_items values (1)`,
      sql`select pg_advisory_xact_lock(42)`,
      // Sees the insert before it, and still holds the transaction-scoped lock taken before it.
      sql`select txid_current()::text as txid, (select count(*)::int from pipe_items) as items,
                 (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as locks`,
    ])) as [{ txid: string }[], unknown, unknown, { txid: string; items: number; locks: number }[]];
    expect(results[3][0]!.txid).toBe(results[0][0]!.txid);
    expect(results[3][0]).toMatchObject({ items: 1, locks: 1 });
    const [after] = await db.sql<{ n: number; locks: number }[]>`
      select (select count(*)::int from pipe_items where id = 1) as n,
             (select count(*)::int from pg_locks where locktype = 'advisory') as locks`;
    expect(after).toEqual({ n: 1, locks: 0 });
  });

  it('a failing statement rolls back the whole transaction and its error is the one thrown', async () => {
    const attempt = pipelinedTransaction(db.sql, (sql) => [
      sql`insert into pipe_items values (2)`,
      sql`insert into pipe_items values (1)`, // duplicate key
      sql`insert into pipe_items values (3)`,
    ]);
    await expect(attempt).rejects.toMatchObject({ code: '23505' });
    const rows = await db.sql<{ id: number }[]>`select id from pipe_items order by id`;
    expect(rows.map((r) => r.id)).toEqual([1]);
    // The connection went back to the pool clean: the next transaction on it works.
    await pipelinedTransaction(db.sql, (sql) => [sql`insert into pipe_items values (4)`]);
    const [four] = await db.sql<{ n: number }[]>`select count(*)::int as n from pipe_items where id = 4`;
    expect(four!.n).toBe(1);
  });
});
