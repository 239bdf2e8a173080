import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { type ConsumerSpec, consumeBatch, ensureCursor } from './consumer.ts';
import { type Loop, OUTBOX_CHANNEL, sequenceOnce, startLoop } from './sequencer.ts';

export type { ConsumerSpec, EventHandler, OutboxEvent } from './consumer.ts';
export { type DomainEvent, publish } from './publish.ts';
export { sequenceOnce } from './sequencer.ts';

export interface OutboxOptions {
  db: Sql;
  logger: Logger;
  pollMs: number;
  /** Run the sequencer in this process (any number may: a lock lets one work at a time). */
  sequencer: boolean;
}

/**
 * The event log's moving parts in one process: the sequencer and the subscribed consumers.
 * Consumers are woken by NOTIFY from the sequencer (any process) and poll as a fallback.
 */
export class Outbox {
  private readonly consumers: ConsumerSpec[] = [];
  private loops: Loop[] = [];
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly options: OutboxOptions) {}

  subscribe(spec: ConsumerSpec): void {
    if (this.loops.length > 0) throw new Error(`subscribe ${spec.name} before the outbox starts`);
    if (this.consumers.some((c) => c.name === spec.name))
      throw new Error(`consumer ${spec.name} is subscribed twice`);
    this.consumers.push(spec);
  }

  async start(): Promise<void> {
    const { db, logger, pollMs } = this.options;
    const log = logger.child({ component: 'outbox' });
    for (const spec of this.consumers) await ensureCursor(db, spec.name);
    if (this.options.sequencer) {
      this.loops.push(startLoop('sequencer', () => sequenceOnce(db), { idleMs: pollMs, logger: log }));
    }
    const consumerLoops = this.consumers.map((spec) =>
      startLoop(`consumer:${spec.name}`, () => consumeBatch(db, spec), { idleMs: pollMs, logger: log }),
    );
    this.loops.push(...consumerLoops);
    if (consumerLoops.length > 0) {
      const listener = await db.listen(OUTBOX_CHANNEL, () => {
        for (const loop of consumerLoops) loop.wake();
      });
      this.unlisten = () => listener.unlisten();
    }
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    await Promise.all(this.loops.map((loop) => loop.stop()));
    this.loops = [];
  }
}
