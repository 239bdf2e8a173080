import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Binaries } from './binaries.ts';
import { EmbeddedPostgresError } from './errors.ts';
import { commandName, isAlive } from './processes.ts';
import type { ServerUser } from './server-user.ts';

/** What a running server wrote in its postmaster.pid (see PostgreSQL's miscadmin.h, LOCK_FILE_LINE_*). */
export interface Postmaster {
  pid: number;
  port: number;
  /** `starting`, `ready`, `stopping` or `standby`. */
  status: string;
}

// Messages in English whatever the machine's locale: the errors we report quote them.
const ENV = { LC_MESSAGES: 'C' };

/** The live server of `pgDir`, or undefined when none runs (a stale postmaster.pid is PostgreSQL's to handle). */
export function runningPostmaster(pgDir: string): Postmaster | undefined {
  const file = join(pgDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // After a reboot the file's pid may name some other process: never adopt (nor signal) that.
  const name = commandName(pid);
  if (name !== undefined && name !== 'postgres') return undefined;
  return { pid, port: Number.parseInt(lines[3] ?? '', 10), status: (lines[7] ?? '').trim() };
}

export interface InitOptions {
  binaries: Binaries;
  user: ServerUser | undefined;
  pgDir: string;
  superuser: string;
  password: string;
  flags: string[];
}

/** Creates the cluster with initdb; a failure names initdb's own last words. */
export async function initCluster(options: InitOptions): Promise<void> {
  // Beside the cluster, which the server's user reaches (a temp dir may be private to us).
  const passwordFile = join(dirname(options.pgDir), `.pg-password-${process.pid}`);
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o644 });
  try {
    const args = [
      `--pgdata=${options.pgDir}`,
      '--auth=password',
      `--username=${options.superuser}`,
      `--pwfile=${passwordFile}`,
      ...options.flags,
    ];
    const child = spawn(options.binaries.initdb, args, {
      ...spawnAs(options.user),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', (error) => reject(cannotRun(options.binaries.initdb, options.user, error)));
      child.on('close', resolve);
    });
    if (code !== 0)
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: initdb of ${options.pgDir} failed (exit ${code}: ${lastLine(output)}); remove that directory, or set DATA_DIR elsewhere`,
      );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

export interface StartOptions {
  binaries: Binaries;
  user: ServerUser | undefined;
  pgDir: string;
  port: number;
  flags: string[];
  /** The server's stdout and stderr: a file, so it can outlive us (another process may go on using it). */
  logFile: string;
}

/**
 * Starts the server in its own session (a Ctrl-C in our terminal must not stop it under a graceful
 * drain, nor under another process still using it) and waits until it accepts connections.
 */
export async function startServer(options: StartOptions): Promise<Postmaster> {
  const log = openSync(options.logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      options.binaries.postgres,
      ['-D', options.pgDir, '-p', String(options.port), ...options.flags],
      {
        ...spawnAs(options.user),
        detached: true,
        stdio: ['ignore', log, log],
      },
    );
  } finally {
    closeSync(log);
  }
  child.unref();
  let failure: Error | undefined;
  child.on('error', (error) => {
    failure = cannotRun(options.binaries.postgres, options.user, error);
  });
  child.on('exit', (code, signal) => {
    failure ??= new EmbeddedPostgresError(
      `embedded PostgreSQL did not start on port ${options.port} (${signal ?? `exit ${code}`}: ${lastFatal(options.logFile)}); is the port taken? set EMBEDDED_PG_PORT, or see ${options.logFile}`,
    );
  });
  for (;;) {
    if (failure) throw failure;
    const postmaster = runningPostmaster(options.pgDir);
    if (postmaster && postmaster.pid === child.pid && postmaster.status === 'ready') return postmaster;
    await sleep(50);
  }
}

/** "Fast" shutdown (roll back sessions, checkpoint, exit); resolves once it is gone or `timeoutMs` passed. */
export async function stopServer(pid: number, timeoutMs = 30_000): Promise<boolean> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return true;
  }
  return waitUntilGone(pid, timeoutMs);
}

export async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

function spawnAs(user: ServerUser | undefined) {
  return { env: ENV, ...(user ? { uid: user.uid, gid: user.gid } : {}) };
}

function cannotRun(file: string, user: ServerUser | undefined, error: NodeJS.ErrnoException): Error {
  return new EmbeddedPostgresError(
    `embedded PostgreSQL: cannot run ${file}${user ? ` as the ${user.name} user` : ''} (${error.code ?? error.message}); set DATABASE_URL to use another PostgreSQL`,
  );
}

function lastLine(output: string): string {
  return output.trim().split('\n').at(-1)?.trim() || 'no output';
}

function lastFatal(logFile: string): string {
  const lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n') : [];
  return (
    lines.findLast((line) => /\b(FATAL|PANIC|ERROR):/.test(line)) ??
    lines.at(-1) ??
    'no output'
  ).trim();
}
