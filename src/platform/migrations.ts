import type { Logger } from 'pino';
import type { Sql } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { migrateJobQueue } from './jobs/index.ts';

/** Brings a database to the current schema: our numbered SQL files, then the job queue's own. */
export async function migrateDatabase(db: Sql, databaseUrl: string, logger: Logger): Promise<void> {
  await migrate(db, logger);
  await migrateJobQueue(databaseUrl, logger);
}
