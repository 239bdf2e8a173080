import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Cache } from './cache/cache.ts';
import type { Sql } from './db/client.ts';
import type { HttpApp } from './http/types.ts';
import type { ImportFileReport } from './import/report.ts';
import type { CronSchedule, JobHandler, JobQueue } from './jobs/index.ts';
import type { ConsumerSpec } from './outbox/index.ts';
import type { Redis } from './redis.ts';
import type { SeedContext, SeedProfile } from './seeding.ts';

/** What the platform hands every module: built once at boot, shared by all. */
export interface Platform {
  config: Config;
  logger: Logger;
  db: Sql;
  /** Where `db` points (embedded or DATABASE_URL), for libraries that open their own pool. */
  databaseUrl: string;
  cache: Cache;
  /** Present when REDIS_URL is set: for shared hot state across API processes (Lua scripts etc.). */
  redis: Redis | undefined;
  jobs: JobQueue;
  /** This process's Prometheus registry, served at /metrics: modules add their own metrics to it. */
  metrics: Registry;
}

/**
 * A product module (catalog, booking, drops, notify…): everything it adds to the process.
 * Routes are registered as an encapsulated Fastify plugin, so a module's hooks, error
 * handler and body parsers stay inside it.
 */
export interface BoxofficeModule {
  name: string;
  routes?: (app: HttpApp, platform: Platform) => Promise<void>;
  /** Job handlers by task name (run by `start` and `worker`). */
  tasks?: (platform: Platform) => Record<string, JobHandler>;
  cron?: CronSchedule[];
  /** Outbox consumers (run by `start` and `worker`). */
  consumers?: (platform: Platform) => ConsumerSpec[];
  /** Background work of the API role, e.g. write batchers; `stop` must flush it. */
  start?: (platform: Platform) => Promise<{ stop(): Promise<void> }>;
  /**
   * Long-running work of the `start` and `worker` roles beside jobs and consumers (e.g. the notify delivery
   * workers); `stop` must let work in flight finish or hand it back.
   */
  background?: (platform: Platform) => Promise<{ stop(): Promise<void> }>;
  /**
   * Generates this module's share of the data for `boxoffice seed` (and the first start's demo
   * data). Deterministic for `profile.seed`; safe to re-run (fills up to the profile, never
   * duplicates). Modules seed in registration order, so later ones may rely on earlier ones.
   */
  seed?: (context: SeedContext, profile: SeedProfile) => Promise<void>;
  /**
   * Loads the files of the public data release this module knows from `dir` (`boxoffice import`),
   * plain or .gz, unchanged and streaming (`platform/import/release-file.ts`); returns what it did
   * with each file it read, or nothing when none of its files are there. A re-run must be safe: rows
   * already there are skipped and reported so.
   */
  import?: (context: SeedContext, dir: string) => Promise<ImportFileReport[]>;
  /**
   * What this module keeps in one process's memory when REDIS_URL is unset, which several processes would
   * split (oversell, N× the limits): `--processes N` names it when it refuses to start without REDIS_URL.
   */
  memoryState?: (config: Config) => string | undefined;
  /** True when this module has data already, so the first start knows whether to seed the demo. */
  hasData?: (db: Sql) => Promise<boolean>;
}
