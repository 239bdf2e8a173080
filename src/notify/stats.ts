import type { Queryable } from '../platform/db/client.ts';

/**
 * The analytics counters (`notify_stats_daily`, `notify_open_latency`), maintained incrementally: every status
 * change adds one to its day, channel, country, zone and status in the transaction that writes it, so the
 * analytics API reads a few hundred rows, never the deliveries.
 */
export interface StatusCount {
  /** UTC day the delivery was created on (YYYY-MM-DD), so rates compare like with like. */
  day: string;
  channel: string;
  country: string | null;
  timeZone: string | null;
  /** 'created' for a new delivery, else the status it moved to (plus 'clicked'). */
  status: string;
  /** Seconds from sent to opened, for status 'opened'. */
  openSeconds?: number;
}

/** Bucket i holds times in [2^(i/4), 2^((i+1)/4)) seconds: ±9 % resolution from 1 s to years. */
export function latencyBucket(seconds: number): number {
  if (!(seconds >= 1)) return 0;
  return Math.min(200, Math.floor(Math.log2(seconds) * 4));
}

export function bucketSeconds(bucket: number): number {
  // The middle of the bucket (geometric).
  return 2 ** ((bucket + 0.5) / 4);
}

export async function recordStatuses(sql: Queryable, changes: readonly StatusCount[]): Promise<void> {
  if (changes.length === 0) return;
  const counts = new Map<string, { row: [string, string, string, string, string]; n: number }>();
  const latencies = new Map<string, { row: [string, string, string, string, number]; n: number }>();
  for (const c of changes) {
    const row: [string, string, string, string, string] = [
      c.day,
      c.channel,
      c.country ?? '',
      c.timeZone ?? '',
      c.status,
    ];
    const key = row.join('\u0000');
    const found = counts.get(key);
    if (found) found.n++;
    else counts.set(key, { row, n: 1 });
    if (c.status === 'opened' && c.openSeconds !== undefined) {
      const bucket = latencyBucket(c.openSeconds);
      const lrow: [string, string, string, string, number] = [
        c.day,
        c.channel,
        c.country ?? '',
        c.timeZone ?? '',
        bucket,
      ];
      const lkey = lrow.join('\u0000');
      const lfound = latencies.get(lkey);
      if (lfound) lfound.n++;
      else latencies.set(lkey, { row: lrow, n: 1 });
    }
  }
  // Sorted keys: concurrent writers lock the counter rows in one order, so they never deadlock.
  const rows = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
  await sql`
    insert into notify_stats_daily (day, channel, country, time_zone, status, count)
    select * from unnest(${rows.map((r) => r.row[0])}::date[], ${rows.map((r) => r.row[1])}::text[],
                         ${rows.map((r) => r.row[2])}::text[], ${rows.map((r) => r.row[3])}::text[],
                         ${rows.map((r) => r.row[4])}::text[], ${rows.map((r) => r.n)}::bigint[])
    on conflict (day, channel, country, time_zone, status)
    do update set count = notify_stats_daily.count + excluded.count`;
  if (latencies.size === 0) return;
  const lrows = [...latencies.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
  await sql`
    insert into notify_open_latency (day, channel, country, time_zone, bucket, count)
    select * from unnest(${lrows.map((r) => r.row[0])}::date[], ${lrows.map((r) => r.row[1])}::text[],
                         ${lrows.map((r) => r.row[2])}::text[], ${lrows.map((r) => r.row[3])}::text[],
                         ${lrows.map((r) => r.row[4])}::smallint[], ${lrows.map((r) => r.n)}::bigint[])
    on conflict (day, channel, country, time_zone, bucket)
    do update set count = notify_open_latency.count + excluded.count`;
}
