import { Type } from 'typebox';
import { defineConfigSection } from '../config/section.ts';

/** Domain events on NATS JetStream (see docs/architecture.md, "Events on NATS JetStream"). */
export const eventsConfig = defineConfigSection({
  name: 'events',
  title: 'Events: the outbox relayed to NATS JetStream',
  variables: {
    EVENTS_NATS_URL: Type.Optional(
      Type.String({
        pattern: '^(nats|tls)://',
        description:
          'NATS server(s) with JetStream, comma-separated (`nats://127.0.0.1:4222`). Set: `start` and `worker` relay every outbox event to JetStream. Unset: no relay.',
      }),
    ),
    EVENTS_NATS_STREAM: Type.String({
      pattern: '^[A-Za-z0-9_-]+$',
      default: 'BOXOFFICE',
      description: 'JetStream stream the relay creates if missing and publishes to (file storage).',
    }),
    EVENTS_NATS_SUBJECT_PREFIX: Type.String({
      pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.$',
      default: 'boxoffice.',
      description: 'An event of topic T is published to `<prefix>T`; the stream holds `<prefix>>`.',
    }),
    EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 120,
      description:
        'JetStream duplicate window: a re-publish of the same event id within it is dropped. A relay restarting after a crash also skips what the stream tail already holds, so this is the backstop (a publish still in flight from a dead relay), not the only guard.',
    }),
    EVENTS_CONSUMERS: Type.Union([Type.Literal('outbox'), Type.Literal('jetstream')], {
      default: 'outbox',
      description:
        "Where the modules' own event consumers (notify, tickets) read: `outbox`, the poller, each batch in one transaction with its cursor; `jetstream`, a durable JetStream consumer each (needs EVENTS_NATS_URL), every event handled in a transaction of its own and acked after it commits, one process per durable (a PostgreSQL lease), the handlers deduping by event id.",
    }),
    EVENTS_NATS_BATCH: Type.Integer({
      minimum: 1,
      maximum: 10000,
      default: 256,
      description: 'Most events the relay has in flight (published, awaiting their PubAck) at once.',
    }),
  },
});

/** The stream's settings from the configuration. */
export const streamSettings = (config: {
  EVENTS_NATS_STREAM: string;
  EVENTS_NATS_SUBJECT_PREFIX: string;
  EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: number;
}) => ({
  stream: config.EVENTS_NATS_STREAM,
  subjectPrefix: config.EVENTS_NATS_SUBJECT_PREFIX,
  duplicateWindowSeconds: config.EVENTS_NATS_DUPLICATE_WINDOW_SECONDS,
});
