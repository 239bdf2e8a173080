import type { Tx } from '../db/client.ts';
import { currentTraceparent } from '../tracing/propagation.ts';

export interface DomainEvent<P = unknown> {
  /** Dotted name, e.g. `booking.created`. */
  topic: string;
  /** The entity the event is about (booking id, seat id…), for consumers that partition or dedupe. */
  key?: string | undefined;
  payload: P;
}

/**
 * Writes events in the caller's transaction: they exist if and only if the write they announce
 * commits. Insert them after the rows they describe, so that two transactions touching the same
 * row insert their events in commit order. Inside a trace, each carries the active span's `traceparent`.
 */
export async function publish(tx: Tx, ...events: DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx`
    insert into outbox_events (topic, key, payload, trace_context)
    select *, ${currentTraceparent()}::text from unnest(
      ${events.map((e) => e.topic)}::text[],
      ${events.map((e) => e.key ?? null)}::text[],
      -- via text[]: a parameter typed jsonb[] would be JSON-encoded a second time by the driver
      ${events.map((e) => JSON.stringify(e.payload))}::text[]::jsonb[]
    )`;
}
