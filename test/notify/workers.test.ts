import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNotification, enqueueDeliveries, forgetPartitions } from '../../src/notify/queue.ts';
import { parseQuietHours } from '../../src/notify/quiet-hours.ts';
import { testConfig } from '../helpers/config.ts';
import { type Spawned, spawnNode } from '../helpers/process.ts';
import {
  createTestDatabase,
  eventually,
  type NotifyPeers,
  startNotifyPeers,
  type TestDatabase,
} from './harness.ts';

/**
 * Two real `boxoffice worker` processes over one queue. Each sends into an SMTP sink of its own, so the sinks
 * tell who sent what: the union must hold every delivery exactly once, and after one worker is killed -9
 * the other must finish its leased deliveries once their lease runs out (at-least-once: only those may
 * arrive twice).
 */
// 3,000 takes ~30 s per case on a busy 2-core machine (the sinks parse every message in this process).
const TOTAL = 800;
const CONCURRENCY = 16;
const BATCH = 50;
/** Short where a worker is killed (its leases must run out within the test), long elsewhere. */
const KILL_LEASE_SECONDS = 5;
const LEASE_SECONDS = 60;

let db: TestDatabase;
let sinks: [NotifyPeers, NotifyPeers];
const children: Spawned[] = [];

beforeAll(async () => {
  forgetPartitions();
  db = await createTestDatabase();
  sinks = [await startNotifyPeers(), await startNotifyPeers()];
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  }
  for (const peers of sinks) peers.smtp.clear();
});

afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await Promise.all(sinks?.map((peers) => peers?.stop()) ?? []);
  await db?.drop();
});

/** A worker process sending email into `peers`; resolves once its delivery lanes are running. */
async function startWorker(peers: NotifyPeers, leaseSeconds = LEASE_SECONDS): Promise<Spawned> {
  // The tests' fixed key (testConfig), so no worker writes DATA_DIR/master.key.
  const masterKey = testConfig().MASTER_KEY ?? '';
  const worker = spawnNode(['worker'], {
    DATABASE_URL: db.url,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    MASTER_KEY: masterKey,
    SMTP_URL: peers.smtpUrl,
    SMS_PROVIDER_URL: `${peers.smsUrl}/messages`,
    NOTIFY_BATCH_SIZE: String(BATCH),
    NOTIFY_CONCURRENCY: String(CONCURRENCY),
    NOTIFY_LEASE_SECONDS: String(leaseSeconds),
    // Paced, so neither process can drain the queue before the other has claimed anything.
    NOTIFY_PROVIDER_RATE: 'email=500',
    DROPS_ENABLED: 'false',
    SEED_DEMO_ON_START: 'false',
    SIM_GATEWAY_PORT: '0',
    SIM_NOTIFY_SMTP_PORT: '0',
    SIM_NOTIFY_INBOX_PORT: '0',
    SIM_NOTIFY_SMS_PORT: '0',
    SIM_NOTIFY_PUSH_PORT: '0',
    DROPS_CONTEST_PORT: '0',
    // info: the "delivery workers running" line is how the test knows it is ready.
    LOG_LEVEL: 'info',
  });
  children.push(worker);
  await eventually(
    async () => {
      if (worker.child.exitCode !== null) throw new Error(`worker exited early:\n${worker.output()}`);
      return worker.output().includes('notify: delivery workers running') ? true : undefined;
    },
    'a worker to start its delivery lanes',
    30_000,
  );
  return worker;
}

/** TOTAL bulk email deliveries of one ad-hoc notification, in one transaction (one NOTIFY wakes the workers). */
async function enqueue(tag: string): Promise<void> {
  await db.sql.begin(async (tx) => {
    const notification = await createNotification(tx, {
      kind: 'bulk',
      channel: 'email',
      content: { subject: `Load ${tag}`, body: 'Doors open at 19:00.' },
    });
    const recipients = Array.from({ length: TOTAL }, (_, i) => ({
      userId: null,
      recipient: `u${i}@example.test`,
      recipientKey: `email:u${i}@example.test`,
    }));
    const ids = await enqueueDeliveries(tx, notification, recipients, parseQuietHours(''));
    expect(ids).toHaveLength(TOTAL);
  });
}

const pendingCount = async () =>
  Number(
    (await db.sql<{ n: string }[]>`select count(*) as n from notify_deliveries where status = 'pending'`)[0]!
      .n,
  );

const allSettled = (within: number) =>
  eventually(async () => ((await pendingCount()) === 0 ? true : undefined), 'no pending delivery', within);

/** Message-IDs each sink received (with repeats). */
const messageIds = (peers: NotifyPeers) => peers.smtp.messages().map((m) => m.headers['message-id'] ?? '');

