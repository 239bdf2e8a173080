import type { Progress } from '../platform/seeding.ts';
import { elementsForReading, type StoreContext } from './check.ts';
import * as store from './store.ts';

export interface RebuildReport {
  scanned: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /** Rows whose file is gone from its element's disk. */
  removed: number;
  skipped: { fileId: string; reason: string }[];
}

/**
 * `files rebuild`: the database cache made equal to the attr.json files on every configured
 * element. Idempotent: a second run changes nothing. Directories without a readable attr.json,
 * or whose data size disagrees with it, are skipped and reported (files check says more).
 */
export async function rebuildCache(
  context: StoreContext,
  progressOf: (label: string, total: number) => Progress,
): Promise<RebuildReport> {
  const report: RebuildReport = {
    scanned: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    removed: 0,
    skipped: [],
  };
  for (const element of elementsForReading(context)) {
    let total = 0;
    for await (const entry of element.scanFileIds()) if (!entry.unexpected) total += 1;
    const progress = progressOf(`rebuild ${element.id}`, total);
    const seen = new Set<string>();
    for await (const entry of element.scanFileIds()) {
      if (entry.unexpected) continue;
      report.scanned += 1;
      progress.tick(1);
      try {
        const attr = await element.readAttr(entry.id);
        if (attr.file_id !== entry.id) throw new Error(`attr.json names file ${attr.file_id}`);
        const size = await element.dataSize(entry.id);
        if (size !== attr.size_bytes)
          throw new Error(size === undefined ? 'no data file' : 'data size differs from attr.json');
        seen.add(entry.id);
        const outcome = await store.upsertFile(context.db, { ...attr, storage_element_id: element.id });
        if (outcome === 'inserted') report.inserted += 1;
        else if (outcome === 'updated') report.updated += 1;
        else report.unchanged += 1;
      } catch (error) {
        report.skipped.push({ fileId: entry.id, reason: (error as Error).message.slice(0, 200) });
      }
    }
    progress.done();
    for await (const rows of store.fileIdsOf(context.db, element.id)) {
      for (const row of rows) {
        if (seen.has(row.fileId)) continue;
        if ((await element.dataSize(row.fileId)) !== undefined) continue; // skipped above, not gone
        await store.deleteFile(context.db, row.fileId);
        report.removed += 1;
      }
    }
  }
  return report;
}
