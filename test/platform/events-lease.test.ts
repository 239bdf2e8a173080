import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoxofficeModule } from '../../src/platform/context.ts';
import { LEASE_LOCK_CLASS } from '../../src/platform/events/durable-lease.ts';
import { type DeliveredEvent, JetStreamEventSource, OutboxRelay } from '../../src/platform/events/index.ts';
import { Outbox, publish } from '../../src/platform/outbox/index.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { deleteStream, NATS_URL, natsOrReason, uniqueStream } from '../helpers/nats.ts';

const logger = pino({ level: 'silent' });
const nats = await natsOrReason();
if (nats.reason) console.warn(`skipping the JetStream durable leases: ${nats.reason}`);
afterAll(async () => {
  await nats.nc?.close();
});

async function until(what: string, done: () => boolean, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(!nats.nc)('one process per JetStream durable (a PostgreSQL lease)', () => {
  let db: TestDatabase;
  const settings = uniqueStream();
  let relay: OutboxRelay;
  let sequencer: Outbox;
  beforeAll(async () => {
    db = await createTestDatabase();
    sequencer = new Outbox({ db: db.sql, logger, pollMs: 10, sequencer: true });
    relay = new OutboxRelay({ db: db.sql, logger, url: NATS_URL, settings, batchSize: 64, pollMs: 10 });
    await sequencer.start();
    await relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await sequencer?.stop();
    await deleteStream(nats.nc!, settings.stream);
    await db?.drop();
  });

  const events = (from: number, n: number) =>
    db.sql.begin((tx) =>
      publish(
        tx,
        ...Array.from({ length: n }, (_, i) => ({
          topic: 'lease.test',
          key: `k${(from + i) % 3}`,
          payload: { n: from + i },
        })),
      ),
    );

  it('only the holder reads; a standby takes over after a stop and after its session is killed, in order, nothing lost', async () => {
    const handled: { by: string; n: number }[] = [];
    const source = (by: string) => {
      const s = new JetStreamEventSource({
        url: NATS_URL,
        settings,
        logger,
        pullExpiresMs: 1000,
        ackWaitMs: 2000,
        leases: db.url,
      });
      s.subscribe({
        name: 'leased',
        handle: async (event: DeliveredEvent) => {
          handled.push({ by, n: (event.payload as { n: number }).n });
        },
      });
      return s;
    };
    const a = source('a');
    await a.start();
    const b = source('b');
    await b.start();
    const c = source('c');
    try {
      await events(0, 30);
      await until('30 events', () => handled.length >= 30);
      // Two pullers on one durable would split the batches between them.
      expect(new Set(handled.map((h) => h.by))).toEqual(new Set([handled[0]!.by]));
      const first = handled[0]!.by;
      const holder = first === 'a' ? a : b;
      const standby = first === 'a' ? 'b' : 'a';

      await holder.stop();
      await events(30, 30);
      await until('60 events', () => handled.length >= 60);
      expect(handled.slice(30).every((h) => h.by === standby)).toBe(true);

      // The new holder's lease session killed (as if its connection died): it stops reading, and whoever
      // takes the lease next (a third process has joined) goes on.
      await c.start();
      await db.sql`
        select pg_terminate_backend(pid) from pg_locks
        where locktype = 'advisory' and classid = ${LEASE_LOCK_CLASS} and granted`;
      await events(60, 30);
      await until('90 events', () => new Set(handled.map((h) => h.n)).size >= 90);
      // Every event, and in order per key wherever it was handled.
      const ns = handled.map((h) => h.n);
      expect(new Set(ns).size).toBe(90);
      for (const key of [0, 1, 2]) {
        const ofKey = [...new Set(ns.filter((n) => n % 3 === key))];
        expect(ofKey).toEqual([...ofKey].sort((x, y) => x - y));
      }
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });
});

describe.skipIf(!nats.nc)('EVENTS_CONSUMERS=jetstream: the modules’ consumers read from JetStream', () => {
  let db: TestDatabase;
  const settings = uniqueStream();
  let running: Running | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql`create table probe_handled (event_id text primary key, n int not null)`;
  });
  afterAll(async () => {
    await running?.stop();
    await deleteStream(nats.nc!, settings.stream);
    await db?.drop();
  });

  it('a module consumer gets every event once, in its own transaction, and keeps no outbox cursor', async () => {
    const probe: BoxofficeModule = {
      name: 'probe',
      consumers: () => [
        {
          name: 'probe',
          topics: ['probe.test'],
          handler: async (event, tx) => {
            await tx`insert into probe_handled ${tx({ event_id: event.id, n: (event.payload as { n: number }).n })}
                     on conflict (event_id) do nothing`;
          },
        },
      ],
    };
    running = await runRole(
      'worker',
      testConfig({
        DATABASE_URL: db.url,
        EVENTS_NATS_URL: NATS_URL,
        EVENTS_NATS_STREAM: settings.stream,
        EVENTS_NATS_SUBJECT_PREFIX: settings.subjectPrefix,
        EVENTS_CONSUMERS: 'jetstream',
        OUTBOX_POLL_MS: '20',
      }),
      logger,
      [probe],
    );
    await db.sql.begin((tx) =>
      publish(
        tx,
        ...Array.from({ length: 20 }, (_, n) => ({ topic: 'probe.test', key: `k${n % 2}`, payload: { n } })),
      ),
    );
    const end = Date.now() + 20_000;
    let rows: { n: number }[] = [];
    while (Date.now() < end) {
      rows = await db.sql<{ n: number }[]>`select n from probe_handled order by n`;
      if (rows.length >= 20) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    const cursors = await db.sql`select consumer from outbox_cursors where consumer = 'probe'`;
    expect(cursors).toEqual([]);
    // Acked after the handler's transaction commits: a moment after the rows appear.
    const jsm = await jetstreamManager(nats.nc!);
    let info = await jsm.consumers.info(settings.stream, 'probe');
    for (let i = 0; i < 100 && info.num_ack_pending > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      info = await jsm.consumers.info(settings.stream, 'probe');
    }
    expect(info.num_ack_pending).toBe(0);
    expect(info.delivered.stream_seq).toBeGreaterThanOrEqual(20);
  });

  it('refuses to start without EVENTS_NATS_URL, saying so', async () => {
    await expect(
      runRole('worker', testConfig({ DATABASE_URL: db.url, EVENTS_CONSUMERS: 'jetstream' }), logger, []),
    ).rejects.toThrow(/EVENTS_CONSUMERS=jetstream .* set EVENTS_NATS_URL/);
  });
});
