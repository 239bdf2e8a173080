import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Sql } from './client.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** Any stable number: every boxoffice process that migrates takes this session lock first. */
const MIGRATION_LOCK_KEY = 0x626f78_01; // "box" + 1

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  sql: string;
  /** Files starting with `-- boxoffice:no-transaction` (e.g. CREATE INDEX CONCURRENTLY) run outside one. */
  transactional: boolean;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(`migration file name ${file} must look like 0001_what_it_does.sql`);
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MigrationError(`two migration files share version ${match[1]}`);
    }
    migrations.push({
      version,
      name: file,
      checksum: createHash('sha256').update(sql).digest('hex'),
      sql,
      transactional: !sql.startsWith('-- boxoffice:no-transaction'),
    });
  }
  return migrations;
}

/**
 * Applies pending migrations in version order, each in its own transaction, under a
 * session advisory lock so that two processes never apply them at once (the second
 * waits, then finds nothing to do). A file changed after it was applied is refused.
 */
export async function migrate(sql: Sql, logger: Logger, dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations = readMigrations(dir);
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await conn`
        create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`;
      const applied = new Map(
        (
          await conn<{ version: number; name: string; checksum: string }[]>`
          select version, name, checksum from schema_migrations`
        ).map((row) => [row.version, row]),
      );
      for (const row of applied.values()) {
        const file = migrations.find((m) => m.version === row.version);
        if (!file) {
          throw new MigrationError(
            `the database has migration ${row.name} applied, but no such file exists: is this an older build?`,
          );
        }
        if (file.checksum !== row.checksum) {
          throw new MigrationError(
            `migration ${file.name} was changed after it was applied (checksum ${row.checksum.slice(0, 12)} in the database, ${file.checksum.slice(0, 12)} on disk); add a new migration instead of editing an applied one`,
          );
        }
      }
      const pending = migrations.filter((m) => !applied.has(m.version));
      for (const migration of pending) {
        const started = performance.now();
        if (migration.transactional) await conn.unsafe('begin');
        try {
          await conn.unsafe(migration.sql);
          await conn`
            insert into schema_migrations (version, name, checksum)
            values (${migration.version}, ${migration.name}, ${migration.checksum})`;
          if (migration.transactional) await conn.unsafe('commit');
        } catch (error) {
          if (migration.transactional) await conn.unsafe('rollback');
          throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
        }
        logger.info(
          { migration: migration.name, ms: Math.round(performance.now() - started) },
          'migration applied',
        );
      }
      return pending;
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    conn.release();
  }
}
