import { Outbox, type OutboxOptions } from '../outbox/index.ts';
import type { EventConsumer, EventSource } from './source.ts';

/** The event source without NATS: the outbox poller, a cursor per consumer in PostgreSQL. */
export class OutboxEventSource implements EventSource {
  readonly kind = 'outbox' as const;
  private readonly outbox: Outbox;

  constructor(options: OutboxOptions) {
    this.outbox = new Outbox(options);
  }

  subscribe(consumer: EventConsumer): void {
    this.outbox.subscribe({
      name: consumer.name,
      topics: consumer.topics,
      batchSize: consumer.batchSize,
      // The common interface offers no transaction: the handler's effects are its own to dedupe.
      handler: (event) => consumer.handle(event),
    });
  }

  start(): Promise<void> {
    return this.outbox.start();
  }

  stop(): Promise<void> {
    return this.outbox.stop();
  }
}
