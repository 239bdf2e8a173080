import type { DeliveredEvent } from './envelope.ts';

/**
 * A durable reader of the domain events, the same for the outbox poller and for JetStream: the
 * contract (test/platform/events-contract.ts) holds for both.
 * - Every event is handed to `handle` at least once; a handler that throws gets the event again
 *   (and possibly the ones after it), so handlers are idempotent: dedupe by `event.id`.
 * - Events of one key arrive in the order they were published; nothing after a failed event of a
 *   key is handled before it succeeds.
 * - Progress is stored under `name`: a restarted consumer goes on after the last event it handled.
 */
export interface EventConsumer {
  /** Durable name: an outbox cursor, or a JetStream durable consumer. */
  name: string;
  /** Only these topics; all when absent. */
  topics?: string[];
  handle(event: DeliveredEvent): Promise<void>;
  /** Most events taken at once. */
  batchSize?: number;
}

export interface EventSource {
  readonly kind: 'outbox' | 'jetstream';
  /** Before start(). */
  subscribe(consumer: EventConsumer): void;
  start(): Promise<void>;
  /** Finishes the batch in hand and stores its progress. */
  stop(): Promise<void>;
}
