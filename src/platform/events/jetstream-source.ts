import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
} from '@nats-io/jetstream';
import { millis, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { consumeInSpan } from '../outbox/consumer.ts';
import { type Loop, startLoop } from '../outbox/sequencer.ts';
import { DurableLease } from './durable-lease.ts';
import { type DeliveredEvent, eventFromMessage } from './envelope.ts';
import { connectNats, ensureStream, type StreamSettings, subjectOf, topicOf } from './nats.ts';
import type { EventConsumer, EventSource } from './source.ts';

export interface JetStreamSourceOptions {
  url: string;
  settings: StreamSettings;
  logger: Logger;
  /** Redelivery of an event whose handler neither finished nor failed (a hung or killed process). */
  ackWaitMs?: number;
  /** How long one pull waits for new events (at least 1000). */
  pullExpiresMs?: number;
  /**
   * One process per durable: with a database URL, each durable is read only by the process holding
   * its lease (durable-lease.ts), the others standing by. Without, the caller makes sure of it.
   */
  leases?: string;
}

/**
 * The event source on JetStream: one durable pull consumer per EventConsumer (explicit acks,
 * unlimited redelivery, new durables start at the beginning of the stream, as a new outbox cursor
 * does). Order per key: one pull at a time, at most a batch unacknowledged (max_ack_pending), the
 * batch handled in stream order; on a failure the failed event and all after it are nak'ed in order
 * before the earlier ones are acked, so the redelivery starts with the failed event.
 */
export class JetStreamEventSource implements EventSource {
  readonly kind = 'jetstream' as const;
  private readonly consumers: EventConsumer[] = [];
  private nc: NatsConnection | undefined;
  private loops: Loop[] = [];
  private leases: DurableLease[] = [];
  private readonly log: Logger;

  constructor(private readonly options: JetStreamSourceOptions) {
    this.log = options.logger.child({ component: 'jetstream-consumer', stream: options.settings.stream });
  }

  subscribe(consumer: EventConsumer): void {
    if (this.nc) throw new Error(`subscribe ${consumer.name} before the event source starts`);
    if (this.consumers.some((c) => c.name === consumer.name))
      throw new Error(`consumer ${consumer.name} is subscribed twice`);
    this.consumers.push(consumer);
  }

  async start(): Promise<void> {
    const { url, settings } = this.options;
    this.nc = await connectNats(url, 'boxoffice event consumers');
    const jsm = await ensureStream(this.nc, settings);
    const js = jetstream(this.nc);
    for (const consumer of this.consumers) {
      await this.ensureDurable(jsm, consumer);
      const lease = this.options.leases
        ? new DurableLease(this.options.leases, `${settings.stream}:${consumer.name}`)
        : undefined;
      if (lease) this.leases.push(lease);
      // Undefined while this process does not read the durable; the orphan wait starts when it begins to.
      let notBefore: number | undefined;
      const step = async () => {
        if (lease && !(await lease.hold())) {
          notBefore = undefined;
          return 0;
        }
        notBefore ??= await this.orphansRedelivered(jsm, consumer);
        return Date.now() < notBefore ? 0 : this.pullBatch(js, consumer);
      };
      this.loops.push(startLoop(`jetstream:${consumer.name}`, step, { idleMs: 50, logger: this.log }));
    }
  }

  async stop(): Promise<void> {
    // The pull in hand is finished (at most pullExpiresMs): cutting it would leave its messages
    // unacked until ack_wait, to come back after later ones.
    await Promise.all(this.loops.map((loop) => loop.stop()));
    this.loops = [];
    // Drain flushes the acks of the last batch before the connection closes.
    await this.nc?.drain().catch(() => {});
    this.nc = undefined;
    // Only now: a standby taking over must not pull before this process's last acks reached the server.
    await Promise.all(this.leases.map((lease) => lease.release()));
    this.leases = [];
  }

  private async ensureDurable(jsm: JetStreamManager, consumer: EventConsumer): Promise<void> {
    const { settings } = this.options;
    const topics = consumer.topics ?? [];
    const existing = await jsm.consumers.info(settings.stream, consumer.name).catch(() => null);
    if (existing) return;
    await jsm.consumers.add(settings.stream, {
      durable_name: consumer.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One topic: the server filters. Several: filter_subjects needs NATS 2.10, so this reads all
      // and skips the rest here (acked, never handled).
      filter_subject: topics.length === 1 ? subjectOf(settings, topics[0]!) : `${settings.subjectPrefix}>`,
      max_ack_pending: consumer.batchSize ?? 256,
      ack_wait: nanos(this.options.ackWaitMs ?? 30_000),
      max_deliver: -1,
    });
  }

  /**
   * When a consumer dies with -9, the events it held unacked come back only after the ack wait,
   * and a pull before that would hand out later events first. A durable is read by one process at
   * a time, so events pending at start are such orphans: pulling starts once the ack wait has
   * passed, and the server then serves their redeliveries (in stream order) before anything newer.
   * Returns when pulling may start.
   */
  private async orphansRedelivered(jsm: JetStreamManager, consumer: EventConsumer): Promise<number> {
    const info = await jsm.consumers.info(this.options.settings.stream, consumer.name);
    if (info.num_ack_pending === 0) return 0;
    const waitMs = millis(info.config.ack_wait ?? nanos(30_000)) + 500;
    this.log.warn(
      { consumer: consumer.name, unacked: info.num_ack_pending, waitMs },
      'events held by a consumer that is gone: waiting for their redelivery before pulling newer ones',
    );
    return Date.now() + waitMs;
  }

  /** One pull: handles it in order, acks what succeeded, naks from the first failure on. */
  private async pullBatch(js: JetStreamClient, consumer: EventConsumer): Promise<number> {
    const { settings } = this.options;
    const durable = await js.consumers.get(settings.stream, consumer.name);
    const pull = await durable.fetch({
      max_messages: consumer.batchSize ?? 256,
      expires: this.options.pullExpiresMs ?? 1000,
    });
    const wanted = consumer.topics && consumer.topics.length > 1 ? new Set(consumer.topics) : undefined;
    const done: JsMsg[] = [];
    const undone: JsMsg[] = [];
    let failure: unknown;
    try {
      // The pull is read to its end even after a failure: a message left in it would stay
      // unacked until ack_wait and come back after later ones.
      for await (const message of pull) {
        if (failure !== undefined) {
          undone.push(message);
          continue;
        }
        const topic = topicOf(settings, message.subject);
        try {
          if (!wanted || wanted.has(topic)) {
            const event = toEvent(topic, message);
            await consumeInSpan(consumer.name, event, () => consumer.handle(event));
          }
          done.push(message);
        } catch (error) {
          failure = error;
          undone.push(message);
        }
      }
    } finally {
      // Naks first, in stream order: the redelivery queue then starts with the failed event.
      for (const message of undone) message.nak();
      for (const message of done) message.ack();
    }
    if (failure !== undefined) throw failure;
    return done.length;
  }
}

function toEvent(topic: string, message: JsMsg): DeliveredEvent {
  return eventFromMessage(topic, message.headers, message.string());
}
