import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from '../platform/db/client.ts';
import type { Progress } from '../platform/seeding.ts';
import type { AttrJson } from './attr.ts';
import { LocalElement } from './element.ts';
import { parseElementsConfig } from './element-config.ts';
import { readJournals, writerAlive } from './journal.ts';
import { TEMP_DIR } from './layout.ts';
import * as store from './store.ts';

/**
 * `files check` and the scheduled scrub: compares each element's disk with itself (bytes against
 * attr.json) and with the database cache. Reads only; `rebuild` and boot replay repair.
 */
export const FINDING_KINDS = [
  'missing_bytes', // the cache (or attr.json) names a file whose data is not on disk
  'orphan', // bytes or a directory on disk the cache does not know (or a stray entry)
  'unreadable_attr', // attr.json missing, truncated or not one
  'checksum_mismatch', // --full: the bytes do not hash to attr.json's checksum
  'size_mismatch', // the data's size is not attr.json's size_bytes
  'cache_mismatch', // the cache row disagrees with attr.json (rebuild fixes it)
  'unfinished_upload', // a journal of a dead process not yet replayed, or its temporary file
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  element: string;
  fileId?: string;
  detail: string;
}

export interface CheckReport {
  full: boolean;
  elements: string[];
  filesChecked: number;
  findings: Finding[];
  counts: Record<FindingKind, number>;
}

export interface StoreContext {
  db: Sql;
  config: { FILES_ELEMENTS: string; DATA_DIR: string };
}

/** The configured elements, for reading only (no journal, no registration). */
export function elementsForReading(context: StoreContext): LocalElement[] {
  return parseElementsConfig(context.config.FILES_ELEMENTS, context.config.DATA_DIR).map(
    (config) => new LocalElement(config, 'reader', config.mode),
  );
}

export async function checkFiles(
  context: StoreContext,
  options: { full: boolean; progress?: Progress },
): Promise<CheckReport> {
  const findings: Finding[] = [];
  let filesChecked = 0;
  const elements = elementsForReading(context);
  for (const element of elements) {
    const add = (kind: FindingKind, detail: string, fileId?: string) =>
      findings.push({ kind, element: element.id, detail, ...(fileId ? { fileId } : {}) });
    // Uploads in flight in a live process are not findings.
    const inFlight = new Set<string>();
    const liveBoots = new Set<string>();
    for (const journal of await readJournals(element.root)) {
      if (writerAlive(journal)) {
        liveBoots.add(journal.boot);
        for (const entry of journal.unfinished) inFlight.add(entry.id);
      } else if (journal.unfinished.length + journal.aborted.length > 0) {
        add(
          'unfinished_upload',
          `journal ${journal.path} of a stopped process has ${journal.unfinished.length} unfinished entries (replayed at the next boot)`,
        );
      }
    }
    for (const name of await readdir(join(element.root, TEMP_DIR)).catch(() => [] as string[])) {
      if (!liveBoots.has(name.split('.')[0]!)) add('unfinished_upload', `temporary file ${TEMP_DIR}/${name}`);
    }

    const onDisk = new Set<string>();
    let batch: { id: string; attr: AttrJson | undefined }[] = [];
    const compareBatch = async () => {
      const ids = batch.map((b) => b.id);
      const rows = await context.db<{ fileId: string; sizeBytes: number; checksum: string }[]>`
        select file_id::text as "fileId", size_bytes::float8 as "sizeBytes", checksum
        from files where file_id = any(${ids}::uuid[])`;
      const cached = new Map(rows.map((r) => [r.fileId, r]));
      for (const { id, attr } of batch) {
        const row = cached.get(id);
        if (!row) {
          if (!inFlight.has(id)) add('orphan', 'on disk but not in the database cache', id);
        } else if (attr && (row.checksum !== attr.checksum || row.sizeBytes !== attr.size_bytes)) {
          add('cache_mismatch', 'the cache row disagrees with attr.json', id);
        }
      }
      batch = [];
    };
    for await (const entry of element.scanFileIds()) {
      if (entry.unexpected) {
        add('orphan', `unexpected entry ${entry.unexpected}`);
        continue;
      }
      const id = entry.id;
      if (inFlight.has(id)) continue;
      onDisk.add(id);
      filesChecked += 1;
      options.progress?.tick(1);
      let attr: AttrJson | undefined;
      try {
        attr = await element.readAttr(id);
        if (attr.file_id !== id) throw new Error(`it names file ${attr.file_id}`);
      } catch (error) {
        attr = undefined;
        add('unreadable_attr', `attr.json: ${(error as Error).message.slice(0, 200)}`, id);
      }
      const size = await element.dataSize(id);
      if (size === undefined) add('missing_bytes', 'the data file is missing', id);
      else if (attr && size !== attr.size_bytes)
        add('size_mismatch', `data has ${size} bytes, attr.json says ${attr.size_bytes}`, id);
      else if (attr && options.full) {
        const actual = await element.hashData(id).catch((error: Error) => `unreadable: ${error.message}`);
        if (actual !== attr.checksum)
          add('checksum_mismatch', `data hashes to ${actual}, attr.json says ${attr.checksum}`, id);
      }
      batch.push({ id, attr });
      if (batch.length >= 500) await compareBatch();
    }
    if (batch.length > 0) await compareBatch();
    // Rows whose file is not on disk at all.
    for await (const rows of store.fileIdsOf(context.db, element.id)) {
      for (const row of rows) {
        if (!onDisk.has(row.fileId) && !inFlight.has(row.fileId))
          add('missing_bytes', 'in the database cache but not on disk', row.fileId);
      }
    }
    // An upload finished meanwhile is no finding: look at the journals once more.
    for (const journal of await readJournals(element.root))
      if (writerAlive(journal)) for (const entry of journal.unfinished) inFlight.add(entry.id);
  }
  const counts = Object.fromEntries(FINDING_KINDS.map((kind) => [kind, 0])) as Record<FindingKind, number>;
  for (const finding of findings) counts[finding.kind] += 1;
  return { full: options.full, elements: elements.map((e) => e.id), filesChecked, findings, counts };
}
