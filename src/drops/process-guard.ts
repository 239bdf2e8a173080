import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import postgres from 'postgres';

/** Any stable number: the drops module's advisory lock ("drop"). */
const LOCK_KEY = 0x64726f70;
const ACQUIRE_TIMEOUT_MS = 10_000;
const CHECK_EVERY_MS = 10_000;

export type GuardMode = 'exclusive' | 'shared';

export class UnsafeDeploymentError extends Error {
  override name = 'UnsafeDeploymentError';
}

export interface ProcessGuard {
  release(): Promise<void>;
}

/**
 * Refuses an unsafe deployment instead of overselling. The in-memory authority is correct only if it is
 * the only process serving sales on a database, so it holds this advisory lock exclusively; processes
 * using Redis hold it shared, so any number of them can run together, but never beside an in-memory one.
 *
 * The lock lives in a session on a dedicated connection (never recycled by a pool), so it is released
 * when the process exits or is killed: PostgreSQL drops the session when its socket closes. The session
 * is checked every 10 s and the lock taken again if the connection was replaced.
 */
export async function acquireProcessGuard(
  databaseUrl: string,
  mode: GuardMode,
  logger: Logger,
  timeoutMs = ACQUIRE_TIMEOUT_MS,
): Promise<ProcessGuard> {
  const db = postgres(databaseUrl, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: 0,
    prepare: false,
    connection: { application_name: `boxoffice:${process.pid}:drops-guard` },
    onnotice: () => {},
  });
  const tryLock = async (): Promise<boolean> => {
    const [row] =
      mode === 'exclusive'
        ? await db<{ ok: boolean }[]>`select pg_try_advisory_lock(${LOCK_KEY}) as ok`
        : await db<{ ok: boolean }[]>`select pg_try_advisory_lock_shared(${LOCK_KEY}) as ok`;
    return row?.ok === true;
  };
  try {
    const deadline = Date.now() + timeoutMs;
    // A process killed a moment ago may still hold it until PostgreSQL notices its socket closed.
    while (!(await tryLock())) {
      if (Date.now() > deadline) throw new UnsafeDeploymentError(refusal(mode));
      await sleep(Math.min(200, timeoutMs));
    }
  } catch (error) {
    await db.end({ timeout: 1 });
    throw error;
  }

  const check = setInterval(async () => {
    try {
      const [row] = await db<{ held: boolean }[]>`
        select exists (select 1 from pg_locks
                       where locktype = 'advisory' and pid = pg_backend_pid() and objid = ${LOCK_KEY}) as held`;
      if (row?.held) return;
      if (!(await tryLock())) logger.error(refusal(mode));
    } catch (error) {
      logger.warn({ err: error }, 'drops: could not check the process guard');
    }
  }, CHECK_EVERY_MS);
  check.unref();

  return {
    async release() {
      clearInterval(check);
      await db.end({ timeout: 2 });
    },
  };
}

function refusal(mode: GuardMode): string {
  return mode === 'exclusive'
    ? 'drops: another API process is already serving sales on this database. Without REDIS_URL the live ' +
        'inventory is kept in one process and a second one would oversell: set REDIS_URL on every API ' +
        'process to run several (or DROPS_ENABLED=false on the extra ones).'
    : 'drops: an API process without REDIS_URL is serving sales on this database (in-process inventory); ' +
        'set REDIS_URL on every API process, or stop that one.';
}
