import type { FileHandle } from 'node:fs/promises';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { syncDirectory } from './durable.ts';
import { WAL_DIR } from './layout.ts';

/**
 * The write-ahead log of one process on one element: `<element>/.wal/<bootId>.wal`, JSON lines.
 * It lives on the element's own disk, so it can never claim more than that disk holds, and it is
 * replayed without the database (which is only told after the bytes are durable).
 *
 * Records: `open` (who writes this log), `begin` (an upload or delete starts: fsynced before any
 * byte is written), `commit` (done), `abort` (rolled back: fsynced before the compensation runs).
 * Appends from concurrent requests share one fsync (group commit). A commit record is not fsynced:
 * a lost one only makes the next boot verify a finished upload again, which is idempotent.
 */
export type JournalRecord =
  | { op: 'open'; pid: number; host: string; boot: string; at: string }
  | { op: 'begin'; kind: 'upload' | 'delete'; id: string; at: string }
  | { op: 'commit'; id: string }
  | { op: 'abort'; id: string };

/** Boot ids of the journals this process has open (several platforms share a process in tests). */
const openHere = new Set<string>();

/** Past this size a journal with no open entry is emptied, so it never grows without bound. */
const RESET_BYTES = 8 * 1024 * 1024;

interface Pending {
  line: string;
  durable: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class Journal {
  private queue: Pending[] = [];
  private running = false;
  private broken: Error | undefined;
  private open = new Set<string>();
  private size = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    private readonly header: string,
  ) {}

  static async create(elementRoot: string, bootId: string): Promise<Journal> {
    const dir = join(elementRoot, WAL_DIR);
    const path = join(dir, `${bootId}.wal`);
    const handle = await open(path, 'wx', 0o640);
    const header = line({ op: 'open', pid: process.pid, host: hostname(), boot: bootId, at: now() });
    const journal = new Journal(handle, path, header);
    await handle.write(header);
    await handle.sync();
    journal.size = header.length;
    await syncDirectory(dir);
    openHere.add(bootId);
    return journal;
  }

  /** Durable before it resolves: only then may the first byte of the upload be written. */
  begin(id: string, kind: 'upload' | 'delete'): Promise<void> {
    this.open.add(id);
    return this.append({ op: 'begin', kind, id, at: now() }, true);
  }

  commit(id: string): Promise<void> {
    this.open.delete(id);
    return this.append({ op: 'commit', id }, false);
  }

  /** Durable before it resolves: the compensation that follows is then finished by replay if we die. */
  abort(id: string): Promise<void> {
    this.open.delete(id);
    return this.append({ op: 'abort', id }, true);
  }

  /** Ids begun and neither committed nor aborted in this process. */
  openIds(): ReadonlySet<string> {
    return this.open;
  }

  async close(): Promise<void> {
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.handle.close();
    openHere.delete(JSON.parse(this.header).boot);
    // A journal with nothing open tells replay nothing: a clean stop leaves none behind.
    if (this.open.size === 0 && !this.broken) await rm(this.path, { force: true });
  }

  private append(record: JournalRecord, durable: boolean): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ line: line(record), durable, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        if (this.broken) throw this.broken;
        const text = batch.map((p) => p.line).join('');
        await this.handle.write(text, this.size, 'utf8');
        this.size += Buffer.byteLength(text);
        if (batch.some((p) => p.durable)) await this.handle.sync();
        if (this.open.size === 0 && this.size > RESET_BYTES && this.queue.length === 0) await this.reset();
        for (const pending of batch) pending.resolve();
      } catch (error) {
        // A journal that failed once is not trusted again: the element takes no more writes here.
        this.broken ??= new Error(`write-ahead log ${this.path} failed: ${(error as Error).message}`);
        for (const pending of batch) pending.reject(this.broken);
      }
    }
    this.running = false;
  }

  private async reset(): Promise<void> {
    await this.handle.truncate(0);
    await this.handle.write(this.header, 0, 'utf8');
    await this.handle.sync();
    this.size = this.header.length;
  }
}

/** What one journal says, read back at boot. */
export interface JournalContents {
  path: string;
  boot: string;
  pid: number;
  host: string;
  /** Entries begun and neither committed nor aborted, in order. */
  unfinished: { id: string; kind: 'upload' | 'delete' }[];
  /** Entries aborted (their compensation may not have finished). */
  aborted: { id: string; kind: 'upload' | 'delete' }[];
}

/**
 * Reads every journal of an element. A torn last line (the process died mid-append) is ignored:
 * its begin was never acknowledged, so nothing was written after it.
 */
export async function readJournals(elementRoot: string): Promise<JournalContents[]> {
  const dir = join(elementRoot, WAL_DIR);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.wal'));
  const journals: JournalContents[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const text = await readFile(path, 'utf8').catch(() => '');
    const contents: JournalContents = {
      path,
      boot: name.slice(0, -'.wal'.length),
      pid: 0,
      host: '',
      unfinished: [],
      aborted: [],
    };
    const begun = new Map<string, 'upload' | 'delete'>();
    const aborted = new Map<string, 'upload' | 'delete'>();
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(raw) as JournalRecord;
      } catch {
        continue;
      }
      if (record.op === 'open') {
        contents.pid = record.pid;
        contents.host = record.host;
      } else if (record.op === 'begin') begun.set(record.id, record.kind);
      else if (record.op === 'commit') begun.delete(record.id);
      else if (record.op === 'abort') {
        const kind = begun.get(record.id);
        begun.delete(record.id);
        if (kind) aborted.set(record.id, kind);
      }
    }
    contents.unfinished = [...begun].map(([id, kind]) => ({ id, kind }));
    contents.aborted = [...aborted].map(([id, kind]) => ({ id, kind }));
    journals.push(contents);
  }
  return journals;
}

/** True when the process that wrote a journal may still be running (same host, pid alive). */
export function writerAlive(journal: Pick<JournalContents, 'pid' | 'host' | 'boot'>): boolean {
  if (journal.host !== hostname() || journal.pid <= 0) return false;
  if (journal.pid === process.pid) return openHere.has(journal.boot);
  try {
    process.kill(journal.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function removeJournal(path: string): Promise<void> {
  await rm(path, { force: true });
}

const line = (record: JournalRecord) => `${JSON.stringify(record)}\n`;
const now = () => new Date().toISOString();
