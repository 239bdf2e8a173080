import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationError, migrate, readMigrations } from '../../src/platform/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const logger = pino({ level: 'silent' });

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('processes racing to migrate one database apply each file exactly once', async () => {
    const pools = Array.from({ length: 4 }, () => postgres(db.url, { max: 2, onnotice: () => {} }));
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool, logger)));
      const files = readMigrations();
      // Exactly one process applied everything; the others waited on the lock and found nothing to do.
      expect(applied.map((list) => list.length).sort()).toEqual([0, 0, 0, files.length]);
      const rows = await db.sql<
        { version: number }[]
      >`select version from schema_migrations order by version`;
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.version));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('is idempotent: a second run applies nothing', async () => {
    expect(await migrate(db.sql, logger)).toEqual([]);
  });

  describe('with a scratch migrations folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'boxoffice-migrations-'));
    let scratch: TestDatabase;
    beforeAll(async () => {
      scratch = await createTestDatabase({ empty: true });
    });
    afterAll(async () => {
      await scratch.drop();
    });

    it('refuses a file changed after it was applied', async () => {
      writeFileSync(join(dir, '0001_first.sql'), 'create table first (id int);');
      expect(await migrate(scratch.sql, logger, dir)).toHaveLength(1);
      writeFileSync(join(dir, '0001_first.sql'), 'create table first (id bigint);');
      await expect(migrate(scratch.sql, logger, dir)).rejects.toThrow(
        /migration 0001_first\.sql was changed after it was applied/,
      );
      writeFileSync(join(dir, '0001_first.sql'), 'create table first (id int);');
    });

    it('rolls back a failing file whole and records nothing', async () => {
      writeFileSync(
        join(dir, '0002_broken.sql'),
        'create table second (id int);\nselect * from no_such_table;',
      );
      await expect(migrate(scratch.sql, logger, dir)).rejects.toThrow(MigrationError);
      await expect(migrate(scratch.sql, logger, dir)).rejects.toThrow(
        /0002_broken\.sql failed: .*no_such_table/,
      );
      const [table] = await scratch.sql`select to_regclass('second') as t`;
      expect(table?.t).toBeNull();
      const versions = await scratch.sql`select version from schema_migrations`;
      expect(versions.map((r) => r.version)).toEqual([1]);
    });

    it('refuses badly named files', () => {
      const bad = mkdtempSync(join(tmpdir(), 'boxoffice-migrations-'));
      writeFileSync(join(bad, 'add-users.sql'), 'select 1;');
      expect(() => readMigrations(bad)).toThrow(/must look like 0001_what_it_does\.sql/);
    });
  });
});
