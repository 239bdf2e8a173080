import type { Queryable } from '../platform/db/client.ts';
import type { Channel } from './queue.ts';

/**
 * The delivery log (the admin panel's "Delivery log"): rows of `notify_deliveries`, newest first by id, with
 * filters. Every read is bounded to a few day partitions (`created_on`), so it never scans the whole
 * retention: by default the last `DEFAULT_SPAN_DAYS` days, at most `MAX_SPAN_DAYS`; a notification or a
 * campaign narrows it to the one day its deliveries live in. Paging is by keyset (`before_id`).
 */

export const DELIVERY_STATUSES = [
  'pending',
  'sent',
  'delivered',
  'opened',
  'failed',
  'bounced',
  'suppressed',
  'cancelled',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const DEFAULT_SPAN_DAYS = 7;
export const MAX_SPAN_DAYS = 31;
export const PAGE_DEFAULT = 50;
export const PAGE_MAX = 200;

const DAY_MS = 86_400_000;

export interface DeliveryLogQuery {
  status?: DeliveryStatus | undefined;
  channel?: Channel | undefined;
  notificationId?: number | undefined;
  campaignId?: number | undefined;
  /** An exact address (email, E.164 phone or push endpoint). */
  recipient?: string | undefined;
  userId?: number | undefined;
  /** created_at >= from. */
  from: Date;
  /** created_at < to. */
  to: Date;
  beforeId?: number | undefined;
  limit: number;
}

export interface DeliveryLogEntry {
  id: number;
  notification_id: number;
  kind: string | null;
  template_id: string | null;
  campaign_id: number | null;
  user_id: number | null;
  channel: Channel;
  recipient: string;
  status: DeliveryStatus;
  dead: boolean;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  country: string | null;
  created_at: string;
  next_attempt_at: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  opened_at: string | null;
  clicked_at: string | null;
  failed_at: string | null;
}

export class DeliveryLogRangeError extends Error {}

/** The time range: as given, or the last DEFAULT_SPAN_DAYS up to now; throws DeliveryLogRangeError. */
export function deliveryLogRange(
  from: string | undefined,
  to: string | undefined,
  now: Date = new Date(),
): { from: Date; to: Date } {
  const parse = (value: string, name: string) => {
    const ms = Date.parse(value);
    if (Number.isNaN(ms))
      throw new DeliveryLogRangeError(`${name} must be an ISO 8601 time, got ${JSON.stringify(value)}`);
    return new Date(ms);
  };
  const end = to === undefined ? now : parse(to, 'to');
  const start =
    from === undefined ? new Date(end.getTime() - DEFAULT_SPAN_DAYS * DAY_MS) : parse(from, 'from');
  if (end.getTime() <= start.getTime())
    throw new DeliveryLogRangeError(`to (${end.toISOString()}) is not after from (${start.toISOString()})`);
  if (end.getTime() - start.getTime() > MAX_SPAN_DAYS * DAY_MS)
    throw new DeliveryLogRangeError(`from..to spans more than ${MAX_SPAN_DAYS} days`);
  return { from: start, to: end };
}

const dayOf = (at: Date) => at.toISOString().slice(0, 10);
const iso = (at: Date | null) => (at ? at.toISOString() : null);

interface Row {
  id: string;
  notification_id: string;
  kind: string | null;
  template_id: string | null;
  campaign_id: string | null;
  user_id: string | null;
  channel: Channel;
  recipient: string;
  status: DeliveryStatus;
  dead: boolean;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  country: string | null;
  created_at: Date;
  next_attempt_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  failed_at: Date | null;
}

/** One page of the log (at most `limit` rows, newest first); an unknown campaign or notification is empty. */
export async function listDeliveries(sql: Queryable, query: DeliveryLogQuery): Promise<DeliveryLogEntry[]> {
  // Partitions: the UTC days of the range (created_on is the notification's day, which is at or before the
  // delivery's created_at, so the day before `from` is included too).
  let firstDay = dayOf(new Date(query.from.getTime() - DAY_MS));
  let lastDay = dayOf(query.to);
  let notificationId = query.notificationId ?? null;
  if (query.campaignId !== undefined) {
    const [campaign] = await sql<{ notification_id: string | null }[]>`
      select notification_id::text from notify_campaigns where id = ${query.campaignId}`;
    if (!campaign?.notification_id) return [];
    if (notificationId !== null && notificationId !== Number(campaign.notification_id)) return [];
    notificationId = Number(campaign.notification_id);
  }
  if (notificationId !== null) {
    const [notification] = await sql<{ created_on: string }[]>`
      select created_on::text from notify_notifications where id = ${notificationId}`;
    if (!notification) return [];
    if (notification.created_on < firstDay || notification.created_on > lastDay) return [];
    firstDay = notification.created_on;
    lastDay = notification.created_on;
  }
  const rows = await sql<Row[]>`
    select d.id::text, d.notification_id::text, n.kind, n.template_id,
           case when n.kind = 'bulk' then n.source_id::text end as campaign_id,
           d.user_id::text, d.channel, d.recipient, d.status, d.dead, d.attempts, d.provider, d.last_error,
           d.country, d.created_at, case when d.status = 'pending' then d.next_attempt_at end as next_attempt_at,
           d.sent_at, d.delivered_at, d.opened_at, d.clicked_at, d.failed_at
    from notify_deliveries d
    left join notify_notifications n on n.id = d.notification_id
    where d.created_on between ${firstDay}::date and ${lastDay}::date
      and d.created_at >= ${query.from} and d.created_at < ${query.to}
      and (${notificationId}::bigint is null or d.notification_id = ${notificationId}::bigint)
      and (${query.status ?? null}::text is null or d.status = ${query.status ?? null}::text)
      and (${query.channel ?? null}::text is null or d.channel = ${query.channel ?? null}::text)
      and (${query.recipient ?? null}::text is null or d.recipient = ${query.recipient ?? null}::text)
      and (${query.userId ?? null}::bigint is null or d.user_id = ${query.userId ?? null}::bigint)
      and (${query.beforeId ?? null}::bigint is null or d.id < ${query.beforeId ?? null}::bigint)
    order by d.id desc
    limit ${query.limit}`;
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    notification_id: Number(r.notification_id),
    campaign_id: r.campaign_id === null ? null : Number(r.campaign_id),
    user_id: r.user_id === null ? null : Number(r.user_id),
    created_at: r.created_at.toISOString(),
    next_attempt_at: iso(r.next_attempt_at),
    sent_at: iso(r.sent_at),
    delivered_at: iso(r.delivered_at),
    opened_at: iso(r.opened_at),
    clicked_at: iso(r.clicked_at),
    failed_at: iso(r.failed_at),
  }));
}
