import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { createCache } from './cache/index.ts';
import type { BoxofficeModule, Platform } from './context.ts';
import { assertReachable, createDb, redactUrl } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { JetStreamEventSource, OutboxRelay, streamSettings } from './events/index.ts';
import { buildHttpApp } from './http/app.ts';
import type { HealthCheck } from './http/health.ts';
import { JobQueue, type JobRunner, startJobRunner } from './jobs/index.ts';
import { migrateDatabase } from './migrations.ts';
import { Outbox } from './outbox/index.ts';
import { createProgress } from './progress.ts';
import { assertRedisReachable, createRedis, type Redis } from './redis.ts';
import { seedDemoIfEmpty } from './seed-runner.ts';
import { startTracing } from './tracing/index.ts';

/**
 * Roles of a process. `start` is everything in one process; `api` serves HTTP; `worker` runs
 * jobs, cron and outbox consumers. Each role opens only what it uses.
 */
export type Role = 'start' | 'api' | 'worker';

export interface Running {
  platform: Platform;
  app?: FastifyInstance;
  /** `http://host:port` when the role serves HTTP. */
  url?: string;
  /** Graceful: stop accepting, finish in-flight work, flush, close connections. */
  stop(): Promise<void>;
}

type Closer = { name: string; close: () => Promise<unknown> };

