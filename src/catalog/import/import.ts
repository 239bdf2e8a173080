import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { SeedContext } from '../../platform/seeding.ts';
import { EventLoader, withBulkLoad } from '../bulk-load.ts';
import type { EventRow } from '../types.ts';
import { JsonElementStream } from './json-stream.ts';
import { RELEASE_COLUMNS, toEventRow } from './rows.ts';
import { type InsertRows, SqlStatementStream } from './sql-inserts.ts';

/** The release files the catalog loads, each as .json or .sql (json wins when both are there). */
const RELEASE_FILES = ['events', 'events_archive'] as const;
/** Rows per loader batch. */
const BATCH = 5_000;
/** Bytes a release row takes, roughly: to decide whether the load is big enough to rebuild the index. */
const BYTES_PER_ROW = 300;

interface ReleaseFile {
  path: string;
  name: string;
  format: 'json' | 'sql';
  table: string;
  bytes: number;
}

/**
 * `boxoffice import DIR` for the catalog: `events.json|sql` and `events_archive.json|sql`, streamed
 * unchanged into the events table. Rows whose id is there already are skipped, so a re-run is safe.
 * Like the seed, the import bypasses the outbox; the table trigger still invalidates cached searches.
 */
export async function importCatalog(context: SeedContext, dir: string): Promise<number> {
  const { db, logger } = context;
  const files: ReleaseFile[] = [];
  for (const table of RELEASE_FILES) {
    for (const format of ['json', 'sql'] as const) {
      const path = join(dir, `${table}.${format}`);
      if (!existsSync(path)) continue;
      if (files.some((file) => file.table === table)) {
        logger.warn({ file: path }, 'catalog: both .json and .sql given; importing the .json only');
        continue;
      }
      files.push({ path, name: `${table}.${format}`, format, table, bytes: statSync(path).size });
    }
  }
  if (files.length === 0) return 0;

  const expectedRows = files.reduce((sum, file) => sum + file.bytes, 0) / BYTES_PER_ROW;
  return withBulkLoad(db, logger, expectedRows, async () => {
    const loader = new EventLoader({ db, logger, parallel: 2 });
    for (const file of files) {
      const before = loader.inserted;
      const progress = context.progress(`import ${file.name} (bytes)`, file.bytes);
      const rows = await readReleaseFile(file, progress.tick.bind(progress), async (batch) => {
        await loader.write(batch, 'merge');
      });
      await loader.finish();
      progress.done();
      logger.info(
        { file: file.path, rows, inserted: loader.inserted - before },
        'catalog: imported (rows already there are skipped)',
      );
    }
    return loader.finish();
  });
}

/**
 * Streams one release file, validating every row, and hands it on in batches. Returns the number of
 * rows read. Throws on the first malformed statement, element or row, naming it.
 */
export async function readReleaseFile(
  file: Pick<ReleaseFile, 'path' | 'format' | 'table'>,
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

  const stream = createReadStream(file.path, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = decoder.write(chunk);
    if (json) await fromJson(json.push(text));
    else await fromSql(sql!.push(text));
    onBytes(chunk.length);
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
