import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventSource, OutboxEventSource } from '../../src/platform/events/index.ts';
import { publish } from '../../src/platform/outbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { eventSourceContract } from './events-contract.ts';

const logger = pino({ level: 'silent' });

describe('the event source contract on the outbox poller', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  eventSourceContract(async () => {
    await db.sql`truncate outbox_events, outbox_cursors restart identity`;
    return {
      publish: (events) => db.sql.begin((tx) => publish(tx, ...events)),
      source: () => new OutboxEventSource({ db: db.sql, logger, pollMs: 10, sequencer: true }),
      close: async () => {},
    };
  });
});

describe('the event source a consumer gets', () => {
  const config = {
    EVENTS_NATS_STREAM: 'BOXOFFICE',
    EVENTS_NATS_SUBJECT_PREFIX: 'boxoffice.',
    EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: 120,
    OUTBOX_POLL_MS: 200,
  };
  it('is the outbox poller without EVENTS_NATS_URL and JetStream with it', () => {
    const db = {} as never; // neither source touches it before start()
    expect(createEventSource(config, db, logger).kind).toBe('outbox');
    expect(createEventSource({ ...config, EVENTS_NATS_URL: 'nats://127.0.0.1:4222' }, db, logger).kind).toBe(
      'jetstream',
    );
  });
});
