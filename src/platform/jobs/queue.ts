import type { Queryable } from '../db/client.ts';
import { withTraceContext } from './trace-context.ts';

export interface EnqueueOptions {
  /** Not before this time (delayed job). */
  runAt?: Date;
  /** Overrides JOB_MAX_ATTEMPTS for this job. */
  maxAttempts?: number;
  /** De-duplicates: a pending job with the same key is replaced instead of added twice. */
  jobKey?: string;
  /** Jobs in one named queue run one at a time, in order. */
  queueName?: string;
  priority?: number;
}

/** Enqueues jobs; carries the configured default number of attempts. */
export class JobQueue {
  constructor(private readonly defaultMaxAttempts: number) {}

  /**
   * Adds a job through SQL, so it commits or rolls back with the caller's transaction:
   * pass a transaction handle to enqueue "only if this write commits". Inside a trace the job
   * continues it (its payload carries the `traceparent`).
   */
  async enqueue(
    db: Queryable,
    task: string,
    payload: unknown,
    options: EnqueueOptions = {},
  ): Promise<string> {
    const [row] = await db<{ id: string }[]>`
    select id::text from graphile_worker.add_job(
      identifier => ${task},
      payload => ${db.json(withTraceContext(payload) as never)}::json,
      queue_name => ${options.queueName ?? null},
      run_at => ${options.runAt ?? null},
      max_attempts => ${options.maxAttempts ?? this.defaultMaxAttempts},
      job_key => ${options.jobKey ?? null},
      priority => ${options.priority ?? null}
    )`;
    return row!.id;
  }
}
