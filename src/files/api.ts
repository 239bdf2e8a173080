import type { Readable } from 'node:stream';
import type { AuditEntryInput } from '../platform/audit/index.ts';
import type { Platform } from '../platform/context.ts';
import { filesService } from './service.ts';

/**
 * The files module's surface for other modules (tickets, notify…). Routes use the same service;
 * nothing else of src/files is meant to be imported from outside.
 */

export interface StoredFile {
  fileId: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  /** "sha256:<hex>" */
  checksum: string;
  storageElementId: string;
  createdAt: string;
  metadata: Record<string, unknown>;
}

/** Stores a file through the full write protocol; resolves once it is durable (what a 201 means). */
export async function putFile(
  platform: Platform,
  input: {
    filename: string;
    contentType: string;
    body: Readable | Buffer;
    metadata?: Record<string, unknown>;
    actor: Pick<AuditEntryInput, 'actorType' | 'actorId'>;
  },
): Promise<StoredFile> {
  const service = await filesService(platform);
  return service.put({
    filename: input.filename,
    contentType: input.contentType,
    body: input.body,
    metadata: input.metadata ?? {},
    actor: input.actor,
  });
}

export async function getFileInfo(platform: Platform, fileId: string): Promise<StoredFile | undefined> {
  const service = await filesService(platform);
  return service.info(fileId);
}

/** A read stream of the bytes (optionally a byte range, inclusive). */
export async function openFileStream(
  platform: Platform,
  fileId: string,
  range?: { start: number; end: number },
): Promise<Readable> {
  const service = await filesService(platform);
  return service.open(fileId, range);
}
