import type { BoxofficeModule, Platform } from '../platform/context.ts';
import { GroupCommitter } from '../platform/db/group-commit.ts';
import type { Authority } from './authority.ts';
import { type ContestServer, startContestServer } from './contest-server.ts';
import { MemoryAuthority } from './memory-authority.ts';
import { registerDropsService } from './overview.ts';
import { acquireProcessGuard } from './process-guard.ts';
import { RedisAuthority } from './redis-authority.ts';
import { dropsRoutes } from './routes.ts';
import { SaleClock } from './sale-clock.ts';
import { SaleLifecycle } from './sale-lifecycle.ts';
import { DropsService } from './service.ts';
import * as store from './store.ts';
import { ThrottledLog } from './throttled-log.ts';

export type { PurchasedPayload, SaleClosedPayload, SaleOpenedPayload } from './events.ts';
export { Topics as DropTopics } from './events.ts';

/**
 * How long refusal records gather before they are written (one transaction in flight at a time). At
 * 40,000 refusals a second that is batches of ~1,000 rows instead of ~100: PostgreSQL's CPU in the storm
 * fell from ~30 % to ~12 % of a core (docs/drops.md). They are not acknowledged, so the delay costs no
 * client anything; a graceful stop flushes them.
 */
const ATTEMPT_LINGER_MS = 20;

/** The drops module; `contestUrl` and `service` are set while it runs (logs, tests). */
export interface DropsModule extends BoxofficeModule {
  readonly contestUrl: string | undefined;
  readonly service: DropsService | undefined;
}

interface Running {
  service: DropsService;
  contest: ContestServer | undefined;
  stop(): Promise<void>;
}

/**
 * Hourly flash sales (docs/drops.md). A factory, not a singleton: each running platform (and each test
 * server in one process) gets its own state.
 */
export function createDropsModule(): DropsModule {
  let running: Running | undefined;
  return {
    name: 'drops',
    memoryState: (config) =>
      config.DROPS_ENABLED ? 'drops inventory (a second process would oversell)' : undefined,
    get contestUrl() {
      return running?.contest?.url;
    },
    get service() {
      return running?.service;
    },
    async start(platform) {
      if (!platform.config.DROPS_ENABLED) return { stop: async () => {} };
      running = await startDrops(platform);
      const current = running;
      registerDropsService(platform, current.service);
      return {
        stop: async () => {
          registerDropsService(platform, undefined);
          await current.stop();
          if (running === current) running = undefined;
        },
      };
    },
    async routes(app, platform) {
      if (!platform.config.DROPS_ENABLED) return;
      if (!running) throw new Error('drops: the module must be started before its routes are registered');
      await dropsRoutes(app, running.service);
    },
  };
}

async function startDrops(platform: Platform): Promise<Running> {
  const { config, db, redis } = platform;
  const logger = platform.logger.child({ module: 'drops' });
  const clock = new SaleClock(config.DROPS_EPOCH_SECONDS * 1000, config.DROPS_PERIOD_SECONDS * 1000);
  if (Date.now() < clock.epochMs) {
    throw new Error(
      `drops: DROPS_EPOCH_SECONDS=${config.DROPS_EPOCH_SECONDS} is in the future; sale 0 has not begun`,
    );
  }
  const settings = {
    items: config.DROPS_ITEMS_PER_SALE,
    perUserLimit: config.DROPS_PER_USER_LIMIT,
    reservationMs: config.DROPS_RESERVATION_SECONDS * 1000,
    backlogMax: config.DROPS_ATTEMPT_BACKLOG_MAX,
  };

  const guard = await acquireProcessGuard(platform.databaseUrl, redis ? 'shared' : 'exclusive', logger);
  let lifecycle: SaleLifecycle | undefined;
  let committer: GroupCommitter<store.DropWrite, store.WriteResult> | undefined;
  let attempts: GroupCommitter<store.DropWrite, store.WriteResult> | undefined;
  const dropped = new ThrottledLog(logger);
  try {
    const authority: Authority = redis
      ? new RedisAuthority({
          client: redis,
          prefix: config.DROPS_REDIS_PREFIX,
          items: settings.items,
          perUserLimit: settings.perUserLimit,
        })
      : new MemoryAuthority({ items: settings.items, perUserLimit: settings.perUserLimit });
    // Two committers, so that a reservation or purchase (a client waits for its commit) never queues
    // behind the thousands of refusal records a storm produces (nobody waits for those).
    committer = new GroupCommitter<store.DropWrite, store.WriteResult>({
      db,
      name: 'drops',
      logger,
      write: store.writeDurable,
      transaction: false,
      maxBatch: config.DROPS_BATCH_MAX_ROWS,
      concurrency: config.DROPS_BATCH_CONCURRENCY,
    });
    attempts = new GroupCommitter<store.DropWrite, store.WriteResult>({
      db,
      name: 'drops-attempts',
      logger,
      write: store.writeRefusals,
      transaction: false,
      maxBatch: config.DROPS_BATCH_MAX_ROWS,
      // Nobody waits for these rows, so they are gathered for a while into few, large transactions: each
      // statement and commit costs PostgreSQL CPU that the storm's two cores need for answering.
      concurrency: 1,
      lingerMs: ATTEMPT_LINGER_MS,
      // Attempt records of refusals nobody waits for: counted, logged at most once a second.
      onDropped: (error) => dropped.error(error, 'drops: attempt records could not be written'),
    });

    // Recovery before the first request: the database is the record, the authority is rebuilt from it.
    lifecycle = new SaleLifecycle({ db, clock, items: settings.items, logger });
    const now = Date.now();
    const sale = await lifecycle.prepare(now);
    const snapshot = await store.loadSnapshot(db, sale.number, now);
    await authority.restore(sale, snapshot, now);

    const service = new DropsService({ db, clock, authority, committer, attempts, settings, logger });
    lifecycle.start();
    const contest = config.DROPS_CONTEST_ENABLED
      ? await startContestServer(service, {
          host: config.DROPS_CONTEST_HOST,
          port: config.DROPS_CONTEST_PORT,
          logger,
          metrics: platform.metrics,
        })
      : undefined;
    logger.info(
      {
        sale: sale.number,
        authority: authority.kind,
        restoredPurchases: snapshot.purchases.length,
        restoredReservations: snapshot.reservations.length,
        contest: contest?.url,
      },
      'drops: sale open',
    );

    const openLifecycle = lifecycle;
    const openCommitter = committer;
    const openAttempts = attempts;
    return {
      service,
      contest,
      async stop() {
        // New contest requests get 503 while those in flight finish; then every queued write is flushed.
        await contest?.close(config.SHUTDOWN_TIMEOUT_MS / 2);
        await openLifecycle.stop();
        await openCommitter.stop();
        await openAttempts.stop();
        await guard.release();
      },
    };
  } catch (error) {
    await lifecycle?.stop();
    await committer?.stop();
    await attempts?.stop();
    await guard.release();
    throw error;
  }
}
