import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { JobQueue, listDeadLetters, retryDeadLetter } from '../platform/jobs/index.ts';
import { withDatabase } from './migrate.ts';

interface Parsed {
  values: { task?: string | undefined; limit?: string | undefined };
  positionals: string[];
}

/** `jobs dead-letters` prints one JSON line per dead letter; `jobs retry <id>` re-enqueues one. */
export async function runJobsCommand(config: Config, logger: Logger, args: Parsed): Promise<number> {
  const [action, id] = args.positionals;
  if (action === 'dead-letters') {
    const limit = Number(args.values.limit ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10000) {
      process.stderr.write('boxoffice jobs: --limit must be a whole number from 1 to 10000\n');
      return 2;
    }
    const letters = await withDatabase(config, logger, (db) =>
      listDeadLetters(db, { limit, ...(args.values.task ? { task: args.values.task } : {}) }),
    );
    for (const letter of letters) process.stdout.write(`${JSON.stringify(letter)}\n`);
    return 0;
  }
  if (action === 'retry' && id && /^\d+$/.test(id)) {
    const retried = await withDatabase(config, logger, (db) =>
      retryDeadLetter(db, new JobQueue(config.JOB_MAX_ATTEMPTS), id),
    );
    if (!retried) process.stderr.write(`boxoffice jobs: no dead letter ${id} waiting to be retried\n`);
    return retried ? 0 : 1;
  }
  process.stderr.write(
    'usage: boxoffice jobs dead-letters [--task NAME] [--limit N] | boxoffice jobs retry <id>\n',
  );
  return 2;
}
