import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The disk primitives every write of the store goes through. Nothing is ever rewritten in place:
 * a new version is written beside the old one, fsynced, renamed over it, and the directory is
 * fsynced so the rename itself survives a power cut (the step MinIO once missed).
 */

/** fsync of a directory: makes the entries created, renamed or removed in it durable. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A temporary name beside `path`, unique per call, that no reader mistakes for the real file. */
export function tempNameBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` to a temporary file beside `path`, fsyncs it and renames it over `path`.
 * `syncDir: false` leaves the directory fsync to the caller (who may batch several renames).
 */
export async function replaceFileDurably(
  path: string,
  data: string | Buffer,
  options: { syncDir?: boolean } = {},
): Promise<void> {
  const temp = tempNameBeside(path);
  try {
    const handle = await open(temp, 'wx', 0o640);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (options.syncDir !== false) await syncDirectory(dirname(path));
}
