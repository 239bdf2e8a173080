import { type JetStreamClient, type JetStreamManager, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { ensureCursor } from '../outbox/consumer.ts';
import { type Loop, OUTBOX_CHANNEL, startLoop } from '../outbox/sequencer.ts';
import { EventHeaders, eventHeaders } from './envelope.ts';
import { connectNats, ensureStream, type StreamSettings, subjectOf } from './nats.ts';

export interface RelayOptions {
  db: Sql;
  logger: Logger;
  url: string;
  settings: StreamSettings;
  /** Most events in flight at once (EVENTS_NATS_BATCH). */
  batchSize: number;
  /** Idle poll when no NOTIFY wakes the relay (OUTBOX_POLL_MS). */
  pollMs: number;
  /** Test seam: runs after every PubAck of a batch arrived and before the cursor moves. */
  afterPublish?: (published: RelayEvent[]) => void | Promise<void>;
}

export interface RelayEvent {
  id: string;
  position: number;
  topic: string;
  key: string | null;
  /** The payload's JSON text as stored: published as is, never parsed. */
  payload: string;
  createdAt: Date;
  /** Sent as the `traceparent` header: JetStream consumers continue the writer's trace. */
  traceContext: string | null;
}

/** The relay's cursor in outbox_cursors: one per stream, so a new stream is fed the whole outbox. */
export const relayCursorName = (stream: string) => `nats-relay:${stream}`;

/**
 * A batch is a run of consecutive events with no key twice and no keyless event inside a longer
 * run. All of it is published at once and its PubAcks awaited before the next batch, so if some
 * publishes fail and are retried after later ones landed, no two events of one key swap places.
 * A keyless event is published alone: it keeps its place relative to every other event.
 */
export function cutBatch<E extends { key: string | null }>(events: E[]): E[] {
  const keys = new Set<string>();
  const batch: E[] = [];
  for (const event of events) {
    if (event.key === null) return batch.length === 0 ? [event] : batch;
    if (keys.has(event.key)) break;
    keys.add(event.key);
    batch.push(event);
  }
  return batch;
}

/**
 * Feeds JetStream from the outbox: one relay works at a time cluster-wide (it holds the row lock on
 * its cursor while a batch is in flight, as every outbox consumer does); the cursor moves only in
 * the transaction that commits after every PubAck of the batch, so a kill -9 at any point leads to
 * a re-publish of that batch, which the stream drops by Nats-Msg-Id.
 */
export class OutboxRelay {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private loop: Loop | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly cursor: string;
  private readonly log: Logger;

  constructor(private readonly options: RelayOptions) {
    this.cursor = relayCursorName(options.settings.stream);
    this.log = options.logger.child({ component: 'nats-relay', stream: options.settings.stream });
  }

  async start(): Promise<void> {
    const { db, url, settings, pollMs } = this.options;
    this.nc = await connectNats(url, 'boxoffice outbox relay');
    this.jsm = await ensureStream(this.nc, settings);
    this.js = jetstream(this.nc);
    await ensureCursor(db, this.cursor);
    this.loop = startLoop('nats-relay', () => this.relayBatch(), { idleMs: pollMs, logger: this.log });
    const listener = await db.listen(OUTBOX_CHANNEL, () => this.loop?.wake());
    this.unlisten = () => listener.unlisten();
    this.log.info({ subjects: `${settings.subjectPrefix}>` }, 'outbox relay to NATS JetStream running');
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    await this.loop?.stop();
    await this.nc?.drain().catch(() => {});
    this.loop = undefined;
  }

  /** Publishes the next batch after the cursor and moves the cursor past it. Returns its size. */
  async relayBatch(): Promise<number> {
    const { db, settings, batchSize } = this.options;
    return db.begin(async (tx) => {
      const [cursor] = await tx<{ position: string }[]>`
          select position from outbox_cursors where consumer = ${this.cursor} for update skip locked`;
      if (!cursor) return 0; // another process relays right now
      const from = Number(cursor.position);
      const events = cutBatch(
        await tx<RelayEvent[]>`
            select id::text as id, position::float8 as position, topic, key, payload::text as payload,
                   created_at as "createdAt", trace_context as "traceContext"
            from outbox_events where position > ${from} order by position limit ${batchSize}`,
      );
      if (events.length === 0) return 0;
      // A relay that died mid-batch (any process) may have published part of this batch, maybe
      // longer ago than the duplicate window: skip what the stream already holds.
      const stored = await this.storedAfter(from);
      const js = this.js!;
      const acks = await Promise.all(
        events
          .filter((event) => !stored.has(event.id))
          .map((event) =>
            js.publish(subjectOf(settings, event.topic), event.payload, {
              msgID: event.id,
              headers: eventHeaders(event),
              timeout: 10_000,
            }),
          ),
      );
      await this.options.afterPublish?.(events);
      const to = events[events.length - 1]!.position;
      await tx`update outbox_cursors set position = ${to}, updated_at = now() where consumer = ${this.cursor}`;
      const duplicates = acks.filter((ack) => ack.duplicate).length + stored.size;
      if (duplicates > 0)
        this.log.info({ from, to, duplicates }, 'relay re-published events the stream already held');
      return events.length;
    });
  }

  /**
   * Ids of the events after `from` at the end of the stream. Only the last, unfinished batch can be
   * there (each batch is acked in full before the next starts), so at most one batch is read.
   */
  private async storedAfter(from: number): Promise<Set<string>> {
    const { stream } = this.options.settings;
    const jsm = this.jsm!;
    const { state } = await jsm.streams.info(stream);
    const ids = new Set<string>();
    const lowest = Math.max(state.first_seq, state.last_seq - this.options.batchSize + 1, 1);
    for (let seq = state.last_seq; seq >= lowest && state.messages > 0; seq--) {
      const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!message) continue;
      if (!(Number(message.header.get(EventHeaders.position)) > from)) break;
      ids.add(message.header.get(EventHeaders.msgId));
    }
    return ids;
  }
}
