import { SpanKind } from '@opentelemetry/api';
import { Logger as GraphileLogger, type Runner, run, type Task } from 'graphile-worker';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { inSpan } from '../tracing/propagation.ts';
import { recordDeadLetter } from './dead-letters.ts';
import { takeTraceContext } from './trace-context.ts';

export type JobHandler = (
  payload: unknown,
  context: { attempt: number; maxAttempts: number; signal: AbortSignal },
) => Promise<void>;

export interface CronSchedule {
  /** Cron pattern in UTC, e.g. `0 * * * *`, with the task and payload to enqueue. */
  pattern: string;
  task: string;
  payload?: Record<string, unknown>;
  /** Stable name for this schedule; graphile-worker remembers its last run under it. */
  identifier: string;
}

export interface JobRunnerOptions {
  connectionString: string;
  db: Sql;
  logger: Logger;
  concurrency: number;
  maxAttempts: number;
  tasks: Record<string, JobHandler>;
  cron?: CronSchedule[];
  pollIntervalMs?: number;
}

export interface JobRunner {
  stop(): Promise<void>;
}

/**
 * Runs jobs with graphile-worker: LISTEN/NOTIFY pick-up, retries with exponential backoff
 * (about e^attempt seconds), cron. A job that fails its last attempt is moved to
 * `job_dead_letters` (kept with its error, listable and retryable) instead of lingering
 * as a permanently failed row in the queue.
 */
export async function startJobRunner(options: JobRunnerOptions): Promise<JobRunner> {
  const log = options.logger.child({ component: 'jobs' });
  const taskList: Record<string, Task> = {};
  for (const [name, handler] of Object.entries(options.tasks)) {
    taskList[name] = async (stored, helpers) => {
      const { attempts, max_attempts: maxAttempts, key, id } = helpers.job;
      const { payload, traceparent } = takeTraceContext(stored);
      try {
        await inSpan(
          `job ${name}`,
          SpanKind.CONSUMER,
          traceparent,
          { 'job.task': name, 'job.id': String(id), 'job.attempt': attempts },
          () => handler(payload, { attempt: attempts, maxAttempts, signal: helpers.abortSignal }),
        );
      } catch (error) {
        if (attempts < maxAttempts) throw error; // graphile-worker schedules the retry
        await recordDeadLetter(options.db, {
          task: name,
          payload,
          attempts,
          lastError: (error as Error)?.stack ?? String(error),
          jobKey: key,
        });
        log.error({ task: name, attempts, err: error }, 'job failed its last attempt: moved to dead letters');
      }
    };
  }

  // Our own pool, not one graphile-worker makes: it fires a finished job's completion without
  // awaiting it and would end its pool under that query during a graceful stop.
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.concurrency + 2 });
  pool.on('error', (error) => log.warn({ err: error }, 'idle job queue connection failed'));
  pool.on('connect', (client) => {
    client.on('error', (error) => log.warn({ err: error }, 'job queue connection failed'));
  });
  const runner: Runner = await run({
    pgPool: pool,
    concurrency: options.concurrency,
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    taskList,
    crontab: (options.cron ?? [])
      .map(
        (c) =>
          `${c.pattern} ${c.task} ?id=${c.identifier}&max=${options.maxAttempts} ${JSON.stringify(c.payload ?? {})}`,
      )
      .join('\n'),
    logger: graphileLogger(log),
  });
  return {
    async stop() {
      await runner.stop();
      await drained(pool);
      await pool.end();
    },
  };
}

/** Resolves once no query is running or waiting on the pool (at most 5 s). */
async function drained(pool: pg.Pool): Promise<void> {
  const until = Date.now() + 5000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 10));
  } while ((pool.idleCount < pool.totalCount || pool.waitingCount > 0) && Date.now() < until);
}

function graphileLogger(log: Logger): GraphileLogger {
  return new GraphileLogger(() => (level, message, meta) => {
    const pinoLevel = level === 'warning' ? 'warn' : level === 'error' ? 'error' : 'debug';
    log[pinoLevel](meta ?? {}, message);
  });
}
