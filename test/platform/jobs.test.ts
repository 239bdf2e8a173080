import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type JobHandler,
  JobQueue,
  listDeadLetters,
  retryDeadLetter,
  startJobRunner,
} from '../../src/platform/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const logger = pino({ level: 'silent' });

describe('job queue', () => {
  let db: TestDatabase;
  const queue = new JobQueue(2);
  const ran: { task: string; payload: unknown; at: number }[] = [];
  let failUntilAttempt = Number.POSITIVE_INFINITY;
  let releaseSlow: () => void = () => {};
  const slowGate = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  const tasks: Record<string, JobHandler> = {
    record: async (payload) => {
      ran.push({ task: 'record', payload, at: Date.now() });
    },
    flaky: async (payload, { attempt }) => {
      ran.push({ task: 'flaky', payload, at: Date.now() });
      if (attempt < failUntilAttempt) throw new Error(`flaky failed on attempt ${attempt}`);
    },
    slow: async (payload) => {
      await slowGate;
      ran.push({ task: 'slow', payload, at: Date.now() });
    },
  };
  let runner: Awaited<ReturnType<typeof startJobRunner>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    runner = await startJobRunner({
      connectionString: db.url,
      db: db.sql,
      logger,
      concurrency: 2,
      maxAttempts: 2,
      tasks,
      pollIntervalMs: 100,
    });
  });
  afterAll(async () => {
    await runner.stop();
    await db.drop();
  });

  it('a job enqueued in a transaction runs only if the transaction commits', async () => {
    await db.sql
      .begin(async (tx) => {
        await queue.enqueue(tx, 'record', { n: 'rolled back' });
        throw new Error('abort');
      })
      .catch(() => {});
    await db.sql.begin((tx) => queue.enqueue(tx, 'record', { n: 'committed' }));
    await waitFor(() => ran.some((r) => (r.payload as { n: string }).n === 'committed'));
    expect(ran.filter((r) => r.task === 'record').map((r) => r.payload)).toEqual([{ n: 'committed' }]);
  });

  it('a delayed job does not run before its time', async () => {
    const runAt = new Date(Date.now() + 1500);
    await queue.enqueue(db.sql, 'record', { n: 'delayed' }, { runAt });
    await waitFor(() => ran.some((r) => (r.payload as { n: string }).n === 'delayed'));
    const run = ran.find((r) => (r.payload as { n: string }).n === 'delayed')!;
    expect(run.at).toBeGreaterThanOrEqual(runAt.getTime() - 50);
  });

  it('a job that keeps failing is retried, then kept in the dead letters with its error', async () => {
    failUntilAttempt = Number.POSITIVE_INFINITY;
    await queue.enqueue(db.sql, 'flaky', { order: 42 });
    // Backoff between attempts is about e^1 ≈ 2.7 s, so the second attempt comes after a pause.
    await waitFor(async () => (await listDeadLetters(db.sql, { task: 'flaky' })).length === 1, 20_000);
    const attempts = ran.filter((r) => r.task === 'flaky');
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThan(1000);
    const [letter] = await listDeadLetters(db.sql, { task: 'flaky' });
    expect(letter).toMatchObject({ task: 'flaky', payload: { order: 42 }, attempts: 2, retriedAt: null });
    expect(letter!.lastError).toContain('flaky failed on attempt 2');
    // Gone from the live queue: nothing will pick it up again by itself.
    const [pending] =
      await db.sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'flaky'`;
    expect(pending!.n).toBe(0);

    failUntilAttempt = 1; // the downstream is fixed
    expect(await retryDeadLetter(db.sql, queue, letter!.id)).toBe(true);
    expect(await retryDeadLetter(db.sql, queue, letter!.id)).toBe(false); // only once
    await waitFor(() => ran.filter((r) => r.task === 'flaky').length === 3);
    const [after] = await listDeadLetters(db.sql, { task: 'flaky' });
    expect(after!.retriedAt).toBeInstanceOf(Date);
  }, 30_000);

  it('stopping waits for a running job to finish', async () => {
    await queue.enqueue(db.sql, 'slow', { n: 'slow' });
    await waitFor(async () => {
      const [row] =
        await db.sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'slow' and locked_at is not null`;
      return row!.n === 1;
    });
    const stopping = runner.stop();
    setTimeout(releaseSlow, 200);
    await stopping;
    expect(ran.some((r) => r.task === 'slow')).toBe(true);
    const [left] =
      await db.sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'slow'`;
    expect(left!.n).toBe(0);
    runner = { stop: async () => {} };
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
