import type { Queryable } from '../db/client.ts';
import type { JobQueue } from './queue.ts';

export interface DeadLetter {
  id: string;
  task: string;
  payload: unknown;
  attempts: number;
  lastError: string;
  jobKey: string | null;
  failedAt: Date;
  retriedAt: Date | null;
}

export async function recordDeadLetter(
  db: Queryable,
  letter: Pick<DeadLetter, 'task' | 'payload' | 'attempts' | 'lastError' | 'jobKey'>,
): Promise<void> {
  await db`
    insert into job_dead_letters (task, payload, attempts, last_error, job_key)
    values (${letter.task}, ${db.json(letter.payload as never)}, ${letter.attempts}, ${letter.lastError}, ${letter.jobKey})`;
}

/** Newest first; `task` narrows to one task. */
export async function listDeadLetters(
  db: Queryable,
  options: { task?: string; limit?: number; beforeId?: string } = {},
): Promise<DeadLetter[]> {
  return db<DeadLetter[]>`
    select id::text, task, payload, attempts, last_error as "lastError", job_key as "jobKey",
           failed_at as "failedAt", retried_at as "retriedAt"
    from job_dead_letters
    where (${options.task ?? null}::text is null or task = ${options.task ?? null})
      and (${options.beforeId ?? null}::bigint is null or id < ${options.beforeId ?? null})
    order by id desc
    limit ${options.limit ?? 100}`;
}

/** Puts a dead letter back on the queue with a fresh set of attempts; false if unknown or already retried. */
export async function retryDeadLetter(db: Queryable, queue: JobQueue, id: string): Promise<boolean> {
  const [letter] = await db<{ task: string; payload: unknown; job_key: string | null }[]>`
    update job_dead_letters set retried_at = now()
    where id = ${id} and retried_at is null
    returning task, payload, job_key`;
  if (!letter) return false;
  await queue.enqueue(db, letter.task, letter.payload, letter.job_key ? { jobKey: letter.job_key } : {});
  return true;
}
