import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type AttrJson, parseAttr, serializeAttr } from './attr.ts';
import { replaceFileDurably, syncDirectory } from './durable.ts';
import type { ElementConfig } from './element-config.ts';
import { Journal } from './journal.ts';
import { FAN_OUT, type FilePaths, filePaths, isFileId, TEMP_DIR, tempDataPath, WAL_DIR } from './layout.ts';
import type { Mode } from './modes.ts';

/**
 * One storage element on a local disk: the byte-level operations of the write protocol, reads and
 * scans. Everything the service does to an element's disk goes through this class, so a remote
 * element (the storage-element role over HTTP, issue 12 item 7) can later take its place.
 */
export class LocalElement {
  mode: Mode;
  usedBytes = 0;
  files = 0;
  /** Bytes of uploads being streamed now: counted against the capacity before they land. */
  inFlightBytes = 0;
  journal: Journal | undefined;

  constructor(
    readonly config: ElementConfig,
    readonly bootId: string,
    mode: Mode,
  ) {
    this.mode = mode;
  }

  get id(): string {
    return this.config.id;
  }

  get root(): string {
    return this.config.path;
  }

  paths(fileId: string): FilePaths {
    return filePaths(this.root, fileId);
  }

  tempPath(fileId: string): string {
    return tempDataPath(this.root, this.bootId, fileId);
  }

  async prepareDirectories(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await mkdir(`${this.root}/${WAL_DIR}`, { recursive: true });
    await mkdir(`${this.root}/${TEMP_DIR}`, { recursive: true });
    await syncDirectory(this.root);
  }

  async openJournal(): Promise<void> {
    this.journal = await Journal.create(this.root, this.bootId);
  }

  /** Capacity and free space: the configured capacity, bounded by what the disk has left. */
  async space(): Promise<{ capacityBytes: number; freeBytes: number }> {
    const disk = await statfs(this.root);
    const diskFree = Number(disk.bavail) * Number(disk.bsize);
    const diskTotal = Number(disk.blocks) * Number(disk.bsize);
    const capacityBytes = this.config.capacityBytes > 0 ? this.config.capacityBytes : diskTotal;
    const quotaFree = Math.max(0, capacityBytes - this.usedBytes - this.inFlightBytes);
    return { capacityBytes, freeBytes: Math.min(quotaFree, diskFree) };
  }

  /**
   * Streams `body` into a new temporary file, hashing as it goes; calls `onChunk` (capacity and
   * size checks, which throw) before each write. Returns the open handle, for the fsync step.
   */
  async streamToTemp(
    fileId: string,
    body: Readable | Buffer,
    onChunk: (total: number) => void,
  ): Promise<{ handle: import('node:fs/promises').FileHandle; size: number; sha256: Buffer }> {
    const handle = await open(this.tempPath(fileId), 'wx', 0o640);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : body;
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += bytes.length;
        onChunk(size);
        hash.update(bytes);
        let offset = 0;
        while (offset < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null);
          offset += bytesWritten;
        }
      }
      return { handle, size, sha256: hash.digest() };
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  /** Creates the file's directory (and fan-out parents); returns the directories to fsync. */
  async makeFileDirectory(fileId: string): Promise<string[]> {
    const paths = this.paths(fileId);
    const first = await mkdir(paths.dir, { recursive: true });
    // The new directory's entry lives in its parent; a new parent's entry in the grandparent…
    const toSync = [paths.dir, paths.inner];
    if (first === paths.outer || first === this.root) toSync.push(paths.outer, this.root);
    else if (first === paths.inner) toSync.push(paths.outer);
    return [...new Set(toSync)];
  }

  async installData(fileId: string): Promise<void> {
    await rename(this.tempPath(fileId), this.paths(fileId).data);
  }

  /** attr.json written beside the data: temp, fsync, rename; never in place. */
  async writeAttr(attr: AttrJson, options: { syncDir: boolean }): Promise<void> {
    await replaceFileDurably(this.paths(attr.file_id).attr, serializeAttr(attr), {
      syncDir: options.syncDir,
    });
  }

  async readAttr(fileId: string): Promise<AttrJson> {
    return parseAttr(await readFile(this.paths(fileId).attr, 'utf8'));
  }

  async removeTemp(fileId: string): Promise<void> {
    await rm(this.tempPath(fileId), { force: true });
  }

  /** Removes a file's directory and makes the removal durable. */
  async removeFile(fileId: string): Promise<void> {
    const paths = this.paths(fileId);
    await rm(paths.dir, { recursive: true, force: true });
    await syncDirectory(paths.inner).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  openRead(fileId: string, range?: { start: number; end: number }): Readable {
    const path = this.paths(fileId).data;
    return createReadStream(path, range ? { start: range.start, end: range.end } : {});
  }

  async dataSize(fileId: string): Promise<number | undefined> {
    try {
      return (await stat(this.paths(fileId).data)).size;
    } catch {
      return undefined;
    }
  }

  async hashData(fileId: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.paths(fileId).data, { highWaterMark: 1 << 20 }))
      hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}`;
  }

  /** Every file directory of the element (ids), one fan-out directory at a time. */
  async *scanFileIds(): AsyncGenerator<{ id: string; unexpected?: string }> {
    for (const outer of (await readdir(this.root)).sort()) {
      if (!FAN_OUT.test(outer)) continue;
      for (const inner of (await readdir(`${this.root}/${outer}`).catch(() => [])).sort()) {
        if (!FAN_OUT.test(inner)) continue;
        for (const name of (await readdir(`${this.root}/${outer}/${inner}`).catch(() => [])).sort()) {
          if (isFileId(name) && name.startsWith(outer + inner)) yield { id: name };
          else yield { id: name, unexpected: `${outer}/${inner}/${name}` };
        }
      }
    }
  }
}
