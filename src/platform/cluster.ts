import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { BoxofficeModule } from './context.ts';
import { assertReachable, createDb } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { migrateDatabase } from './migrations.ts';
import { createProgress } from './progress.ts';
import type { Role } from './runtime.ts';
import { seedDemoIfEmpty } from './seed-runner.ts';

/**
 * `boxoffice start|api --processes N`: Node's cluster. The primary serves nothing itself; it prepares
 * what must exist once (embedded PostgreSQL, migrations, demo data, the gateway simulator), forks N HTTP
 * workers that share HOST:PORT and the contest port (the primary holds the listening sockets and deals
 * connections round-robin), and for `start` one more worker for the background work (jobs, cron, outbox
 * sequencer and consumers), so a crash in one never takes the other down. Each worker learns its role from
 * BOXOFFICE_CLUSTER_ROLE and runs `runRole` as a process of its own would.
 */

/** What a forked worker runs, given to it through its environment. */
export const CLUSTER_ROLE_ENV = 'BOXOFFICE_CLUSTER_ROLE';

/** A worker that lived this long before dying is restarted at once; quicker deaths back off. */
const HEALTHY_AFTER_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

export class ClusterRefusedError extends Error {
  override name = 'ClusterRefusedError';
}

/**
 * Why N processes without REDIS_URL would be unsafe: what the modules keep in one process's memory.
 * Empty when the combination is safe.
 */
export function memoryStateOf(config: Config, modules: BoxofficeModule[]): string[] {
  if (config.REDIS_URL) return [];
  return modules.flatMap((module) => module.memoryState?.(config) ?? []);
}

/** Refuses `--processes N` (N > 1) without REDIS_URL when a module's hot state would split. Before forking. */
export function assertClusterSafe(processes: number, config: Config, modules: BoxofficeModule[]): void {
  if (processes < 2) return;
  const split = memoryStateOf(config, modules);
  if (split.length === 0) return;
  throw new ClusterRefusedError(
    `--processes ${processes} needs REDIS_URL: without it each process keeps its own ${new Intl.ListFormat('en').format(split)} in memory; set REDIS_URL or run one process`,
  );
}

interface Slot {
  role: Role;
  index: number;
  worker: Worker;
  startedAt: number;
  ready: boolean;
  /** Consecutive quick deaths, for the backoff. */
  crashes: number;
}

/** Runs the primary until every worker has exited after a signal; resolves to the exit code. */
export async function runClusterPrimary(
  role: 'start' | 'api',
  processes: number,
  config: Config,
  logger: Logger,
  modules: BoxofficeModule[],
  /** `import.meta.url` of the CLI's entry: a restarted worker runs the code the primary runs. */
  entry?: string,
): Promise<number> {
  assertClusterSafe(processes, config, modules);
  const log = logger.child({ component: 'cluster' });
  const shared = await prepareShared(role, config, logger, modules);
  const env: Record<string, string> = {
    ...shared.env,
    MIGRATE_ON_START: 'false',
    SEED_DEMO_ON_START: 'false',
  };

  const slots = new Set<Slot>();
  let stopping = false;
  let everyoneReady = false;
  let failed: Error | undefined;
  let exitCode = 0;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  // bin/boxoffice.js rebuilds its bundle when src/ changes; workers run the primary's bundle, not a newer one.
  const bundle = entry?.startsWith('file:') && entry.endsWith('.mjs') ? fileURLToPath(entry) : undefined;
  const fork = (slotRole: Role, index: number, crashes: number) => {
    if (bundle && existsSync(bundle)) cluster.setupPrimary({ exec: bundle });
    const worker = cluster.fork({
      ...env,
      [CLUSTER_ROLE_ENV]: slotRole,
      BOXOFFICE_CLUSTER_INDEX: String(index),
    });
    const slot: Slot = { role: slotRole, index, worker, startedAt: Date.now(), ready: false, crashes };
    slots.add(slot);
    log.info({ worker: worker.process.pid, role: slotRole, index }, 'worker forked');
    worker.on('message', (message: { type?: string }) => {
      if (message?.type !== 'ready') return;
      slot.ready = true;
      if (!everyoneReady && [...slots].every((s) => s.ready)) {
        everyoneReady = true;
        log.info({ processes, pids: [...slots].map((s) => s.worker.process.pid) }, 'cluster running');
      }
    });
    worker.on('exit', (code, signal) => {
      slots.delete(slot);
      if (stopping) {
        // The primary's code says whether every worker drained: 0 only when all did.
        if (code !== 0) exitCode = code === 130 && exitCode !== 1 ? 130 : 1;
        if (slots.size === 0) finish(failed ? 1 : exitCode);
        return;
      }
      if (!everyoneReady) {
        // A worker that cannot boot will not boot on a retry either (port taken, bad config): give up.
        failed = new Error(
          `${slotRole} worker ${index} exited during startup (code ${code}, signal ${signal})`,
        );
        log.error({ code, signal, role: slotRole }, failed.message);
        stopAll('SIGTERM');
        return;
      }
      const quick = Date.now() - slot.startedAt < HEALTHY_AFTER_MS;
      const nextCrashes = quick ? slot.crashes + 1 : 0;
      const delay = nextCrashes === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** nextCrashes);
      log.error(
        { pid: worker.process.pid, code, signal, role: slotRole, restartInMs: delay },
        `${slotRole} worker died unexpectedly; restarting it`,
      );
      setTimeout(() => {
        if (!stopping) fork(slotRole, index, nextCrashes);
      }, delay);
    });
  };

  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    if (slots.size === 0) finish(failed ? 1 : exitCode);
    for (const slot of slots) slot.worker.process.kill(signal);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal, workers: slots.size }, 'shutting down: draining every worker');
    // A second signal means "now": the workers take a second SIGTERM the same way.
    process.once('SIGTERM', () => stopAll('SIGTERM'));
    process.once('SIGINT', () => stopAll('SIGTERM'));
    stopAll('SIGTERM');
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  for (let i = 0; i < processes; i++) fork('api', i, 0);
  if (role === 'start') fork('worker', processes, 0);

  const code = await finished;
  await shared.stop();
  if (failed) throw failed;
  log.info('stopped');
  return code;
}