export async function runRole(
  role: Role,
  config: Config,
  logger: Logger,
  modules: BoxofficeModule[],
): Promise<Running> {
  // Resources close in the reverse order they opened: HTTP first, the database last.
  const closers: Closer[] = [];
  const stop = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer.close();
      } catch (error) {
        logger.error({ err: error, resource: closer.name }, 'error while shutting down');
      }
    }
    closers.length = 0;
  };

  try {
    if (config.OTEL_EXPORTER_OTLP_ENDPOINT) {
      const tracing = startTracing({
        endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
        serviceName: config.OTEL_SERVICE_NAME,
        role,
        samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
        scheduleDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: config.OTEL_BSP_MAX_QUEUE_SIZE,
        logger,
      });
      // Closed last: the spans of the shutdown itself are sent too.
      closers.push({ name: 'tracing', close: () => tracing.flush() });
    }
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres({
        dataDir: config.DATA_DIR,
        port: config.EMBEDDED_PG_PORT,
        logger,
      });
      closers.push({ name: 'embedded postgres', close: () => embedded.stop() });
      databaseUrl = embedded.url;
      logger.info({ port: config.EMBEDDED_PG_PORT, dataDir: config.DATA_DIR }, 'embedded PostgreSQL running');
    }
    const db = createDb({
      url: databaseUrl,
      max: config.DB_POOL_MAX,
      connectTimeoutSeconds: config.DB_CONNECT_TIMEOUT_SECONDS,
      logger,
    });
    closers.push({ name: 'database pool', close: () => db.end({ timeout: 5 }) });
    await assertReachable(db, databaseUrl).catch((error: Error) => {
      throw new Error(`${config.DATABASE_URL ? 'DATABASE_URL: ' : ''}${error.message}`);
    });
    if (config.MIGRATE_ON_START) await migrateDatabase(db, databaseUrl, logger);
    if (config.SEED_DEMO_ON_START && role !== 'worker') {
      await seedDemoIfEmpty(modules, {
        db,
        logger,
        progress: (label, total) => createProgress(logger, label, total),
      });
    }

    let redis: Redis | undefined;
    if (config.REDIS_URL) {
      redis = createRedis(config.REDIS_URL, logger);
      closers.push({ name: 'redis', close: () => redis!.quit() });
      await assertRedisReachable(redis, config.REDIS_URL).catch((error: Error) => {
        throw new Error(`REDIS_URL: ${error.message}`);
      });
    }
    const cache = createCache({ redis, logger });
    closers.push({ name: 'cache', close: () => cache.close() });

    const platform: Platform = {
      config,
      logger,
      db,
      databaseUrl,
      cache,
      redis,
      jobs: new JobQueue(config.JOB_MAX_ATTEMPTS),
      metrics: new Registry(),
    };

    if (role === 'start' || role === 'worker') await startBackground(platform, modules, closers);
    for (const module of modules) {
      if (!module.start || role === 'worker') continue;
      const started = await module.start(platform);
      closers.push({ name: `module ${module.name}`, close: () => started.stop() });
    }

    if (role === 'worker') {
      logger.info({ role, database: redactUrl(databaseUrl) }, 'boxoffice worker running');
      return { platform, stop };
    }
    const healthChecks: Record<string, HealthCheck> = {
      database: async () => {
        await db`select 1`;
      },
    };
    if (config.REDIS_URL) healthChecks.redis = () => cache.ping();
    const app = await buildHttpApp({ platform, modules, healthChecks });
    closers.push({ name: 'http server', close: () => app.close() });
    await app.listen({ host: config.HOST, port: config.PORT });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
    logger.info(
      { role, url, admin: `${url}/admin/`, docs: `${url}/docs`, metrics: `${url}/metrics` },
      'boxoffice listening',
    );
    return { platform, app, url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Job runner, cron and outbox (sequencer + consumers) for the `start` and `worker` roles. */
async function startBackground(platform: Platform, modules: BoxofficeModule[], closers: Closer[]) {
  const { config, logger, db, databaseUrl } = platform;
  const outbox = new Outbox({ db, logger, pollMs: config.OUTBOX_POLL_MS, sequencer: true });
  const consumers = modules.flatMap((module) => module.consumers?.(platform) ?? []);
  if (config.EVENTS_CONSUMERS === 'outbox') for (const spec of consumers) outbox.subscribe(spec);
  await outbox.start();
  closers.push({ name: 'outbox', close: () => outbox.stop() });
  if (config.EVENTS_CONSUMERS === 'jetstream') {
    if (!config.EVENTS_NATS_URL)
      throw new Error('EVENTS_CONSUMERS=jetstream reads from NATS JetStream: set EVENTS_NATS_URL too');
    const source = new JetStreamEventSource({
      url: config.EVENTS_NATS_URL,
      settings: streamSettings(config),
      logger,
      leases: databaseUrl,
    });
    for (const spec of consumers) {
      source.subscribe({
        name: spec.name,
        topics: spec.topics,
        batchSize: spec.batchSize,
        // The handler's database effects commit before the ack: a crash in between redelivers the
        // event, and the handler's dedupe by event id makes that a no-op.
        handle: (event) => db.begin((tx) => spec.handler(event, tx)),
      });
    }
    await source.start().catch(async (error: Error) => {
      await source.stop();
      throw new Error(`EVENTS_NATS_URL: ${error.message}`);
    });
    closers.push({ name: 'jetstream consumers', close: () => source.stop() });
  }
  for (const module of modules) {
    if (!module.background) continue;
    const started = await module.background(platform);
    closers.push({ name: `module ${module.name} background`, close: () => started.stop() });
  }

  if (config.EVENTS_NATS_URL) {
    // Every `start` and `worker` process runs one; the cursor's row lock lets one work at a time.
    const relay = new OutboxRelay({
      db,
      logger,
      url: config.EVENTS_NATS_URL,
      settings: streamSettings(config),
      batchSize: config.EVENTS_NATS_BATCH,
      pollMs: config.OUTBOX_POLL_MS,
    });
    await relay.start().catch(async (error: Error) => {
      await relay.stop();
      throw new Error(`EVENTS_NATS_URL: ${error.message}`);
    });
    closers.push({ name: 'nats relay', close: () => relay.stop() });
  }

  const tasks = Object.assign({}, ...modules.map((m) => m.tasks?.(platform) ?? {}));
  const cron = modules.flatMap((m) => m.cron ?? []);
  if (Object.keys(tasks).length === 0) return;
  const runner: JobRunner = await startJobRunner({
    connectionString: databaseUrl,
    db,
    logger,
    concurrency: config.WORKER_CONCURRENCY,
    maxAttempts: config.JOB_MAX_ATTEMPTS,
    tasks,
    cron,
  });
  closers.push({ name: 'job runner', close: () => runner.stop() });
}
