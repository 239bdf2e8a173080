import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { assertReachable, createDb } from '../platform/db/client.ts';
import { startEmbeddedPostgres } from '../platform/db/embedded.ts';
import { migrateDatabase } from '../platform/migrations.ts';

/** Opens the configured database (embedded when DATABASE_URL is unset), runs `use`, closes it all. */
export async function withDatabase<T>(
  config: Config,
  logger: Logger,
  use: (db: ReturnType<typeof createDb>, url: string) => Promise<T>,
): Promise<T> {
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_PG_PORT, logger });
  const url = config.DATABASE_URL ?? embedded!.url;
  const db = createDb({ url, max: 2, connectTimeoutSeconds: config.DB_CONNECT_TIMEOUT_SECONDS, logger });
  try {
    await assertReachable(db, url);
    return await use(db, url);
  } finally {
    await db.end({ timeout: 5 });
    await embedded?.stop();
  }
}

export async function runMigrateCommand(config: Config, logger: Logger): Promise<number> {
  await withDatabase(config, logger, (db, url) => migrateDatabase(db, url, logger));
  logger.info('database is up to date');
  return 0;
}