/**
 * What the workers share and must not each create: the embedded PostgreSQL (one server per DATA_DIR),
 * migrations and demo data (once, before any worker serves), and the gateway simulator (its payments live
 * in its memory, so one instance for all). Returns the environment that points the workers at them.
 */
async function prepareShared(
  role: 'start' | 'api',
  config: Config,
  logger: Logger,
  modules: BoxofficeModule[],
): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const log = logger.child({ component: 'cluster' });
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse())
      await close().catch((error) => log.error({ err: error }, 'shutdown'));
  };
  const env: Record<string, string> = {};
  try {
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres({
        dataDir: config.DATA_DIR,
        port: config.EMBEDDED_PG_PORT,
        logger,
      });
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
      env.DATABASE_URL = databaseUrl;
    }
    const db = createDb({
      url: databaseUrl,
      max: 2,
      connectTimeoutSeconds: config.DB_CONNECT_TIMEOUT_SECONDS,
      logger: log,
    });
    try {
      await assertReachable(db, databaseUrl).catch((error: Error) => {
        throw new Error(`${config.DATABASE_URL ? 'DATABASE_URL: ' : ''}${error.message}`);
      });
      if (config.MIGRATE_ON_START) await migrateDatabase(db, databaseUrl, log);
      if (config.SEED_DEMO_ON_START)
        await seedDemoIfEmpty(modules, {
          db,
          logger: log,
          progress: (label, total) => createProgress(log, label, total),
        });
    } finally {
      await db.end({ timeout: 5 });
    }
    if (!config.PAYMENT_ENDPOINT) {
      const { simulatorOptionsFromConfig, startGatewaySimulator } = await import('../sims/gateway/index.ts');
      const simulator = await startGatewaySimulator(simulatorOptionsFromConfig(config, log));
      stops.push(() => simulator.stop());
      env.SIM_GATEWAY_PORT = String(new URL(simulator.url).port);
      log.info({ url: simulator.url, role }, 'payments: gateway simulator running in the cluster primary');
    }
    if (config.NOTIFY_ENABLED && role !== 'api' && (!config.SMTP_URL || !config.SMS_PROVIDER_URL)) {
      // One set of development peers for every worker process (each would otherwise bind the same ports).
      const { openProviders } = await import('../notify/engine/setup.ts');
      const peers = await openProviders(config, log);
      stops.push(() => peers.stop());
      env.SMTP_URL = peers.urls.smtp.join(',');
      env.SMS_PROVIDER_URL = peers.urls.sms.join(',');
    }
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** In a worker: tells the primary this worker is up (after `runRole` resolved). */
export function reportReady(): void {
  if (cluster.isWorker) process.send?.({ type: 'ready' });
}
