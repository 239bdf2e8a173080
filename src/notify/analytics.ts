import type { Queryable } from '../platform/db/client.ts';
import { bucketSeconds } from './stats.ts';

/**
 * The analytics report (FR-007), read only from the counters (`notify_stats_daily`, `notify_open_latency`):
 * a few rows per day, channel, country and zone, never the deliveries. Days are the days deliveries were
 * created on (UTC), so a day's rates compare its sends with what became of exactly those sends.
 */

export const GROUP_BY = ['day', 'channel', 'country', 'time_zone'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export const COUNTED_STATUSES = [
  'created',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'failed',
  'bounced',
  'suppressed',
  'cancelled',
] as const;
export type CountedStatus = (typeof COUNTED_STATUSES)[number];

export interface AnalyticsQuery {
  from: string;
  to: string;
  channel?: string;
  groupBy: GroupBy;
}

export interface AnalyticsNumbers {
  counts: Record<CountedStatus, number>;
  /** delivered / sent. */
  delivery_rate: number | null;
  /** opened / sent (the common definition: not every provider reports deliveries). */
  open_rate: number | null;
  /** clicked / sent. */
  click_rate: number | null;
  /** Seconds from sent to first open; null when nothing was opened (or, for time zones, not kept per zone). */
  time_to_open: { p50: number; p95: number } | null;
}

export interface AnalyticsGroup extends AnalyticsNumbers {
  /** The day (YYYY-MM-DD), channel, country or time zone; null for deliveries with no country or zone. */
  key: string | null;
}

export interface AnalyticsReport {
  from: string;
  to: string;
  group_by: GroupBy;
  channel: string | null;
  groups: AnalyticsGroup[];
  totals: AnalyticsNumbers;
}

const rate = (part: number, whole: number) =>
  whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;

function emptyCounts(): Record<CountedStatus, number> {
  return Object.fromEntries(COUNTED_STATUSES.map((s) => [s, 0])) as Record<CountedStatus, number>;
}

/** p50 and p95 of a histogram of latency buckets (the middle of the bucket the quantile falls in). */
export function histogramQuantiles(
  buckets: ReadonlyMap<number, number>,
): { p50: number; p95: number } | null {
  const sorted = [...buckets.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const quantile = (q: number) => {
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (const [bucket, n] of sorted) {
      seen += n;
      if (seen >= rank) return Math.round(bucketSeconds(bucket) * 10) / 10;
    }
    return Math.round(bucketSeconds(sorted.at(-1)![0]) * 10) / 10;
  };
  return { p50: quantile(0.5), p95: quantile(0.95) };
}

function numbers(
  counts: Record<CountedStatus, number>,
  latency: ReadonlyMap<number, number> | null,
): AnalyticsNumbers {
  return {
    counts,
    delivery_rate: rate(counts.delivered, counts.sent),
    open_rate: rate(counts.opened, counts.sent),
    click_rate: rate(counts.clicked, counts.sent),
    time_to_open: latency ? histogramQuantiles(latency) : null,
  };
}

export async function notifyAnalytics(sql: Queryable, query: AnalyticsQuery): Promise<AnalyticsReport> {
  const channel = query.channel ?? null;
  // The key column by name from a fixed list (never from the caller's text).
  const keyOf = {
    day: sql`day::text`,
    channel: sql`channel`,
    country: sql`nullif(country, '')`,
    time_zone: sql`nullif(time_zone, '')`,
  }[query.groupBy];
  // The two reads are independent: run side by side (on a pool they take two connections).
  const countersQuery = sql<{ key: string | null; status: string; n: string }[]>`
    select ${keyOf} as key, status, sum(count)::text as n
    from notify_stats_daily
    where day between ${query.from}::date and ${query.to}::date
      and (${channel}::text is null or channel = ${channel}::text)
    group by 1, 2`;
  const latencyKey = keyOf;
  const latenciesQuery = sql<{ key: string | null; bucket: number; n: string }[]>`
    select ${latencyKey} as key, bucket, sum(count)::text as n
    from notify_open_latency
    where day between ${query.from}::date and ${query.to}::date
      and (${channel}::text is null or channel = ${channel}::text)
    group by 1, 2`;
  const [counters, latencies] = await Promise.all([countersQuery, latenciesQuery]);

  const groups = new Map<string | null, Record<CountedStatus, number>>();
  const totals = emptyCounts();
  for (const row of counters) {
    if (!(COUNTED_STATUSES as readonly string[]).includes(row.status)) continue;
    const status = row.status as CountedStatus;
    const counts = groups.get(row.key) ?? emptyCounts();
    groups.set(row.key, counts);
    const n = Number(row.n);
    counts[status] += n;
    totals[status] += n;
  }
  const groupLatency = new Map<string | null, Map<number, number>>();
  const totalLatency = new Map<number, number>();
  for (const row of latencies) {
    const n = Number(row.n);
    const histogram = groupLatency.get(row.key) ?? new Map<number, number>();
    groupLatency.set(row.key, histogram);
    histogram.set(row.bucket, (histogram.get(row.bucket) ?? 0) + n);
    totalLatency.set(row.bucket, (totalLatency.get(row.bucket) ?? 0) + n);
  }
  const keys = [...groups.keys()].sort((a, b) =>
    a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1,
  );
  return {
    from: query.from,
    to: query.to,
    group_by: query.groupBy,
    channel,
    groups: keys.map((key) => ({
      key,
      ...numbers(groups.get(key)!, groupLatency.get(key) ?? null),
    })),
    totals: numbers(totals, totalLatency),
  };
}

const DAY_MS = 86_400_000;
export const MAX_SPAN_DAYS = 366;
export const DEFAULT_SPAN_DAYS = 30;

export class AnalyticsRangeError extends Error {}

function parseDay(value: string, name: string): number {
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(value) ||
    Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 10) !== value
  )
    throw new AnalyticsRangeError(`${name} must be a date (YYYY-MM-DD), got ${JSON.stringify(value)}`);
  return ms;
}

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** from/to as given, or the last 30 days up to today (UTC); throws AnalyticsRangeError naming what is wrong. */
export function analyticsRange(
  from: string | undefined,
  to: string | undefined,
  now: Date = new Date(),
): { from: string; to: string } {
  const toMs = to === undefined ? Date.parse(`${dayText(now.getTime())}T00:00:00Z`) : parseDay(to, 'to');
  const fromMs = from === undefined ? toMs - (DEFAULT_SPAN_DAYS - 1) * DAY_MS : parseDay(from, 'from');
  if (toMs < fromMs)
    throw new AnalyticsRangeError(`to (${dayText(toMs)}) is before from (${dayText(fromMs)})`);
  const span = (toMs - fromMs) / DAY_MS + 1;
  if (span > MAX_SPAN_DAYS)
    throw new AnalyticsRangeError(`from..to spans ${span} days; at most ${MAX_SPAN_DAYS}`);
  return { from: dayText(fromMs), to: dayText(toMs) };
}

