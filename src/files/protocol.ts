import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AuditEntryInput } from '../platform/audit/index.ts';
import { appendAudit } from '../platform/audit/index.ts';
import type { Sql } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import type { AttrJson, FileMetadata } from './attr.ts';
import type { CacheWriter } from './cache-writer.ts';
import { syncDirectory } from './durable.ts';
import type { LocalElement } from './element.ts';
import { FilesErrors } from './errors.ts';
import { FilesTopics } from './events.ts';
import * as store from './store.ts';

/**
 * The write protocol of seed 002, in its order. Each step is named, so a test can make any one
 * of them fail (WriteHooks) and check that the rollback leaves nothing behind.
 */
export const WRITE_STEPS = [
  'wal-begin', // the intent, fsynced in the element's journal before any byte is written
  'temp-file', // the body streamed into .tmp/, SHA-256 and size computed on the way, digest checked
  'fsync', // the temporary file's bytes on the disk
  'rename', // atomic rename into <ab>/<cd>/<id>/data
  'attr-json', // attr.json beside it: temp, fsync, rename
  'dir-fsync', // the file's directory (and new fan-out parents): the renames survive a power cut
  'db-cache', // the database row, the audit entry and (after the next step's hook) …
  'discovery', // … the outbox event `file.stored`, in one transaction (group-committed: cache-writer.ts)
  'wal-commit', // the journal says: done
] as const;
export type WriteStep = (typeof WRITE_STEPS)[number];

/** Test seam: called before each step; a throw there is a failure of that step. */
export interface WriteHooks {
  beforeStep?(step: WriteStep, fileId: string): void | Promise<void>;
}

export interface UploadInput {
  filename: string;
  contentType: string;
  body: Readable | Buffer;
  /** A function when the metadata arrives after the bytes (multipart): called at the attr.json step. */
  metadata: FileMetadata | (() => Promise<FileMetadata>);
  actor: Pick<AuditEntryInput, 'actorType' | 'actorId'>;
  /** Base64 SHA-256 from Content-Digest, when the client sent one. */
  expectedSha256?: string | undefined;
  maxBytes: number;
}

export async function storeFile(
  db: Sql,
  cache: CacheWriter,
  element: LocalElement,
  input: UploadInput,
  hooks: WriteHooks,
): Promise<AttrJson> {
  const fileId = randomUUID();
  const journal = element.journal;
  if (!journal) throw FilesErrors.readOnly(`Storage element ${element.id} is not open for writes`);
  const step = async (name: WriteStep) => hooks.beforeStep?.(name, fileId);
  const done = { begun: false, temp: false, dir: false, db: false };
  let counted = 0;
  const release = () => {
    element.inFlightBytes -= counted;
    counted = 0;
  };
  const { capacityBytes, freeBytes } = await element.space();
  try {
    await step('wal-begin');
    await journal.begin(fileId, 'upload');
    done.begun = true;

    await step('temp-file');
    done.temp = true;
    const { handle, size, sha256 } = await element.streamToTemp(fileId, input.body, (total) => {
      if (total > input.maxBytes) throw FilesErrors.tooLarge(input.maxBytes);
      const grow = total - counted;
      if (total > freeBytes)
        throw FilesErrors.full(
          `Storage element ${element.id} is full (capacity ${capacityBytes} bytes, ${freeBytes} free when the upload started); nothing was stored`,
        );
      element.inFlightBytes += grow;
      counted = total;
    });
    try {
      if (input.expectedSha256 !== undefined && input.expectedSha256 !== sha256.toString('base64'))
        throw FilesErrors.digestMismatch(input.expectedSha256, sha256.toString('base64'));
      await step('fsync');
      await handle.sync();
    } finally {
      await handle.close();
    }

    await step('rename');
    done.dir = true;
    const dirsToSync = await element.makeFileDirectory(fileId);
    await element.installData(fileId);
    done.temp = false;

    await step('attr-json');
    const metadata = typeof input.metadata === 'function' ? await input.metadata() : input.metadata;
    const now = new Date().toISOString();
    const attr: AttrJson = {
      file_id: fileId,
      filename: input.filename,
      content_type: input.contentType,
      size_bytes: size,
      checksum: `sha256:${sha256.toString('hex')}`,
      storage_element_id: element.id,
      created_at: now,
      updated_at: now,
      metadata,
    };
    await element.writeAttr(attr, { syncDir: false });

    await step('dir-fsync');
    await Promise.all(dirsToSync.map((dir) => syncDirectory(dir)));

    await step('db-cache');
    // From here the row may exist even if the write reports a failure (a commit whose answer was lost):
    // the rollback then deletes it if it is there.
    done.db = true;
    await cache.write({ attr, actor: input.actor, beforeDiscovery: () => step('discovery') });

    await step('wal-commit');
    await journal.commit(fileId);
    release();
    element.usedBytes += size;
    element.files += 1;
    return attr;
  } catch (error) {
    release();
    // A rollback that fails half-way is finished by the next boot's replay (the abort is logged first).
    if (done.begun) await rollBack(db, element, fileId, done, input.actor).catch(() => {});
    throw error;
  }
}

/**
 * Undoes what an upload did, newest first. The abort is logged (fsynced) before anything is
 * undone, so a crash in the middle leaves replay a record that says "finish removing this".
 */
async function rollBack(
  db: Sql,
  element: LocalElement,
  fileId: string,
  done: { temp: boolean; dir: boolean; db: boolean },
  actor: Pick<AuditEntryInput, 'actorType' | 'actorId'>,
): Promise<void> {
  await element.journal?.abort(fileId).catch(() => {});
  if (done.db) await removeCacheRow(db, fileId, actor, 'upload rolled back after its row was written');
  if (done.dir) await element.removeFile(fileId);
  if (done.temp) await element.removeTemp(fileId);
}

/** Deletes a file's row with its `file.deleted` event and an audit entry (rollback and recovery). */
export async function removeCacheRow(
  db: Sql,
  fileId: string,
  actor: Pick<AuditEntryInput, 'actorType' | 'actorId'>,
  reason: string,
): Promise<void> {
  await db.begin(async (tx) => {
    if (!(await store.deleteFile(tx, fileId))) return;
    await publish(tx, { topic: FilesTopics.fileDeleted, key: fileId, payload: { fileId, reason } });
    await appendAudit(tx, {
      ...actor,
      action: 'file.upload',
      resource: `file:${fileId}`,
      result: 'failure',
      reason,
    });
  });
}
