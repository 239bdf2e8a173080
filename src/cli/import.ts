import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { BoxofficeModule } from '../platform/context.ts';
import { createLogger } from '../platform/logger.ts';
import { migrateDatabase } from '../platform/migrations.ts';
import { createProgress } from '../platform/progress.ts';
import { type ModuleImportReport, runImport } from '../platform/seed-runner.ts';
import { withDatabase } from './migrate.ts';
import { UsageError } from './seed.ts';

export const IMPORT_HELP = `boxoffice import DIR [--json]
  Loads the public data release files found in DIR, unchanged and streaming: users.csv or
  users.sql, events.json or events.sql, events_archive.json or events_archive.sql, each also
  accepted gzip-compressed (users.csv.gz, events.sql.gz …). One file per data set is read: the
  formats in that order, a plain file before its .gz; any other is named and left unread.
  Rows already there (same id, or a user's email) are skipped, so a re-run is safe.
  Prints one line per file: rows read, inserted and skipped (and why). --json prints the same as
  one JSON object on stdout instead (logs then go to stderr).
  Exits 0 when it read at least one file, even if nothing was new; 1 when DIR holds none.
`;

export async function runImportCommand(
  config: Config,
  logger: Logger,
  modules: BoxofficeModule[],
  args: string[],
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const [dir, ...extra] = positionals;
  if (!dir) throw new UsageError('boxoffice import needs the directory of the release files');
  if (extra.length > 0)
    throw new UsageError(`boxoffice import takes one directory, not ${positionals.length}`);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`${dir} is not a directory`);
  // With --json, stdout is the answer alone.
  const log = values.json ? createLogger(config, 2) : logger;
  const files = await withDatabase(config, log, async (db, url) => {
    await migrateDatabase(db, url, log);
    return runImport(
      modules,
      { db, logger: log, progress: (label, total) => createProgress(log, label, total) },
      dir,
    );
  });
  // Not a UsageError (exit 2): the command was right, the directory holds nothing it knows.
  if (files.length === 0) throw new Error(`no release files found in ${dir}`);
  process.stdout.write(
    values.json ? `${JSON.stringify({ dir, files })}\n` : files.map(describeFile).join(''),
  );
  return 0;
}

/** `users.csv.gz: 3 read, 1 inserted, 2 skipped (2 already present)`, and any file left unread. */
export function describeFile(report: ModuleImportReport): string {
  const reasons = Object.entries(report.skippedBy).map(([reason, count]) => `${count} ${reason}`);
  const why = reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
  const ignored = report.ignored.map((name) => `; ${name} not read (one file per data set)`).join('');
  return `${report.file}: ${report.read} read, ${report.inserted} inserted, ${report.skipped} skipped${why}${ignored}\n`;
}
