import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { checkFiles } from '../files/check.ts';
import { rebuildCache } from '../files/rebuild.ts';
import { createProgress } from '../platform/progress.ts';
import { withDatabase } from './migrate.ts';

export const FILES_HELP = `boxoffice files rebuild [--json]
  Rebuilds the database cache of every configured storage element (FILES_ELEMENTS) from the
  attr.json files on its disk: rows added or corrected, rows of files gone from the disk removed.
  Idempotent; shows progress. Exit 0, or 1 when some directories had to be skipped.
boxoffice files check [--full] [--json]
  Reports missing bytes, orphans, unreadable attr.json, size mismatches and (with --full, which
  re-hashes every file) checksum mismatches, and cache rows that disagree with attr.json.
  Reads only. Exit 0 when it finds nothing, 1 when it finds anything.
`;

export async function runFilesCommand(config: Config, logger: Logger, rest: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (error) {
    process.stderr.write(`boxoffice files: ${(error as Error).message}\n\n${FILES_HELP}`);
    return 2;
  }
  const [action, ...extra] = parsed.positionals;
  const json = parsed.values.json === true;
  if ((action !== 'rebuild' && action !== 'check') || extra.length > 0) {
    process.stderr.write(FILES_HELP);
    return 2;
  }
  if (action === 'rebuild') {
    const report = await withDatabase(config, logger, (db) =>
      rebuildCache({ db, config }, (label, total) => createProgress(logger, label, total)),
    );
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(
        `rebuilt: ${report.scanned} scanned, ${report.inserted} inserted, ${report.updated} updated, ${report.unchanged} unchanged, ${report.removed} removed, ${report.skipped.length} skipped\n`,
      );
      for (const skip of report.skipped) process.stdout.write(`  skipped ${skip.fileId}: ${skip.reason}\n`);
    }
    return report.skipped.length > 0 ? 1 : 0;
  }
  const full = parsed.values.full === true;
  const report = await withDatabase(config, logger, (db) =>
    checkFiles(
      { db, config },
      { full, progress: json ? undefined : createProgress(logger, 'files check', 0) },
    ),
  );
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `files check (${full ? 'full: re-hashed' : 'quick: sizes'}): ${report.filesChecked} files on ${report.elements.join(', ')}, ${report.findings.length} problems\n`,
    );
    for (const f of report.findings)
      process.stdout.write(`  ${f.kind} ${f.element}${f.fileId ? ` ${f.fileId}` : ''}: ${f.detail}\n`);
  }
  return report.findings.length > 0 ? 1 : 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, full: { type: 'boolean' } },
  });
}
