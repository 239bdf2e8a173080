import type { Queryable } from '../platform/db/client.ts';
import { notifyError } from './errors.ts';
import type { Channel } from './queue.ts';

export interface DeadLetter {
  id: number;
  notification_id: number;
  channel: Channel;
  recipient: string;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  failed_at: string | null;
  created_at: string;
}

/**
 * Deliveries that failed for good (a permanent refusal, or every attempt used), newest first by id, a page
 * after `after`. They keep their row (status failed, dead) until retried or dropped with their partition.
 */
export async function listDeadLetters(
  sql: Queryable,
  options: { channel?: Channel | undefined; after?: number | undefined; limit: number },
): Promise<DeadLetter[]> {
  const rows = await sql<
    (Omit<DeadLetter, 'id' | 'notification_id' | 'failed_at' | 'created_at'> & {
      id: string;
      notification_id: string;
      failed_at: Date | null;
      created_at: Date;
    })[]
  >`
    select id::text, notification_id::text, channel, recipient, attempts, provider, last_error, failed_at, created_at
    from notify_deliveries
    where dead and (${options.channel ?? null}::text is null or channel = ${options.channel ?? null})
      and (${options.after ?? null}::bigint is null or id < ${options.after ?? null})
    order by id desc
    limit ${options.limit}`;
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    notification_id: Number(r.notification_id),
    failed_at: r.failed_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
  }));
}

/**
 * Puts dead letters back in the queue with fresh attempts (by id, or every one of a channel). Returns how
 * many went back. Their analytics keep the earlier 'failed' count: a retried letter that is then sent counts
 * as sent too, which is what happened.
 */
export async function retryDeadLetters(
  sql: Queryable,
  which: { id: number } | { channel?: Channel | undefined },
): Promise<number> {
  const rows =
    'id' in which
      ? await sql`
          update notify_deliveries
          set dead = false, status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = null,
              failed_at = null
          where id = ${which.id} and dead
          returning id`
      : await sql`
          update notify_deliveries
          set dead = false, status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = null,
              failed_at = null
          where dead and (${which.channel ?? null}::text is null or channel = ${which.channel ?? null})
          returning id`;
  if ('id' in which && rows.length === 0)
    throw notifyError('NOTIFY_DEAD_LETTER_NOT_FOUND', `no dead letter ${which.id}`);
  if (rows.length > 0) await sql`select pg_notify('notify_deliveries', 'retry')`;
  return rows.length;
}
