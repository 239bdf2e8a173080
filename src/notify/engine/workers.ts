import type { Logger } from 'pino';
import type { Platform } from '../../platform/context.ts';
import type { Sql } from '../../platform/db/client.ts';
import { PRIORITY } from '../queue.ts';
import { type QuietHours, quietHoursOf, releaseAt } from '../quiet-hours.ts';
import { notifyKeys } from '../secrets.ts';
import { retryDelayMs } from './backoff.ts';
import { Channels } from './channels/index.ts';
import {
  type ClaimedDelivery,
  claimDue,
  type Outcome,
  removeSubscriptions,
  type Settled,
  settle,
} from './claims.ts';
import { type DeliveryMetrics, deliveryMetrics } from './metrics.ts';
import { asSendFailure } from './outcome.ts';
import { type RenderContext, renderDelivery } from './render.ts';
import { openProviders, publicUrlOf } from './setup.ts';

/** How often an idle lane looks for retries that came due (new work wakes it at once by NOTIFY). */
const IDLE_POLL_MS = 500;
/** Most status changes written in one statement. */
const SETTLE_BATCH = 1000;

export interface EngineOptions {
  db: Sql;
  logger: Logger;
  channels: Channels;
  render: RenderContext;
  quiet: QuietHours;
  metrics: DeliveryMetrics;
  batchSize: number;
  leaseSeconds: number;
  maxAttempts: number;
  retry: { baseMs: number; maxMs: number };
}

/**
 * Collects outcomes and writes them like a group commit: one write in flight, and the next one takes
 * everything that arrived meanwhile (up to SETTLE_BATCH). Under load the batches grow instead of the queue
 * of writes, so a status is never written later than one write after its send.
 */
