import { runMigrations } from 'graphile-worker';
import type { Logger } from 'pino';

/** Installs or upgrades graphile-worker's own schema (`graphile_worker`); it locks on its own. */
export async function migrateJobQueue(connectionString: string, logger: Logger): Promise<void> {
  const { Logger: GraphileLogger } = await import('graphile-worker');
  const log = logger.child({ component: 'jobs' });
  await runMigrations({
    connectionString,
    logger: new GraphileLogger(
      () => (level, message) => (level === 'error' ? log.error(message) : log.debug(message)),
    ),
  });
}
