import type { Queryable } from '../platform/db/client.ts';

/** Counts stop here (shown as "at least"): a queue of millions is not counted row by row every few seconds. */
export const OVERVIEW_COUNT_CAP = 100_000;

export interface NotifyOverview {
  /** Deliveries sent (sent, delivered or opened since) in the last 60 seconds. */
  sent_last_minute: number;
  /** Pending deliveries, due or not (capped at OVERVIEW_COUNT_CAP). */
  queued: number;
  /** Pending deliveries whose time has come (capped). */
  due: number;
  /** Claimed by a worker right now (a live lease). */
  in_flight: number;
  failed_last_minute: number;
  failed_last_hour: number;
  /** Dead letters (failed for good, waiting for a retry; capped). */
  dead_letters: number;
  /** True when a capped count reached the cap. */
  capped: boolean;
}

/**
 * The notify queue at a glance, for the admin dashboard. Read-only. Queue depth, leases and dead letters
 * come from the partial indexes `notify_deliveries_due` (status 'pending') and `notify_deliveries_dead`;
 * sent and failed counts scan only the partitions of today and yesterday (UTC, pruned at run time), since
 * `sent_at`/`failed_at` have no index: a delivery created earlier and sent or failed now is not counted.
 */
export async function notifyOverview(sql: Queryable): Promise<NotifyOverview> {
  const [row] = await sql<
    {
      queued: string;
      due: string;
      in_flight: string;
      sent_last_minute: string;
      failed_last_minute: string;
      failed_last_hour: string;
      dead_letters: string;
    }[]
  >`
    select
      (select count(*) from (select 1 from notify_deliveries where status = 'pending'
                             limit ${OVERVIEW_COUNT_CAP}) q) as queued,
      (select count(*) from (select 1 from notify_deliveries where status = 'pending' and next_attempt_at <= now()
                             limit ${OVERVIEW_COUNT_CAP}) q) as due,
      (select count(*) from (select 1 from notify_deliveries where status = 'pending' and lease_until > now()
                             limit ${OVERVIEW_COUNT_CAP}) q) as in_flight,
      (select count(*) from notify_deliveries
        where created_on >= (now() at time zone 'utc')::date - 1
          and sent_at > now() - interval '1 minute') as sent_last_minute,
      f.failed_last_minute, f.failed_last_hour,
      (select count(*) from (select 1 from notify_deliveries where dead limit ${OVERVIEW_COUNT_CAP}) q) as dead_letters
    from (
      select count(*) filter (where failed_at > now() - interval '1 minute') as failed_last_minute,
             count(*) as failed_last_hour
      from notify_deliveries
      where created_on >= (now() at time zone 'utc')::date - 1
        and status in ('failed', 'bounced') and failed_at > now() - interval '1 hour'
    ) f`;
  const n = (value: string | undefined) => Number(value ?? 0);
  const queued = n(row?.queued);
  const due = n(row?.due);
  const dead = n(row?.dead_letters);
  return {
    sent_last_minute: n(row?.sent_last_minute),
    queued,
    due,
    in_flight: n(row?.in_flight),
    failed_last_minute: n(row?.failed_last_minute),
    failed_last_hour: n(row?.failed_last_hour),
    dead_letters: dead,
    capped: queued >= OVERVIEW_COUNT_CAP || due >= OVERVIEW_COUNT_CAP || dead >= OVERVIEW_COUNT_CAP,
  };
}