function tally(ids: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** `<d42-20261202@boxoffice>` → 42: the Message-ID names the delivery. */
const deliveryIdOf = (messageId: string) => Number(/^<d(\d+)-\d{8}@boxoffice>$/.exec(messageId)?.[1]);

async function deliveries(subject: string) {
  return db.sql<{ id: string; status: string; attempts: number }[]>`
    select d.id::text, d.status, d.attempts from notify_deliveries d
    join notify_notifications n on n.id = d.notification_id
    where n.content->>'subject' = ${subject}`;
}

describe('two worker processes over one queue', () => {
  it('never send one delivery twice, and both take part', async () => {
    await Promise.all(sinks.map((peers) => startWorker(peers)));
    await enqueue('one');
    await allSettled(30_000);

    const rows = await deliveries('Load one');
    expect(rows).toHaveLength(TOTAL);
    expect(rows.filter((r) => r.status !== 'sent')).toEqual([]);
    // No delivery was claimed twice: no lease ran out, nothing was retried.
    expect(rows.filter((r) => r.attempts !== 1)).toEqual([]);

    const [a, b] = sinks.map(messageIds) as [string[], string[]];
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(a.length + b.length).toBe(TOTAL);
    const counts = tally([...a, ...b]);
    expect(counts.size).toBe(TOTAL);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    // Every Message-ID is one of this notification's deliveries.
    const ids = new Set(rows.map((r) => Number(r.id)));
    expect([...counts.keys()].filter((m) => !ids.has(deliveryIdOf(m)))).toEqual([]);
  }, 60_000);

  it('kill -9 of one worker mid-run: the other takes over its leased deliveries; only those may go twice', async () => {
    const [killed, survivor] = await Promise.all(
      sinks.map((peers) => startWorker(peers, KILL_LEASE_SECONDS)),
    );
    await enqueue('two');
    await eventually(
      async () => (sinks[0].smtp.messages().length >= TOTAL / 4 ? true : undefined),
      'the first worker to send a quarter',
      30_000,
    );
    killed!.child.kill('SIGKILL');
    expect((await killed!.exited).signal).toBe('SIGKILL');
    expect(sinks[0].smtp.messages().length).toBeLessThan(TOTAL);
    // Claimed and not settled when it died: the dead worker's leases (sent or not) and the survivor's.
    const unsettledAtKill = new Set(
      (
        await db.sql<{ id: string }[]>`
          select d.id::text from notify_deliveries d join notify_notifications n on n.id = d.notification_id
          where n.content->>'subject' = 'Load two' and d.status = 'pending' and d.attempts > 0`
      ).map((r) => Number(r.id)),
    );

    // The leases of the dead worker's deliveries run out after KILL_LEASE_SECONDS; the survivor claims them then.
    await allSettled(30_000);
    expect(survivor!.child.exitCode).toBeNull();

    const rows = await deliveries('Load two');
    expect(rows).toHaveLength(TOTAL);
    expect(rows.filter((r) => r.status !== 'sent')).toEqual([]);
    const reclaimed = new Set(rows.filter((r) => r.attempts > 1).map((r) => Number(r.id)));
    // A lease is taken over once at most (one worker died), and only one the dead worker held.
    expect(rows.filter((r) => r.attempts > 2)).toEqual([]);
    expect(reclaimed.size).toBeGreaterThan(0);
    expect([...reclaimed].filter((id) => !unsettledAtKill.has(id))).toEqual([]);

    const a = messageIds(sinks[0]);
    const b = messageIds(sinks[1]);
    expect(b.length).toBeGreaterThan(0);
    const counts = tally([...a, ...b]);
    // Nothing lost: every delivery reached a sink.
    expect(counts.size).toBe(TOTAL);
    const duplicated = [...counts.entries()].filter(([, n]) => n > 1);
    // At-least-once, narrowly: a delivery arrives twice only if the dead worker had it leased (sent but its
    // status not yet written), so the survivor claimed it again; each at most twice, the second time by the
    // survivor.
    for (const [messageId, n] of duplicated) {
      expect(n).toBe(2);
      expect(reclaimed.has(deliveryIdOf(messageId))).toBe(true);
      expect(a.filter((m) => m === messageId)).toHaveLength(1);
      expect(b.filter((m) => m === messageId)).toHaveLength(1);
    }
    // Bounded by what it held unrecorded: a send slot is held until its status is written, so at most its
    // lanes' slots (NOTIFY_CONCURRENCY, plus the instant lane's, idle here) went out without a record.
    expect(duplicated.length).toBeLessThanOrEqual(reclaimed.size);
    expect(duplicated.length).toBeLessThanOrEqual(CONCURRENCY);
    expect(a.length + b.length).toBe(TOTAL + duplicated.length);
  }, 60_000);
});
