import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { appendAudit } from '../platform/audit/index.ts';
import type { Sql } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import { syncDirectory } from './durable.ts';
import type { LocalElement } from './element.ts';
import { FilesTopics } from './events.ts';
import { readJournals, removeJournal, writerAlive } from './journal.ts';
import { TEMP_DIR } from './layout.ts';
import { removeCacheRow } from './protocol.ts';
import * as store from './store.ts';

export interface ReplayReport {
  completed: string[];
  removed: string[];
  deletesFinished: string[];
  tempFilesRemoved: number;
}

const SYSTEM = { actorType: 'system' as const, actorId: null };

/**
 * Boot replay of an element's journals whose writer is gone (kill -9, power cut): every upload it
 * left unfinished is completed when its bytes and attr.json are whole and agree (checksum and
 * size), else removed; a delete it left half-done is finished; its temporary files are removed.
 * Journals of live processes (another API process on this host) are left alone.
 */
export async function replayJournals(db: Sql, element: LocalElement, logger: Logger): Promise<ReplayReport> {
  const report: ReplayReport = { completed: [], removed: [], deletesFinished: [], tempFilesRemoved: 0 };
  const journals = await readJournals(element.root);
  const live = new Set<string>([element.bootId]);
  for (const journal of journals) {
    if (journal.boot === element.bootId || writerAlive(journal)) {
      live.add(journal.boot);
      continue;
    }
    for (const entry of journal.aborted) {
      if (entry.kind === 'upload') {
        await removeUpload(db, element, entry.id, 'upload rolled back; removal finished at recovery');
        report.removed.push(entry.id);
      }
    }
    for (const entry of journal.unfinished) {
      if (entry.kind === 'delete') {
        // The delete committed in the database (the row is gone): finish removing the bytes.
        if (!(await store.getFile(db, entry.id))) {
          await element.removeFile(entry.id);
          report.deletesFinished.push(entry.id);
        }
      } else if (await completeUpload(db, element, entry.id)) {
        report.completed.push(entry.id);
      } else {
        await removeUpload(
          db,
          element,
          entry.id,
          'upload interrupted before it was durable; removed at recovery',
        );
        report.removed.push(entry.id);
      }
    }
    await removeJournal(journal.path);
  }
  // No temporary file of a dead writer survives.
  const tempDir = join(element.root, TEMP_DIR);
  for (const name of await readdir(tempDir).catch(() => [] as string[])) {
    if (live.has(name.split('.')[0]!)) continue;
    await rm(join(tempDir, name), { force: true });
    report.tempFilesRemoved += 1;
  }
  await syncDirectory(tempDir).catch(() => {});
  if (
    report.completed.length +
      report.removed.length +
      report.deletesFinished.length +
      report.tempFilesRemoved >
    0
  )
    logger.warn({ module: 'files', element: element.id, ...report }, 'write-ahead log replayed');
  return report;
}

/** True when the upload is whole on disk (and is now in the cache); false when it must go. */
async function completeUpload(db: Sql, element: LocalElement, fileId: string): Promise<boolean> {
  let attr: Awaited<ReturnType<LocalElement['readAttr']>>;
  try {
    attr = await element.readAttr(fileId);
  } catch {
    return false;
  }
  if (attr.file_id !== fileId || attr.storage_element_id !== element.id) return false;
  if ((await element.dataSize(fileId)) !== attr.size_bytes) return false;
  if ((await element.hashData(fileId).catch(() => '')) !== attr.checksum) return false;
  // The directory fsync may not have happened before the crash: make the entries durable now.
  const paths = element.paths(fileId);
  await syncDirectory(paths.dir);
  await syncDirectory(paths.inner);
  await db.begin(async (tx) => {
    if (!(await store.insertFile(tx, attr))) return;
    await publish(tx, {
      topic: FilesTopics.fileStored,
      key: fileId,
      payload: { fileId, storageElementId: element.id, sizeBytes: attr.size_bytes, checksum: attr.checksum },
    });
    await appendAudit(tx, {
      ...SYSTEM,
      action: 'file.upload',
      resource: `file:${fileId}`,
      result: 'success',
      reason: 'completed at recovery from the write-ahead log',
      metadata: {
        filename: attr.filename,
        size_bytes: attr.size_bytes,
        checksum: attr.checksum,
        storage_element_id: element.id,
      },
    });
  });
  return true;
}

async function removeUpload(db: Sql, element: LocalElement, fileId: string, reason: string): Promise<void> {
  await removeCacheRow(db, fileId, SYSTEM, reason);
  await element.removeFile(fileId);
}
