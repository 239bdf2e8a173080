import { join } from 'node:path';

/**
 * Where a file lives in its element: `<root>/<id[0..2]>/<id[2..4]>/<id>/` holding `data` and
 * `attr.json`. Two levels of 256 fan-out directories keep every directory small (100 million
 * files are ~1,500 per leaf directory), so no listing or lookup ever crawls millions of entries.
 */
export interface FilePaths {
  /** `<root>/ab` */
  outer: string;
  /** `<root>/ab/cd` */
  inner: string;
  /** `<root>/ab/cd/<id>` */
  dir: string;
  data: string;
  attr: string;
}

export const DATA_NAME = 'data';
export const ATTR_NAME = 'attr.json';
/** Journals (one per process) and temporary upload files: same disk, so renames stay atomic. */
export const WAL_DIR = '.wal';
export const TEMP_DIR = '.tmp';
/** The element's own description (id, mode): it travels with the disk. */
export const ELEMENT_FILE = 'element.json';

const FILE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isFileId(value: string): boolean {
  return FILE_ID.test(value);
}

export function filePaths(root: string, fileId: string): FilePaths {
  const outer = join(root, fileId.slice(0, 2));
  const inner = join(outer, fileId.slice(2, 4));
  const dir = join(inner, fileId);
  return { outer, inner, dir, data: join(dir, DATA_NAME), attr: join(dir, ATTR_NAME) };
}

export function tempDataPath(root: string, bootId: string, fileId: string): string {
  return join(root, TEMP_DIR, `${bootId}.${fileId}.data`);
}

/** Fan-out directory names: two lowercase hex digits. */
export const FAN_OUT = /^[0-9a-f]{2}$/;
