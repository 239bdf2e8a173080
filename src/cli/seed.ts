import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { BoxofficeModule } from '../platform/context.ts';
import { migrateDatabase } from '../platform/migrations.ts';
import { createProgress } from '../platform/progress.ts';
import { runSeed } from '../platform/seed-runner.ts';
import { SEED_PROFILES, type SeedProfile } from '../platform/seeding.ts';
import { withDatabase } from './migrate.ts';

export const SEED_HELP = `boxoffice seed [--profile full|demo] [--seed N] [--users N] [--events N] [--archive N]
  Generates data of the hackload release's shape: users, current events, the events archive and
  the seat maps (event 1: 100,000 seats in five zones). Deterministic for a given --seed; safe to
  re-run (fills up to the requested sizes, never duplicates). Default profile: full
  (1,000,000 users, 10,000 events, 6,000,000 archive events).
`;

const COUNT = /^\d+$/;

export async function runSeedCommand(
  config: Config,
  logger: Logger,
  modules: BoxofficeModule[],
  args: string[],
) {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: 'string', default: 'full' },
      seed: { type: 'string' },
      users: { type: 'string' },
      events: { type: 'string' },
      archive: { type: 'string' },
    },
  });
  const base = SEED_PROFILES[values.profile as keyof typeof SEED_PROFILES];
  if (!base) throw new UsageError(`--profile must be full or demo, not "${values.profile}"`);
  const count = (name: 'seed' | 'users' | 'events' | 'archive', fallback: number) => {
    const value = values[name];
    if (value === undefined) return fallback;
    if (!COUNT.test(value) || Number(value) > 1_000_000_000)
      throw new UsageError(`--${name} must be a whole number`);
    return Number(value);
  };
  const profile: SeedProfile = {
    name:
      values.profile === base.name && !values.users && !values.events && !values.archive
        ? base.name
        : 'custom',
    seed: count('seed', base.seed),
    users: count('users', base.users),
    currentEvents: count('events', base.currentEvents),
    archiveEvents: count('archive', base.archiveEvents),
  };
  await withDatabase(config, logger, async (db, url) => {
    await migrateDatabase(db, url, logger);
    await runSeed(
      modules,
      { db, logger, progress: (label, total) => createProgress(logger, label, total) },
      profile,
    );
  });
  return 0;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