export interface OpenLatencyBucket {
  /** The histogram bucket (i covers [2^(i/4), 2^((i+1)/4)) seconds; bucket 0 also holds anything under 1 s). */
  bucket: number;
  from_seconds: number;
  to_seconds: number;
  count: number;
}

/**
 * The time-to-open distribution of the deliveries created from..to (UTC days): the non-empty buckets of
 * `notify_open_latency`, in order. A few hundred counter rows at most, never the deliveries.
 */
export async function openLatencyHistogram(
  sql: Queryable,
  query: { from: string; to: string; channel?: string },
): Promise<OpenLatencyBucket[]> {
  const channel = query.channel ?? null;
  const rows = await sql<{ bucket: number; n: string }[]>`
    select bucket, sum(count)::text as n
    from notify_open_latency
    where day between ${query.from}::date and ${query.to}::date
      and (${channel}::text is null or channel = ${channel}::text)
    group by bucket
    having sum(count) > 0
    order by bucket`;
  const edge = (i: number) => Math.round(2 ** (i / 4) * 100) / 100;
  return rows.map((r) => ({
    bucket: r.bucket,
    from_seconds: r.bucket === 0 ? 0 : edge(r.bucket),
    to_seconds: edge(r.bucket + 1),
    count: Number(r.n),
  }));
}
