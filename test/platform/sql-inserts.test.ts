import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSqlInserts } from '../../src/platform/import/sql-inserts.ts';

async function rows(sql: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'sql-inserts-')), 'dump.sql');
  writeFileSync(file, sql);
  const out = [];
  for await (const row of readSqlInserts(createReadStream(file))) out.push(row);
  return out;
}

describe('readSqlInserts', () => {
  it('reads rows of multi-row INSERTs and skips other statements', async () => {
    const result = await rows(`
      CREATE TABLE users (user_id INT, email TEXT, note TEXT, active BOOLEAN);
      INSERT INTO users (user_id, email, note, active) VALUES
        (1, 'a@b.c', 'it''s; (tricky), isn''t it', TRUE),
        (2, 'd@e.f', NULL, false);
      INSERT INTO public."users" ("user_id", email, note, active) VALUES (3, 'x:y\\z', '', true);
    `);
    expect(result).toEqual([
      {
        table: 'users',
        columns: ['user_id', 'email', 'note', 'active'],
        values: [1, 'a@b.c', "it's; (tricky), isn't it", true],
      },
      { table: 'users', columns: ['user_id', 'email', 'note', 'active'], values: [2, 'd@e.f', null, false] },
      { table: 'users', columns: ['user_id', 'email', 'note', 'active'], values: [3, 'x:y\\z', '', true] },
    ]);
  });

  it('refuses a row whose value count does not match its columns', async () => {
    await expect(rows(`INSERT INTO t (a, b) VALUES (1, 2, 3);`)).rejects.toThrow(/3 values for 2 columns/);
  });

  it('refuses a file cut off inside a row', async () => {
    await expect(rows(`INSERT INTO t (a, b) VALUES (1, 'unterminated`)).rejects.toThrow(/ends inside a row/);
  });
});
