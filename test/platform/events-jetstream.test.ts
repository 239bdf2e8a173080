import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventSource, OutboxRelay } from '../../src/platform/events/index.ts';
import { Outbox, publish } from '../../src/platform/outbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { deleteStream, NATS_URL, natsOrReason, uniqueStream } from '../helpers/nats.ts';
import { type Spawned, spawnNode } from '../helpers/process.ts';
import { eventSourceContract } from './events-contract.ts';

const logger = pino({ level: 'silent' });
const CONSUMER = new URL('../fixtures/jetstream-consumer.ts', import.meta.url).pathname;
const nats = await natsOrReason();
if (nats.reason) console.warn(`skipping the JetStream event source contract: ${nats.reason}`);
afterAll(async () => {
  await nats.nc?.close();
});

describe.skipIf(!nats.nc)('the event source contract on JetStream durable consumers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  // Events reach JetStream the production way: outbox, sequencer, relay; a fresh stream per test.
  eventSourceContract(async () => {
    await db.sql`truncate outbox_events, outbox_cursors restart identity`;
    const settings = uniqueStream();
    const sequencer = new Outbox({ db: db.sql, logger, pollMs: 10, sequencer: true });
    const relay = new OutboxRelay({ db: db.sql, logger, url: NATS_URL, settings, batchSize: 64, pollMs: 10 });
    await sequencer.start();
    await relay.start();
    return {
      publish: (events) => db.sql.begin((tx) => publish(tx, ...events)),
      source: () => new JetStreamEventSource({ url: NATS_URL, settings, logger, pullExpiresMs: 1000 }),
      close: async () => {
        await relay.stop();
        await sequencer.stop();
        await deleteStream(nats.nc!, settings.stream);
      },
    };
  });
});

describe.skipIf(!nats.nc)('a JetStream consumer killed with -9', () => {
  let db: TestDatabase;
  const settings = uniqueStream();
  const children: Spawned[] = [];
  let relay: OutboxRelay;
  let sequencer: Outbox;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql`create table js_deliveries (seq bigserial, pid int, id text, key text, n int)`;
    sequencer = new Outbox({ db: db.sql, logger, pollMs: 10, sequencer: true });
    relay = new OutboxRelay({ db: db.sql, logger, url: NATS_URL, settings, batchSize: 64, pollMs: 10 });
    await sequencer.start();
    await relay.start();
  });
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await relay?.stop();
    await sequencer?.stop();
    await deleteStream(nats.nc!, settings.stream);
    await db?.drop();
  });

  it('is restarted: its unacked events come again before newer ones of their keys, none lost', async () => {
    const total = 400;
    const env = {
      DATABASE_URL: db.url,
      EVENTS_NATS_URL: NATS_URL,
      EVENTS_NATS_STREAM: settings.stream,
      EVENTS_NATS_SUBJECT_PREFIX: settings.subjectPrefix,
      CONSUMER: 'killed',
      ACK_WAIT_MS: '8000', // longer than the restart takes, or the ack wait ends on its own
      BATCH: '100',
      EXPECTED_EVENTS: String(total),
    };
    // It hangs after 60 handled events, its pull part-filled by the trickle, then is killed.
    const first = spawnNode([], { ...env, HANG_AFTER: '60' }, CONSUMER);
    children.push(first);
    const jsm = await jetstreamManager(nats.nc!);
    const waiting = Date.now() + 30_000;
    for (;;) {
      const info = await jsm.consumers.info(settings.stream, 'killed').catch(() => null);
      if (info && info.num_waiting > 0) break; // its first pull is open
      if (Date.now() > waiting) throw new Error(`the consumer did not pull in time\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A trickle (one event per key every 25 ms), so the killed consumer's pull is only partly
    // filled: a restart that pulled at once would be handed newer events of the same keys.
    const trickle = async () => {
      for (let round = 1; round <= total / 5; round++) {
        await db.sql.begin((tx) =>
          publish(
            tx,
            ...Array.from({ length: 5 }, (_, k) => ({
              topic: 'kill.test',
              key: `k${k}`,
              payload: { n: round },
            })),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const publishing = trickle();
    const until = Date.now() + 30_000;
    for (;;) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from js_deliveries`;
      if (row!.n >= 60) break;
      if (Date.now() > until) throw new Error(`the consumer handled too little in time\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // a few more arrive in its pull
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = spawnNode([], env, CONSUMER);
    children.push(second);
    expect((await second.exited).code, second.output()).toBe(0);
    await publishing;
    const rows = await db.sql<{ id: string; key: string; n: number }[]>`
      select id, key, n from js_deliveries order by seq`;
    const seen = new Set<string>();
    const order = new Map<string, number[]>();
    for (const row of rows) {
      if (seen.has(row.id)) continue; // a redelivery of what the killed one had handled
      seen.add(row.id);
      order.set(row.key, [...(order.get(row.key) ?? []), row.n]);
    }
    expect(seen.size).toBe(total);
    for (const [key, ns] of order)
      expect(ns, key).toEqual(Array.from({ length: total / 5 }, (_, i) => i + 1));
  }, 60_000);
});
