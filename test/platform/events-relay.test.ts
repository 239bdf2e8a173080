import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cutBatch, relayCursorName, type StreamSettings } from '../../src/platform/events/index.ts';
import { type DomainEvent, publish } from '../../src/platform/outbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  deleteStream,
  NATS_URL,
  natsOrReason,
  readStream,
  type StoredEvent,
  uniqueStream,
} from '../helpers/nats.ts';
import { type Spawned, spawnNode } from '../helpers/process.ts';

const FIXTURE = new URL('../fixtures/nats-relay.ts', import.meta.url).pathname;
const nats = await natsOrReason();
if (nats.reason) console.warn(`skipping the JetStream relay tests: ${nats.reason}`);

describe('a keyed batch', () => {
  const e = (key: string | null) => ({ key });
  it('ends before a key repeats, and a keyless event goes alone', () => {
    expect(cutBatch([e('a'), e('b'), e('a'), e('c')])).toEqual([e('a'), e('b')]);
    expect(cutBatch([e('a'), e(null), e('b')])).toEqual([e('a')]);
    expect(cutBatch([e(null), e('a')])).toEqual([e(null)]);
    expect(cutBatch([])).toEqual([]);
  });
});

describe.skipIf(!nats.nc)('the outbox relay to JetStream', () => {
  const nc = nats.nc as NatsConnection;
  let db: TestDatabase;
  const children: Spawned[] = [];
  const streams: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  });
  afterAll(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    for (const stream of streams) await deleteStream(nc, stream);
    await nc?.close();
    await db?.drop();
  });

  const KEYS = 25;
  /** Events with 25 keys and now and then a keyless one; `seq` counts per key. */
  const counters = new Map<string, number>();
  async function publishEvents(count: number): Promise<void> {
    for (let start = 0; start < count; start += 50) {
      const events: DomainEvent[] = [];
      for (let i = start; i < Math.min(count, start + 50); i++) {
        const key = i % 97 === 0 ? undefined : `k${(i * 7) % KEYS}`;
        const n = (counters.get(key ?? '') ?? 0) + 1;
        counters.set(key ?? '', n);
        events.push({ topic: i % 3 ? 'test.one' : 'test.two.deep', key, payload: { key, n } });
      }
      await db.sql.begin((tx) => publish(tx, ...events));
    }
  }

  function relay(settings: StreamSettings, total: number, extra: Record<string, string> = {}): Spawned {
    const spawned = spawnNode(
      [],
      {
        DATABASE_URL: db.url,
        EVENTS_NATS_URL: NATS_URL,
        EVENTS_NATS_STREAM: settings.stream,
        EVENTS_NATS_SUBJECT_PREFIX: settings.subjectPrefix,
        EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: String(settings.duplicateWindowSeconds),
        EXPECTED_EVENTS: String(total),
        ...extra,
      },
      FIXTURE,
    );
    children.push(spawned);
    return spawned;
  }

  async function fresh(duplicateWindowSeconds?: number): Promise<StreamSettings> {
    await db.sql`truncate outbox_events, outbox_cursors restart identity`;
    counters.clear();
    const settings = uniqueStream(duplicateWindowSeconds);
    streams.push(settings.stream);
    return settings;
  }

  async function cursor(settings: StreamSettings): Promise<number> {
    const [row] = await db.sql<{ position: string }[]>`
      select position from outbox_cursors where consumer = ${relayCursorName(settings.stream)}`;
    return Number(row?.position ?? 0);
  }

  /** No gaps, no duplicates by msg id, order per key, keyless events in place, subjects right. */
  async function expectExactlyOnceInOrder(settings: StreamSettings, total: number): Promise<StoredEvent[]> {
    const stored = await readStream(nc, settings.stream);
    const ids = stored.map((m) => m.msgId);
    expect(new Set(ids).size, 'no duplicates by Nats-Msg-Id').toBe(ids.length);
    const outbox = await db.sql<{ id: string; position: number; topic: string; key: string | null }[]>`
      select id::text, position::int, topic, key from outbox_events order by position`;
    expect(outbox).toHaveLength(total);
    expect([...ids].sort(), 'every event, no gaps').toEqual(outbox.map((e) => e.id).sort());
    const topicOf = new Map(outbox.map((e) => [e.id, e.topic]));
    for (const m of stored) expect(m.subject).toBe(`${settings.subjectPrefix}${topicOf.get(m.msgId)}`);
    const lastOfKey = new Map<string, number>();
    for (const m of stored) {
      if (m.key === null) continue;
      expect(m.position, `key ${m.key} in order`).toBeGreaterThan(lastOfKey.get(m.key) ?? 0);
      lastOfKey.set(m.key, m.position);
    }
    stored.forEach((m, i) => {
      if (m.key !== null) return;
      expect(
        stored.slice(0, i).every((o) => o.position < m.position),
        'keyless event in place',
      ).toBe(true);
      expect(
        stored.slice(i + 1).every((o) => o.position > m.position),
        'keyless event in place',
      ).toBe(true);
    });
    return stored;
  }

  it('kill -9 mid-stream, restart: every event exactly once, in order per key', async () => {
    const settings = await fresh();
    const total = 6000;
    await publishEvents(3000);
    const first = relay(settings, total, { EVENTS_NATS_BATCH: '32' });
    await waitFor(async () => (await cursor(settings)) >= 600, first);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const stoppedAt = await cursor(settings);
    expect(stoppedAt).toBeLessThan(3000);
    await publishEvents(3000); // the outbox keeps filling while no relay runs

    const second = relay(settings, total, { EVENTS_NATS_BATCH: '32' });
    expect((await second.exited).code, second.output()).toBe(0);
    await expectExactlyOnceInOrder(settings, total);
  }, 60_000);

  it('killed after the PubAcks and before the cursor commits: the re-publish adds nothing', async () => {
    const settings = await fresh();
    const total = 1000;
    await publishEvents(total);
    const crashed = relay(settings, total, { EVENTS_NATS_BATCH: '64', CRASH_AT_BATCH: '3' });
    expect((await crashed.exited).signal).toBe('SIGKILL');
    const stoppedAt = await cursor(settings);
    const stored = await readStream(nc, settings.stream);
    // The third batch is in the stream but the cursor is still at the end of the second.
    expect(stored.length).toBeGreaterThan(0);
    expect(Math.max(...stored.map((m) => m.position))).toBeGreaterThan(stoppedAt);

    const second = relay(settings, total);
    expect((await second.exited).code, second.output()).toBe(0);
    expect(second.output()).toContain('re-published events the stream already held');
    await expectExactlyOnceInOrder(settings, total);
  }, 60_000);

  it('a restart after the duplicate window has passed still adds no duplicate (the stream tail is checked)', async () => {
    const settings = await fresh(1);
    const total = 500;
    await publishEvents(total);
    const crashed = relay(settings, total, { EVENTS_NATS_BATCH: '50', CRASH_AT_BATCH: '2' });
    expect((await crashed.exited).signal).toBe('SIGKILL');

    // Control: the window has really passed once the same msg id is stored twice.
    const { jetstream } = await import('@nats-io/jetstream');
    const js = jetstream(nc);
    const probe = `${settings.subjectPrefix}probe`;
    await js.publish(probe, '{}', { msgID: 'probe' });
    await waitFor(async () => !(await js.publish(probe, '{}', { msgID: 'probe' })).duplicate);
    const { jetstreamManager } = await import('@nats-io/jetstream');
    await (await jetstreamManager(nc)).streams.purge(settings.stream, { filter: probe });

    const second = relay(settings, total);
    expect((await second.exited).code, second.output()).toBe(0);
    await expectExactlyOnceInOrder(settings, total);
  }, 60_000);

  it('`boxoffice worker` with EVENTS_NATS_URL relays the outbox, and stops on SIGTERM', async () => {
    const settings = await fresh();
    const data = mkdtempSync(join(tmpdir(), 'boxoffice-relay-'));
    const worker = spawnNode(['worker'], {
      DATABASE_URL: db.url,
      DATA_DIR: data,
      LOG_LEVEL: 'info',
      EVENTS_NATS_URL: NATS_URL,
      EVENTS_NATS_STREAM: settings.stream,
      EVENTS_NATS_SUBJECT_PREFIX: settings.subjectPrefix,
    });
    children.push(worker);
    try {
      await publishEvents(120);
      await waitFor(async () => (await cursor(settings)) >= 120, worker);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code, worker.output()).toBe(0);
      expect(worker.output()).toContain('outbox relay to NATS JetStream running');
      await expectExactlyOnceInOrder(settings, 120);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);
});

async function waitFor(
  condition: () => Promise<boolean>,
  child?: Spawned,
  deadlineMs = 30_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`condition not met in time${child ? `\n${child.output()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
