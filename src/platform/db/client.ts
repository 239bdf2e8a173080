import type { Logger } from 'pino';
import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A transaction handle: store functions take one so the service owns the boundary. */
export type Tx = postgres.TransactionSql;
/** Either a pool or a transaction: for statements that work in both. */
export type Queryable = Sql | Tx;

export interface DbOptions {
  url: string;
  max: number;
  connectTimeoutSeconds: number;
  logger: Logger;
}

/** The process's PostgreSQL pool. `application_name` carries the pid so metrics can find our sessions. */
export function createDb(options: DbOptions): Sql {
  const log = options.logger.child({ component: 'db' });
  return postgres(options.url, {
    max: options.max,
    connect_timeout: options.connectTimeoutSeconds,
    idle_timeout: 60,
    prepare: true,
    connection: { application_name: applicationName() },
    onnotice: (notice) => log.debug({ notice: notice.message }, 'postgres notice'),
  });
}

export function applicationName(): string {
  return `boxoffice:${process.pid}`;
}

/** Checks the server answers; the error names what is wrong without leaking the password. */
export async function assertReachable(sql: Sql, url: string): Promise<void> {
  try {
    await sql`select 1`;
  } catch (error) {
    const reason = (error as { code?: string; message?: string }).code ?? (error as Error).message;
    throw new Error(
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${reason} (${(error as Error).message})`,
    );
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
