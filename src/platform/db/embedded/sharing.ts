import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedPostgresError } from './errors.ts';
import { isSameProcess, processIdentity } from './processes.ts';

/**
 * Several boxoffice processes may use one embedded server (`start` and an `import` beside it, an
 * `api` and a `worker`). Each registers as a user of DATA_DIR's server while it uses it; the last
 * one to leave stops it, whoever started it. A server nobody alive uses was left behind (kill -9)
 * and is adopted by the next process. Deciding "start or use" and "leave or stop" happens under one
 * lock per DATA_DIR, so a process never joins a server that is being stopped.
 */
export interface Registration {
  /** Unregisters; answers whether other live processes still use the server. */
  leave(): { othersRemain: boolean; others: number[] };
}

export function register(dataDir: string): Registration {
  const dir = usersDir(dataDir);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(entry, processIdentity(process.pid));
  return {
    leave() {
      rmSync(entry, { force: true });
      const others = liveUsers(dataDir);
      return { othersRemain: others.length > 0, others };
    },
  };
}

/** Pids of the live processes registered on DATA_DIR's server; entries of dead ones are removed. */
export function liveUsers(dataDir: string): number[] {
  const dir = usersDir(dataDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = Number.parseInt(name, 10);
    let identity = '';
    try {
      identity = readFileSync(join(dir, name), 'utf8');
    } catch {
      continue; // removed meanwhile
    }
    if (Number.isInteger(pid) && isSameProcess(pid, identity)) pids.push(pid);
    else rmSync(join(dir, name), { force: true });
  }
  return pids;
}

const LOCK_WAIT_MS = 120_000;

/** Runs `critical` holding DATA_DIR's lock; a lock whose holder died is taken over. */
export async function withLock<T>(dataDir: string, critical: () => Promise<T>): Promise<T> {
  const lock = lockFile(dataDir);
  const until = Date.now() + LOCK_WAIT_MS;
  while (!tryLock(lock)) {
    if (Date.now() > until)
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: ${lock} is still held after ${LOCK_WAIT_MS / 1000} s by another boxoffice process starting or stopping the server; remove it if no boxoffice process runs`,
      );
    await sleep(50);
  }
  try {
    return await critical();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** One attempt, for a process exiting (no waiting possible): undefined when the lock is busy. */
export function withLockNow<T>(dataDir: string, critical: () => T): T | undefined {
  const lock = lockFile(dataDir);
  if (!tryLock(lock)) return undefined;
  try {
    return critical();
  } finally {
    rmSync(lock, { force: true });
  }
}

function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, `${process.pid} ${processIdentity(process.pid)}`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let holder: string;
  try {
    holder = readFileSync(lock, 'utf8');
  } catch {
    return false; // released meanwhile: try again
  }
  const [pid, identity = ''] = holder.split(' ');
  // An empty file is a holder between creating and writing it: alive. A dead holder's lock is stale.
  // (Two processes breaking the same stale lock at once could remove the lock one of them took
  // next; that needs a holder killed inside its few milliseconds of holding, and is accepted.)
  if (holder !== '' && !isSameProcess(Number(pid), identity)) rmSync(lock, { force: true });
  return false;
}

const usersDir = (dataDir: string) => resolve(dataDir, 'pg.users');
const lockFile = (dataDir: string) => resolve(dataDir, 'pg.lock');
