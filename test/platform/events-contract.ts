// The contract every EventSource keeps (src/platform/events/source.ts), run from one test file per
// implementation: the outbox poller (events-outbox.test.ts) and JetStream (events-jetstream.test.ts).
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { DeliveredEvent, EventConsumer, EventSource } from '../../src/platform/events/index.ts';
import type { DomainEvent } from '../../src/platform/outbox/index.ts';

export interface ContractHarness {
  /** Commits events to the outbox; the harness makes them reach its source (the relay, for NATS). */
  publish(events: DomainEvent[]): Promise<void>;
  /** A new source, as a new process would build it: a restart is a second one with the same names. */
  source(): EventSource;
  close(): Promise<void>;
}

interface Payload {
  key: string;
  n: number;
}

export function eventSourceContract(makeHarness: () => Promise<ContractHarness>): void {
  let harness: ContractHarness;
  const running: EventSource[] = [];
  let consumerSeq = 0;
  beforeEach(async () => {
    harness = await makeHarness();
  });
  afterEach(async () => {
    for (const source of running.splice(0)) await source.stop();
    await harness.close();
  });

  /** `count` events over `keys` keys; payload n counts 1, 2, 3… per key. */
  function events(
    count: number,
    keys: number,
    topics = ['contract.a', 'contract.b'],
  ): DomainEvent<Payload>[] {
    const perKey = new Map<string, number>();
    return Array.from({ length: count }, (_, i) => {
      const key = `k${i % keys}`;
      const n = (perKey.get(key) ?? 0) + 1;
      perKey.set(key, n);
      return { topic: topics[i % topics.length]!, key, payload: { key, n } };
    });
  }

  async function publishAll(all: DomainEvent[]): Promise<void> {
    for (let i = 0; i < all.length; i += 100) await harness.publish(all.slice(i, i + 100));
  }

  function start(consumers: EventConsumer[]): Promise<EventSource> {
    const source = harness.source();
    for (const consumer of consumers) source.subscribe(consumer);
    running.push(source);
    return source.start().then(() => source);
  }

  async function stop(source: EventSource): Promise<void> {
    running.splice(running.indexOf(source), 1);
    await source.stop();
  }

  const name = () => `contract_${process.pid}_${++consumerSeq}`;
  const payloadOf = (event: DeliveredEvent) => event.payload as Payload;

  /** Handled events (first success of each id) per key are 1, 2, 3… with none missing. */
  function expectInOrderPerKey(handled: DeliveredEvent[], expected: DomainEvent<Payload>[]): void {
    const seen = new Set<string>();
    const perKey = new Map<string, number[]>();
    for (const event of handled) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      const { key, n } = payloadOf(event);
      expect(event.key).toBe(key);
      perKey.set(key, [...(perKey.get(key) ?? []), n]);
    }
    const wanted = new Map<string, number[]>();
    for (const e of expected) wanted.set(e.payload.key, [...(wanted.get(e.payload.key) ?? []), e.payload.n]);
    expect(Object.fromEntries(perKey)).toEqual(Object.fromEntries(wanted));
  }

  it('delivers every event once, in order per key, each consumer only its topics', async () => {
    const all = events(300, 7, ['contract.a', 'contract.b', 'contract.c']);
    const everything: DeliveredEvent[] = [];
    const onlyB: DeliveredEvent[] = [];
    const aAndC: DeliveredEvent[] = [];
    await start([
      { name: name(), handle: async (e) => void everything.push(e) },
      { name: name(), topics: ['contract.b'], handle: async (e) => void onlyB.push(e) },
      {
        name: name(),
        topics: ['contract.a', 'contract.c'],
        batchSize: 16,
        handle: async (e) => void aAndC.push(e),
      },
    ]);
    await publishAll(all);
    await waitFor(() => everything.length >= 300 && onlyB.length >= 100 && aAndC.length >= 200);
    expect(new Set(everything.map((e) => e.id)).size).toBe(300);
    expect(everything).toHaveLength(300);
    expectInOrderPerKey(everything, all);
    expect(onlyB.every((e) => e.topic === 'contract.b')).toBe(true);
    expectInOrderPerKey(
      onlyB,
      all.filter((e) => e.topic === 'contract.b'),
    );
    expectInOrderPerKey(
      aAndC,
      all.filter((e) => e.topic !== 'contract.b'),
    );
    const first = everything[0]!;
    expect(first.createdAt).toBeInstanceOf(Date);
    expect(Number.isFinite(first.position)).toBe(true);
  });

  it('redelivers an event whose handler failed, and nothing later of its key overtakes it', async () => {
    const all = events(200, 5);
    const failOn = all[42]!.payload; // the 9th event of its key
    let failures = 0;
    const attempts: DeliveredEvent[] = [];
    const handled: DeliveredEvent[] = [];
    await start([
      {
        name: name(),
        batchSize: 20,
        handle: async (event) => {
          attempts.push(event);
          const { key, n } = payloadOf(event);
          if (key === failOn.key && n === failOn.n && failures < 2) {
            failures++;
            throw new Error('downstream is down');
          }
          handled.push(event);
        },
      },
    ]);
    await publishAll(all);
    await waitFor(() => new Set(handled.map((e) => e.id)).size >= 200);
    expect(failures).toBe(2);
    const failed = attempts.filter((e) => payloadOf(e).key === failOn.key && payloadOf(e).n === failOn.n);
    expect(failed.length).toBe(3); // two failures, then the success
    expectInOrderPerKey(handled, all);
  });

  it('a restarted consumer resumes after the last event it handled', async () => {
    const all = events(300, 6);
    const consumer = name();
    const firstRun: DeliveredEvent[] = [];
    const first = await start([
      {
        name: consumer,
        batchSize: 10,
        handle: async (e) => {
          firstRun.push(e);
          await new Promise((resolve) => setTimeout(resolve, 1)); // slow enough to stop it midway
        },
      },
    ]);
    await publishAll(all.slice(0, 200));
    await waitFor(() => firstRun.length >= 50);
    await stop(first); // graceful: the batch in hand is finished and recorded
    const handledBefore = firstRun.length;
    expect(handledBefore).toBeLessThan(200);
    await publishAll(all.slice(200));

    const secondRun: DeliveredEvent[] = [];
    await start([{ name: consumer, batchSize: 10, handle: async (e) => void secondRun.push(e) }]);
    await waitFor(() => firstRun.length + secondRun.length >= 300);
    expect(firstRun).toHaveLength(handledBefore); // the stopped one handled nothing more
    const firstIds = new Set(firstRun.map((e) => e.id));
    expect(secondRun.filter((e) => firstIds.has(e.id))).toEqual([]); // nothing handled twice
    expect(secondRun).toHaveLength(300 - handledBefore); // nothing skipped
    expectInOrderPerKey([...firstRun, ...secondRun], all);
  });
}

async function waitFor(condition: () => boolean, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
