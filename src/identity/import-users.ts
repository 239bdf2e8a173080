import { pipeline, Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { findReleaseFile, readReleaseChunks } from '../platform/import/release-file.ts';
import { type ImportFileReport, ImportTally } from '../platform/import/report.ts';
import { readSqlInserts, type SqlValue } from '../platform/import/sql-inserts.ts';
import type { SeedContext } from '../platform/seeding.ts';
import { legacyHash } from './passwords.ts';
import { advanceUserIds, insertUsers, type UserRow } from './store.ts';

const BATCH = 5000;

/**
 * Loads `users.csv` or `users.sql` of the data release (or its .gz) as it is, streaming. The
 * release's unsalted SHA-256 is kept as a legacy hash (hashing a million passwords slowly at import
 * would take core-hours) and upgraded at each user's first sign-in; `password_plain` is never stored.
 * A user whose id or email is there already is skipped, so a re-run inserts nothing.
 */
export async function importUsers(context: SeedContext, dir: string): Promise<ImportFileReport[]> {
  const found = findReleaseFile(dir, 'users', ['csv', 'sql'], context.logger);
  if (!found) return [];
  const { file } = found;
  const progress = context.progress(`${file.name} (bytes)`, file.bytes);
  const chunks = readReleaseChunks(file, (bytes) => progress.tick(bytes));
  const tally = new ImportTally();
  const records = file.format === 'csv' ? readCsv(chunks) : readSql(chunks, tally);
  let batch: UserRow[] = [];
  for await (const record of records) {
    tally.read++;
    const row = toUserRow(record);
    if (typeof row === 'string') throw new Error(`${file.name}: ${row}`);
    batch.push(row);
    if (batch.length >= BATCH) {
      tally.inserted += await insertUsers(context.db, batch);
      batch = [];
    }
  }
  tally.inserted += await insertUsers(context.db, batch);
  progress.done();
  await advanceUserIds(context.db);
  return [tally.report(found)];
}

type UserRecord = Record<string, SqlValue>;

function readCsv(chunks: AsyncIterable<Buffer>): AsyncIterable<UserRecord> {
  const parser = parse({ columns: true, skip_empty_lines: true, relax_column_count: false });
  // pipeline hands a failure of the source (a corrupt .gz, named) on to the parser's reader.
  return pipeline(Readable.from(chunks), parser, () => {});
}

/** The rows of the INSERTs into `users`; rows of other tables are counted as skipped. */
async function* readSql(chunks: AsyncIterable<Buffer>, tally: ImportTally): AsyncGenerator<UserRecord> {
  for await (const row of readSqlInserts(chunks)) {
    if (row.table !== 'users') {
      tally.read++;
      tally.skip(`INSERT into ${row.table}`);
      continue;
    }
    const record: UserRecord = {};
    row.columns.forEach((column, i) => {
      record[column] = row.values[i] ?? null;
    });
    yield record;
  }
}

/** One release row as a UserRow, or what is wrong with it. */
function toUserRow(record: UserRecord): UserRow | string {
  const text = (key: string) => {
    const value = record[key];
    return value === null || value === undefined || value === '' ? null : String(value);
  };
  const id = Number(record.user_id);
  const email = text('email');
  const hash = text('password_hash');
  if (!Number.isSafeInteger(id) || id <= 0 || !email || !hash || !/^[0-9a-f]{64}$/i.test(hash)) {
    return `a users row is malformed (user_id ${JSON.stringify(record.user_id)}): needs an id, email and SHA-256 hex`;
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
