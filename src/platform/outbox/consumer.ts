import { SpanKind } from '@opentelemetry/api';
import type { Sql, Tx } from '../db/client.ts';
import { inSpan } from '../tracing/propagation.ts';

export interface OutboxEvent {
  /** The row id: the same on every redelivery (the relay's Nats-Msg-Id). */
  id: string;
  position: number;
  topic: string;
  key: string | null;
  payload: unknown;
  createdAt: Date;
  /** The W3C `traceparent` of the request that wrote it, when that process traced; else null. */
  traceContext: string | null;
}

/** Runs inside the transaction that advances the cursor: database effects commit with it. */
export type EventHandler = (event: OutboxEvent, tx: Tx) => Promise<void>;

export interface ConsumerSpec {
  /** Durable name: the cursor is stored under it. */
  name: string;
  /** Only these topics; all when absent. */
  topics?: string[];
  handler: EventHandler;
  batchSize?: number;
}

export async function ensureCursor(db: Sql, name: string): Promise<void> {
  await db`insert into outbox_cursors (consumer) values (${name}) on conflict do nothing`;
}

/**
 * Handles the next batch of events after the consumer's cursor, in position order, and moves
 * the cursor past them in the same transaction. A crash before commit means the batch is
 * delivered again: at-least-once for side effects outside the database, so handlers must be
 * idempotent. The cursor row is locked with SKIP LOCKED, so one process at a time consumes a
 * given name. Returns how many events were handled.
 */
export async function consumeBatch(db: Sql, spec: ConsumerSpec): Promise<number> {
  const limit = spec.batchSize ?? 500;
  return db.begin(async (tx) => {
    const [cursor] = await tx<{ position: string }[]>`
      select position from outbox_cursors where consumer = ${spec.name} for update skip locked`;
    if (!cursor) return 0; // another process holds this consumer right now
    const from = Number(cursor.position);
    const [{ high } = { high: null }] = await tx<{ high: string | null }[]>`
      select max(position) as high from outbox_events`;
    const highWater = high === null ? from : Number(high);
    if (highWater <= from) return 0;
    const events = await tx<OutboxEvent[]>`
      select id::text as id, position::float8 as position, topic, key, payload, created_at as "createdAt",
             trace_context as "traceContext"
      from outbox_events
      where position > ${from} and position <= ${highWater}
        and (${spec.topics ?? null}::text[] is null or topic = any(${spec.topics ?? null}::text[]))
      order by position
      limit ${limit}`;
    for (const event of events) await consumeInSpan(spec.name, event, () => spec.handler(event, tx));
    // A short page means nothing else matches up to the high water mark: skip past it all.
    const to = events.length === limit ? events[events.length - 1]!.position : highWater;
    await tx`update outbox_cursors set position = ${to}, updated_at = now() where consumer = ${spec.name}`;
    return events.length === limit ? events.length : Math.max(events.length, 0);
  });
}

/**
 * Runs one event's handler in a consumer span continuing the trace that wrote the event (a root
 * span when it was written untraced). Both event sources use it. Without tracing: the handler alone.
 */
export function consumeInSpan<T>(consumer: string, event: OutboxEvent, handle: () => Promise<T>): Promise<T> {
  return inSpan(
    `${event.topic} process`,
    SpanKind.CONSUMER,
    event.traceContext,
    {
      'messaging.operation.type': 'process',
      'messaging.destination.name': event.topic,
      'messaging.consumer.group.name': consumer,
      'messaging.message.id': event.id,
    },
    handle,
  );
}
