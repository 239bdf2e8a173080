import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';

/** One data set's file in a release directory, e.g. `users.csv.gz`. */
export interface ReleaseFile {
  /** The file's name in the directory, as the report shows it. */
  name: string;
  path: string;
  /** The format inside, whatever the compression: `csv`, `json`, `sql`. */
  format: string;
  gzip: boolean;
  /** Size on disk (compressed for .gz): the progress bar counts these bytes. */
  bytes: number;
}

export interface FoundReleaseFile {
  file: ReleaseFile;
  /** Other files of the same data set in the directory, left unread because `file` is preferred. */
  ignored: string[];
}

/**
 * Finds the file of data set `base` in `dir`: formats in the given order of preference, and for each
 * the plain file before its `.gz` (a plain file beside a .gz is usually the same data unpacked). Only
 * one file per data set is read, so a directory holding several is deterministic; the others are
 * logged as ignored and returned for the report.
 */
export function findReleaseFile(
  dir: string,
  base: string,
  formats: readonly string[],
  logger: Logger,
): FoundReleaseFile | undefined {
  const present: ReleaseFile[] = [];
  for (const format of formats) {
    for (const gzip of [false, true]) {
      const name = `${base}.${format}${gzip ? '.gz' : ''}`;
      const path = join(dir, name);
      if (existsSync(path)) present.push({ name, path, format, gzip, bytes: statSync(path).size });
    }
  }
  const [file, ...others] = present;
  if (!file) return undefined;
  const ignored = others.map((other) => other.name);
  if (ignored.length > 0) {
    logger.warn({ file: file.name, ignored }, `import: reading ${file.name} only (one file per data set)`);
  }
  return { file, ignored };
}

/**
 * The file's bytes, decompressed when it is a .gz, streamed chunk by chunk (never the whole file).
 * `onBytes` is told how many bytes of the file on disk each chunk consumed, for progress. A read or
 * decompression failure is thrown naming the file.
 */
export async function* readReleaseChunks(
  file: ReleaseFile,
  onBytes: (bytes: number) => void = () => {},
): AsyncGenerator<Buffer> {
  const raw = createReadStream(file.path, { highWaterMark: 1 << 20 });
  // pipeline destroys both streams on a failure of either, so the iteration below sees it.
  const stream = file.gzip ? pipeline(raw, createGunzip(), () => {}) : raw;
  let reported = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      yield chunk;
      onBytes(raw.bytesRead - reported);
      reported = raw.bytesRead;
    }
  } catch (error) {
    throw new Error(describeReadError(file, error as NodeJS.ErrnoException), { cause: error });
  } finally {
    raw.destroy();
  }
}

function describeReadError(file: ReleaseFile, error: NodeJS.ErrnoException): string {
  if (file.gzip && typeof error.code === 'string' && error.code.startsWith('Z_')) {
    const what =
      error.code === 'Z_BUF_ERROR' ? 'is truncated (the gzip data ends early)' : 'is not valid gzip data';
    return `${file.name} ${what}: ${error.message}`;
  }
  return `${file.name}: cannot read the file: ${error.message}`;
}
