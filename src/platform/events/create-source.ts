import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { streamSettings } from './config.ts';
import { JetStreamEventSource } from './jetstream-source.ts';
import { OutboxEventSource } from './outbox-source.ts';
import type { EventSource } from './source.ts';

export interface EventSourceConfig {
  EVENTS_NATS_URL?: string | undefined;
  EVENTS_NATS_STREAM: string;
  EVENTS_NATS_SUBJECT_PREFIX: string;
  EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: number;
  OUTBOX_POLL_MS: number;
}

/**
 * The source a consumer that only needs the common contract should read from: JetStream durable
 * consumers when EVENTS_NATS_URL is set (the relay feeds the stream), else the outbox poller. It
 * does not run the sequencer: the `start` / `worker` role's outbox does.
 */
export function createEventSource(config: EventSourceConfig, db: Sql, logger: Logger): EventSource {
  if (config.EVENTS_NATS_URL)
    return new JetStreamEventSource({
      url: config.EVENTS_NATS_URL,
      settings: streamSettings(config),
      logger,
    });
  return new OutboxEventSource({ db, logger, pollMs: config.OUTBOX_POLL_MS, sequencer: false });
}
