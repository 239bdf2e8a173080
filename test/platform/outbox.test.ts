import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { consumeBatch } from '../../src/platform/outbox/consumer.ts';
import { Outbox, type OutboxEvent, publish, sequenceOnce } from '../../src/platform/outbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { spawnNode } from '../helpers/process.ts';

const logger = pino({ level: 'silent' });
const FIXTURE = new URL('../fixtures/outbox-consumer.ts', import.meta.url).pathname;

describe('outbox', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql`create table deliveries (pid int, position bigint, seq int)`;
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.sql`truncate outbox_events, outbox_cursors, deliveries`;
  });

  it('an event exists only if the transaction that published it commits', async () => {
    await db.sql
      .begin(async (tx) => {
        await publish(tx, { topic: 'test.rolled_back', payload: {} });
        throw new Error('abort');
      })
      .catch(() => {});
    await db.sql.begin((tx) => publish(tx, { topic: 'test.committed', key: 'k1', payload: { n: 1 } }));
    const rows = await db.sql`select topic, key, payload from outbox_events`;
    expect(rows).toEqual([{ topic: 'test.committed', key: 'k1', payload: { n: 1 } }]);
  });

  it('a transaction that commits late is still delivered (reading by id would skip it)', async () => {
    const late = await db.sql.reserve();
    try {
      await late`begin`;
      await late`insert into outbox_events (topic, payload) values ('test.late', '{}')`; // takes the lower id
      await db.sql.begin((tx) => publish(tx, { topic: 'test.early', payload: {} }));

      // Control: a reader that advanced an id cursor now would never see the late row.
      const [visible] = await db.sql<{ max: string }[]>`select max(id) from outbox_events`;
      const [lateRow] = await late<{ id: string }[]>`select id from outbox_events where topic = 'test.late'`;
      expect(Number(lateRow!.id)).toBeLessThan(Number(visible!.max));

      expect(await sequenceOnce(db.sql)).toBe(1);
      await late`commit`;
      expect(await sequenceOnce(db.sql)).toBe(1);
    } finally {
      late.release();
    }
    const seen: string[] = [];
    await db.sql`insert into outbox_cursors (consumer) values ('order')`;
    await consumeBatch(db.sql, {
      name: 'order',
      handler: async (event) => {
        seen.push(event.topic);
      },
    });
    expect(seen).toEqual(['test.early', 'test.late']);
  });

  it('consumers get every event once, in order, and a topic filter skips the rest', async () => {
    for (let batch = 0; batch < 20; batch++) {
      await db.sql.begin((tx) =>
        publish(
          tx,
          ...Array.from({ length: 50 }, (_, i) => ({
            topic: i % 2 ? 'test.odd' : 'test.even',
            payload: { seq: batch * 50 + i },
          })),
        ),
      );
    }
    const all: number[] = [];
    const odd: number[] = [];
    const outbox = new Outbox({ db: db.sql, logger, pollMs: 10, sequencer: true });
    outbox.subscribe({
      name: 'all',
      batchSize: 64,
      handler: async (event: OutboxEvent) => {
        all.push((event.payload as { seq: number }).seq);
      },
    });
    outbox.subscribe({
      name: 'odd',
      topics: ['test.odd'],
      handler: async (event: OutboxEvent) => {
        odd.push((event.payload as { seq: number }).seq);
      },
    });
    await outbox.start();
    try {
      await waitFor(async () => all.length >= 1000 && odd.length >= 500);
    } finally {
      await outbox.stop();
    }
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(odd).toEqual(Array.from({ length: 500 }, (_, i) => i * 2 + 1));
    const cursors = await db.sql`select consumer, position::int from outbox_cursors order by consumer`;
    expect(cursors).toEqual([
      { consumer: 'all', position: 1000 },
      { consumer: 'odd', position: 1000 },
    ]);
  });

  it('a handler failure rolls the batch back and the events come again', async () => {
    await db.sql.begin((tx) =>
      publish(tx, { topic: 'test.a', payload: { seq: 1 } }, { topic: 'test.b', payload: { seq: 2 } }),
    );
    await sequenceOnce(db.sql);
    await db.sql`insert into outbox_cursors (consumer) values ('flaky')`;
    const failing = consumeBatch(db.sql, {
      name: 'flaky',
      handler: async (event) => {
        if (event.topic === 'test.b') throw new Error('downstream is down');
      },
    });
    await expect(failing).rejects.toThrow('downstream is down');
    const seen: string[] = [];
    await consumeBatch(db.sql, { name: 'flaky', handler: async (event) => void seen.push(event.topic) });
    expect(seen).toEqual(['test.a', 'test.b']);
  });

  it('a consumer killed with -9 resumes where it stopped and loses nothing', async () => {
    const total = 400;
    await db.sql.begin((tx) =>
      publish(tx, ...Array.from({ length: total }, (_, i) => ({ topic: 'test.crash', payload: { seq: i } }))),
    );
    const env = { DATABASE_URL: db.url, EXPECTED_EVENTS: String(total) };
    const first = spawnNode([], env, FIXTURE);
    await waitFor(async () => {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from deliveries`;
      return row!.n >= 120;
    });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const [cursor] = await db.sql<
      { position: number }[]
    >`select position::int from outbox_cursors where consumer = 'reference'`;
    expect(cursor!.position).toBeLessThan(total);

    const second = spawnNode([], env, FIXTURE);
    expect((await second.exited).code, second.output()).toBe(0);

    const deliveries = await db.sql<{ pid: number; seq: number }[]>`select pid, seq from deliveries`;
    const delivered = new Set(deliveries.map((d) => d.seq));
    expect(delivered.size).toBe(total); // every event, at least once
    // The second run started at the first undelivered-and-uncommitted event: nothing skipped.
    const secondRun = deliveries.filter((d) => d.pid === second.child.pid).map((d) => d.seq);
    expect(secondRun[0]).toBe(cursor!.position);
    expect(secondRun).toEqual([...secondRun].sort((a, b) => a - b));
  });
});

async function waitFor(condition: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