class Settler {
  private pending: { settled: Settled; written: () => void }[] = [];
  private writing: Promise<void> | undefined;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Sql,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the outcome is written (or its write failed and was logged). */
  add(settled: Settled): Promise<void> {
    return new Promise((written) => {
      this.pending.push({ settled, written });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    // One turn of the event loop first: the sends that finish together go in one write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, SETTLE_BATCH);
      try {
        await settle(
          this.db,
          batch.map((b) => b.settled),
        );
      } catch (error) {
        // The leases run out and the deliveries are claimed again: sent ones may go twice (at-least-once).
        this.logger.error(
          { err: error, deliveries: batch.length },
          'notify: writing delivery statuses failed',
        );
      }
      for (const b of batch) b.written();
    }
    this.writing = undefined;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Resolves once every outcome added so far is written. */
  flush(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}

/**
 * Sends claimed deliveries: checks suppressions and quiet hours again (they may have changed since the
 * delivery was queued), renders, sends through the channel's providers, and classifies the outcome.
 */
export class DeliveryEngine {
  readonly settler: Settler;

  constructor(private readonly options: EngineOptions) {
    this.settler = new Settler(options.db, options.logger);
  }

  /** What each delivery of a claimed batch needs from the database, read once for the batch. */
  async prepare(batch: readonly ClaimedDelivery[]) {
    const { db } = this.options;
    const suppressed = new Set<string>();
    const addresses = batch.filter((d) => d.channel !== 'push');
    if (addresses.length > 0) {
      const rows = await db<{ channel: string; address: string; category: string }[]>`
        select channel, address, category from notify_suppressions
        where (channel, address) in (
          select * from unnest(${addresses.map((d) => d.channel)}::text[],
                               ${addresses.map((d) => (d.channel === 'email' ? d.recipient.toLowerCase() : d.recipient))}::text[]))`;
      for (const row of rows) suppressed.add(`${row.channel}\u0000${row.address}\u0000${row.category}`);
    }
    const subscriptions = new Map<string, { p256dh: string; auth: string }>();
    const endpoints = batch.filter((d) => d.channel === 'push').map((d) => d.recipient);
    if (endpoints.length > 0) {
      const rows = await db<{ endpoint: string; p256dh: string; auth: string }[]>`
        select endpoint, p256dh, auth from notify_push_subscriptions where endpoint = any(${endpoints}::text[])`;
      for (const row of rows) subscriptions.set(row.endpoint, { p256dh: row.p256dh, auth: row.auth });
    }
    return {
      suppression(d: ClaimedDelivery): string | undefined {
        const address = d.channel === 'email' ? d.recipient.toLowerCase() : d.recipient;
        for (const category of ['*', d.category])
          if (suppressed.has(`${d.channel}\u0000${address}\u0000${category}`)) return category;
        return undefined;
      },
      subscription: (d: ClaimedDelivery) => subscriptions.get(d.recipient),
    };
  }

  async deliver(d: ClaimedDelivery, prepared: Awaited<ReturnType<DeliveryEngine['prepare']>>): Promise<void> {
    const { channels, render, quiet, metrics, logger } = this.options;
    const started = process.hrtime.bigint();
    let outcome: Outcome;
    const category = prepared.suppression(d);
    const hold = releaseAt(quiet, d.category, d.timeZone, new Date());
    if (category !== undefined) {
      outcome = {
        status: 'suppressed',
        error: category === '*' ? 'address suppressed' : `unsubscribed from ${category}`,
      };
    } else if (hold) {
      outcome = { status: 'held', at: hold };
    } else {
      try {
        const message = await renderDelivery(render, d, prepared.subscription(d));
        const accepted = await channels.send(message);
        outcome = {
          status: 'sent',
          provider: accepted.provider,
          providerMessageId: accepted.providerMessageId,
        };
        metrics.sendSeconds.observe({ channel: d.channel }, Number(process.hrtime.bigint() - started) / 1e9);
      } catch (error) {
        outcome = this.failed(d, error);
      }
    }
    const provider = 'provider' in outcome ? (outcome.provider ?? 'none') : 'none';
    metrics.settled(d.channel, provider, outcome.status);
    if (outcome.status !== 'sent' && outcome.status !== 'held')
      logger.debug({ delivery: d.id, channel: d.channel, outcome }, 'notify: delivery not sent');
    // The send slot is held until the status is written: a slow database slows the sending, and a crash
    // can resend at most the slots' worth of deliveries that were sent but not yet recorded.
    await this.settler.add({ delivery: d, outcome });
  }

  private failed(d: ClaimedDelivery, error: unknown): Outcome {
    const failure = asSendFailure(error, 'none');
    const provider = failure.provider;
    switch (failure.kind) {
      case 'bounce':
        return { status: 'bounced', error: failure.message, provider };
      case 'gone':
        removeSubscriptions(this.options.db, [d.recipient]).catch((e: unknown) =>
          this.options.logger.warn({ err: e }, 'notify: removing a gone push subscription failed'),
        );
        return { status: 'failed', error: failure.message, dead: false, provider };
      case 'permanent':
        return { status: 'failed', error: failure.message, dead: true, provider };
      default: {
        if (d.attempts >= this.options.maxAttempts)
          return {
            status: 'failed',
            error: `gave up after ${d.attempts} attempts: ${failure.message}`,
            dead: true,
            provider,
          };
        const delay = retryDelayMs(d.attempts, { ...this.options.retry, retryAfterMs: failure.retryAfterMs });
        return { status: 'retry', at: new Date(Date.now() + delay), error: failure.message, provider };
      }
    }
  }
}

/**
 * One claim loop over some priorities with its own concurrency: the instant lane (priority 0) never waits
 * behind a campaign, because campaigns are claimed by the other lane with slots of its own.
 */
class Lane {
  private inFlight = 0;
  private running = true;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly priorities: readonly number[],
    private readonly concurrency: number,
    private readonly engine: DeliveryEngine,
    private readonly options: EngineOptions,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  wake(): void {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    const { db, batchSize, leaseSeconds, logger } = this.options;
    // Claim in chunks (a quarter of the slots at least) rather than one row per free slot.
    const minimum = Math.max(1, Math.floor(this.concurrency / 4));
    while (this.running) {
      const room = this.concurrency - this.inFlight;
      let claimed = 0;
      if (room >= minimum) {
        try {
          const batch = await claimDue(db, this.priorities, Math.min(room, batchSize), leaseSeconds);
          claimed = batch.length;
          if (claimed > 0) this.dispatch(batch);
        } catch (error) {
          logger.error({ err: error, lane: this.name }, 'notify: claiming deliveries failed');
        }
      }
      if (claimed > 0 && this.inFlight < this.concurrency) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, IDLE_POLL_MS);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private dispatch(batch: ClaimedDelivery[]): void {
    this.inFlight += batch.length;
    const release = () => {
      this.inFlight--;
      if (this.concurrency - this.inFlight >= Math.max(1, Math.floor(this.concurrency / 4))) this.wake();
    };
    this.engine
      .prepare(batch)
      .then((prepared) => {
        for (const d of batch) this.engine.deliver(d, prepared).catch(this.onBug).finally(release);
      })
      .catch((error: unknown) => {
        this.onBug(error);
        for (const _ of batch) release();
      });
  }

  private readonly onBug = (error: unknown) =>
    this.options.logger.error({ err: error, lane: this.name }, 'notify: delivering failed unexpectedly');

  /** Stops claiming; waits (up to `timeoutMs`) for sends in flight, whose leases otherwise run out. */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    const until = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}

export interface DeliveryWorkers {
  engine: DeliveryEngine;
  channels: Channels;
  /** The provider URLs in use (the development peers' when none were configured). */
  providers: { smtp: string[]; sms: string[] };
  stop(): Promise<void>;
}

/** The delivery workers of this process: an instant lane and a lane for everything else. */
export async function startDeliveryWorkers(platform: Platform): Promise<DeliveryWorkers> {
  const { config, db, logger } = platform;
  const log = logger.child({ component: 'notify' });
  const keys = await notifyKeys(config);
  const opened = await openProviders(config, log);
  const channels = new Channels(config, opened.urls, keys.vapid, log);
  const options: EngineOptions = {
    db,
    logger: log,
    channels,
    render: { db, trackingKey: keys.tracking, publicUrl: publicUrlOf(config) },
    quiet: quietHoursOf(config),
    metrics: deliveryMetrics(platform.metrics, db),
    batchSize: config.NOTIFY_BATCH_SIZE,
    leaseSeconds: config.NOTIFY_LEASE_SECONDS,
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    retry: { baseMs: config.NOTIFY_RETRY_BASE_MS, maxMs: config.NOTIFY_RETRY_MAX_MS },
  };
  const engine = new DeliveryEngine(options);
  const instant = new Lane('instant', [PRIORITY.instant], config.NOTIFY_INSTANT_CONCURRENCY, engine, options);
  const rest = new Lane(
    'queued',
    [PRIORITY.event, PRIORITY.scheduled, PRIORITY.bulk],
    config.NOTIFY_CONCURRENCY,
    engine,
    options,
  );
  const listener = await db.listen('notify_deliveries', (kind) => {
    if (kind === 'instant') instant.wake();
    else rest.wake();
  });
  instant.start();
  rest.start();
  log.info(
    { email: channels.providers('email'), sms: channels.providers('sms') },
    'notify: delivery workers running',
  );
  return {
    engine,
    channels,
    providers: opened.urls,
    async stop() {
      await listener.unlisten();
      await Promise.all([
        instant.stop(config.NOTIFY_SEND_TIMEOUT_MS),
        rest.stop(config.NOTIFY_SEND_TIMEOUT_MS),
      ]);
      await engine.settler.flush();
      await channels.close();
      await opened.stop();
    },
  };
}
