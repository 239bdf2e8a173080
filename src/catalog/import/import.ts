import { StringDecoder } from 'node:string_decoder';
import {
  type FoundReleaseFile,
  findReleaseFile,
  type ReleaseFile,
  readReleaseChunks,
} from '../../platform/import/release-file.ts';
import { type ImportFileReport, ImportTally } from '../../platform/import/report.ts';
import type { SeedContext } from '../../platform/seeding.ts';
import { EventLoader, withBulkLoad } from '../bulk-load.ts';
import type { EventRow } from '../types.ts';
import { JsonElementStream } from './json-stream.ts';
import { RELEASE_COLUMNS, toEventRow } from './rows.ts';
import { type InsertRows, SqlStatementStream } from './sql-inserts.ts';

/** The release's data sets the catalog loads, each from .json or .sql, plain or .gz (json first). */
const RELEASE_TABLES = ['events', 'events_archive'] as const;
/** Rows per loader batch. */
const BATCH = 5_000;
/** Bytes a release row takes, roughly: to decide whether the load is big enough to rebuild the index. */
const BYTES_PER_ROW = 300;
/** How much a .gz of the release shrinks: a cautious guess, only to size the load (index rebuild or not). */
const GZIP_RATIO = 4;

/**
 * `boxoffice import DIR` for the catalog: `events` and `events_archive`, each from one `.json` or `.sql`
 * file (or its `.gz`), streamed unchanged into the events table. Rows whose id is there already are
 * skipped, so a re-run is safe. Like the seed, the import bypasses the outbox; the table trigger still
 * invalidates cached searches.
 */
export async function importCatalog(context: SeedContext, dir: string): Promise<ImportFileReport[]> {
  const { db, logger } = context;
  const found = RELEASE_TABLES.flatMap((table) => {
    const file = findReleaseFile(dir, table, ['json', 'sql'], logger);
    return file ? [{ ...file, table }] : [];
  });
  if (found.length === 0) return [];

  const expectedRows =
    found.reduce((sum, { file }) => sum + file.bytes * (file.gzip ? GZIP_RATIO : 1), 0) / BYTES_PER_ROW;
  return withBulkLoad(db, logger, expectedRows, async () => {
    const loader = new EventLoader({ db, logger, parallel: 2 });
    const reports: ImportFileReport[] = [];
    for (const entry of found) reports.push(await importFile(context, loader, entry));
    return reports;
  });
}

async function importFile(
  context: SeedContext,
  loader: EventLoader,
  { file, ignored, table }: FoundReleaseFile & { table: string },
): Promise<ImportFileReport> {
  const tally = new ImportTally();
  const before = loader.inserted;
  const progress = context.progress(`${file.name} (bytes)`, file.bytes);
  tally.read = await readReleaseFile({ ...file, table }, progress.tick.bind(progress), async (batch) => {
    await loader.write(batch, 'merge');
  });
  await loader.finish();
  progress.done();
  tally.inserted = loader.inserted - before;
  return tally.report({ file, ignored });
}

/**
 * Streams one release file (decompressing a .gz), validating every row, and hands it on in batches.
 * Returns the number of rows read. Throws on the first malformed statement, element or row, naming it.
 */
export async function readReleaseFile(
  file: ReleaseFile & { table: string },
  onBytes: (bytes: number) => void,
  onBatch: (rows: EventRow[]) => Promise<void>,
): Promise<number> {
  const decoder = new StringDecoder('utf8');
  let batch: EventRow[] = [];
  let count = 0;
  const add = async (record: Record<string, unknown>) => {
    const row = toEventRow(record);
    if (typeof row === 'string') throw new Error(`${file.path}: ${row}`);
    batch.push(row);
    count++;
    if (batch.length >= BATCH) {
      const full = batch;
      batch = [];
      await onBatch(full);
    }
  };

  const json = file.format === 'json' ? new JsonElementStream() : undefined;
  const sql = file.format === 'sql' ? new SqlStatementStream() : undefined;
  const fromSql = async (statements: InsertRows[]) => {
    for (const statement of statements) {
      if (statement.table !== file.table) {
        throw new Error(`${file.path}: INSERT into ${statement.table}, expected ${file.table}`);
      }
      const columns = statement.columns ?? [...RELEASE_COLUMNS];
      for (const values of statement.rows) {
        if (values.length !== columns.length) {
          throw new Error(`${file.path}: a row has ${values.length} values for ${columns.length} columns`);
        }
        const record: Record<string, unknown> = {};
        for (let i = 0; i < columns.length; i++) record[columns[i]!] = values[i];
        await add(record);
      }
    }
  };
  const fromJson = async (elements: unknown[]) => {
    for (const element of elements) {
      if (element === null || typeof element !== 'object' || Array.isArray(element)) {
        throw new Error(`${file.path}: element ${count + 1} is not an object`);
      }
      await add(element as Record<string, unknown>);
    }
  };

  for await (const chunk of readReleaseChunks(file, onBytes)) {
    const text = decoder.write(chunk);
    if (json) await fromJson(json.push(text));
    else await fromSql(sql!.push(text));
  }
  const tail = decoder.end();
  if (json) {
    await fromJson(json.push(tail));
    json.end();
  } else {
    await fromSql(sql!.push(tail));
    await fromSql(sql!.end());
  }
  if (batch.length > 0) await onBatch(batch);
  return count;
}
