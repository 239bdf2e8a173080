import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { readSqlInserts, type SqlValue } from '../platform/import/sql-inserts.ts';
import type { SeedContext } from '../platform/seeding.ts';
import { legacyHash } from './passwords.ts';
import { advanceUserIds, insertUsers, type UserRow } from './store.ts';

const BATCH = 5000;

/**
 * Loads `users.csv` or `users.sql` of the data release as it is, streaming. The release's unsalted
 * SHA-256 is kept as a legacy hash (hashing a million passwords slowly at import would take
 * core-hours) and upgraded at each user's first sign-in; `password_plain` is never stored.
 */
export async function importUsers(context: SeedContext, dir: string): Promise<number> {
  const csv = join(dir, 'users.csv');
  const sql = join(dir, 'users.sql');
  const path = existsSync(csv) ? csv : existsSync(sql) ? sql : undefined;
  if (!path) return 0;
  const size = (await stat(path)).size;
  const progress = context.progress('users (bytes read)', size);
  const records = path === csv ? readCsv(path) : readSql(path);
  let batch: UserRow[] = [];
  let loaded = 0;
  let lastBytes = 0;
  for await (const { record, bytes } of records) {
    batch.push(toUserRow(record));
    if (batch.length >= BATCH) {
      loaded += await insertUsers(context.db, batch);
      batch = [];
      progress.tick(bytes - lastBytes);
      lastBytes = bytes;
    }
  }
  loaded += await insertUsers(context.db, batch);
  progress.done();
  await advanceUserIds(context.db);
  return loaded;
}

type UserRecord = Record<string, SqlValue>;

async function* readCsv(path: string): AsyncGenerator<{ record: UserRecord; bytes: number }> {
  const input = createReadStream(path);
  const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, relax_column_count: false }));
  for await (const record of parser) yield { record, bytes: input.bytesRead };
}

async function* readSql(path: string): AsyncGenerator<{ record: UserRecord; bytes: number }> {
  let rows = 0;
  for await (const row of readSqlInserts(path)) {
    if (row.table !== 'users') continue;
    rows++;
    const record: UserRecord = {};
    row.columns.forEach((column, i) => {
      record[column] = row.values[i] ?? null;
    });
    yield { record, bytes: rows * 200 }; // the SQL reader does not expose its offset; an estimate
  }
}

function toUserRow(record: UserRecord): UserRow {
  const text = (key: string) => {
    const value = record[key];
    return value === null || value === undefined || value === '' ? null : String(value);
  };
  const id = Number(record.user_id);
  const email = text('email');
  const hash = text('password_hash');
  if (!Number.isSafeInteger(id) || id <= 0 || !email || !hash || !/^[0-9a-f]{64}$/i.test(hash)) {
    throw new Error(
      `a users row is malformed (user_id ${JSON.stringify(record.user_id)}): needs an id, email and SHA-256 hex`,
    );
  }
  const active = record.is_active;
  return {
    id,
    email,
    passwordHash: legacyHash(hash),
    firstName: text('first_name'),
    surname: text('surname'),
    birthday: text('birthday'),
    registeredAt: text('registered_at') ?? new Date().toISOString(),
    isActive: active === true || /^(true|t|1)$/i.test(String(active)),
    lastLoggedIn: text('last_logged_in'),
  };
}
