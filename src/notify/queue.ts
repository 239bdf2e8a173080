import type { Queryable } from '../platform/db/client.ts';
import { type QuietHours, releaseAt } from './quiet-hours.ts';
import { recordStatuses } from './stats.ts';
import type { Channel } from './templates/index.ts';

/**
 * The way into the delivery queue (docs/notify.md, "Delivery engine"), for every producer: the instant API,
 * the events consumer, schedules and campaigns. A notification is the message; its deliveries are the
 * per-recipient rows the workers claim. Both are written in the caller's transaction, so a producer's own
 * progress (an idempotency key, an event cursor, a campaign cursor) commits with them or not at all.
 */

export type { Channel };
export const CHANNELS: readonly Channel[] = ['email', 'push', 'sms'];

/** Lower goes first; instant also has a lane of its own in every worker. */
export const PRIORITY = { instant: 0, event: 1, scheduled: 2, bulk: 3 } as const;
export type NotificationKind = keyof typeof PRIORITY;

export const TRANSACTIONAL = 'transactional';

export interface NotificationInput {
  /** An id taken from the sequence beforehand (the idempotency key row names it before it exists). */
  id?: number;
  kind: NotificationKind;
  channel: Channel;
  category?: string;
  templateId?: string | null;
  templateVersion?: number | null;
  /** Ad-hoc content when there is no template. */
  content?: { subject?: string; body: string } | null;
  variables?: Record<string, unknown>;
  contentId?: string | null;
  sourceId?: number | null;
  createdBy?: string | null;
}

export interface NotificationRef {
  id: number;
  /** UTC day (YYYY-MM-DD): the partition of its deliveries. */
  createdOn: string;
  kind: NotificationKind;
  channel: Channel;
  category: string;
}

export interface Recipient {
  userId: number | null;
  /** The address: email, E.164 phone or push endpoint. */
  recipient: string;
  /** Unique per recipient within a notification: 'user:42', 'email:a@b.c', 'push:17'… */
  recipientKey: string;
  country?: string | null;
  timeZone?: string | null;
  variables?: Record<string, unknown> | null;
  /** Set when the recipient must not be sent to (preferences, suppression list): recorded, never sent. */
  suppressed?: string | null;
  /** Not before this (e.g. a scheduled run at the recipient's local time). */
  notBefore?: Date | null;
}

const partitionsMade = new Set<string>();

/** Makes the day's partition (once per process and day; the SQL function is idempotent and race-safe). */
export async function ensurePartition(sql: Queryable, day: string): Promise<void> {
  if (partitionsMade.has(day)) return;
  await sql`select notify_ensure_partition(${day}::date)`;
  partitionsMade.add(day);
}

/** Forgets which partitions exist (after a test database is dropped and made anew). */
export function forgetPartitions(): void {
  partitionsMade.clear();
}

export async function createNotification(sql: Queryable, input: NotificationInput): Promise<NotificationRef> {
  const category = input.category ?? TRANSACTIONAL;
  const [row] = await sql<{ id: string; created_on: string }[]>`
    insert into notify_notifications
      (id, kind, channel, category, template_id, template_version, content, variables, content_id, source_id,
       created_on, created_by)
    overriding system value
    values (coalesce(${input.id ?? null}::bigint, nextval(pg_get_serial_sequence('notify_notifications', 'id'))),
            ${input.kind}, ${input.channel}, ${category}, ${input.templateId ?? null},
            ${input.templateVersion ?? null}, ${input.content ? sql.json(input.content) : null},
            ${sql.json((input.variables ?? {}) as never)}, ${input.contentId ?? null}, ${input.sourceId ?? null},
            (now() at time zone 'UTC')::date, ${input.createdBy ?? null})
    returning id::text, created_on::text`;
  await ensurePartition(sql, row!.created_on);
  return {
    id: Number(row!.id),
    createdOn: row!.created_on,
    kind: input.kind,
    channel: input.channel,
    category,
  };
}

/**
 * Adds the deliveries of a notification; a recipient already there is skipped (the unique key), so a
 * producer that repeats itself after a crash adds nothing twice. Returns the ids of the rows inserted.
 */
export async function enqueueDeliveries(
  sql: Queryable,
  notification: NotificationRef,
  recipients: readonly Recipient[],
  quiet: QuietHours,
  now: Date = new Date(),
): Promise<number[]> {
  if (recipients.length === 0) return [];
  const userIds: (string | null)[] = [];
  const addresses: string[] = [];
  const keys: string[] = [];
  const statuses: string[] = [];
  const due: string[] = [];
  const variables: (string | null)[] = [];
  const countries: (string | null)[] = [];
  const zones: (string | null)[] = [];
  const errors: (string | null)[] = [];
  for (const r of recipients) {
    userIds.push(r.userId === null ? null : String(r.userId));
    addresses.push(r.recipient);
    keys.push(r.recipientKey);
    statuses.push(r.suppressed ? 'suppressed' : 'pending');
    const notBefore = r.notBefore && r.notBefore > now ? r.notBefore : now;
    due.push((releaseAt(quiet, notification.category, r.timeZone, notBefore) ?? notBefore).toISOString());
    variables.push(r.variables ? JSON.stringify(r.variables) : null);
    countries.push(r.country ?? null);
    zones.push(r.timeZone ?? null);
    errors.push(r.suppressed ?? null);
  }
  const inserted = await sql<
    { id: string; status: string; country: string | null; time_zone: string | null }[]
  >`
    insert into notify_deliveries
      (created_on, notification_id, user_id, channel, recipient, recipient_key, priority, status,
       next_attempt_at, variables, country, time_zone, last_error, failed_at)
    select ${notification.createdOn}::date, ${notification.id}, u.user_id, ${notification.channel}, u.address, u.key,
           ${PRIORITY[notification.kind]}, u.status, u.due, u.variables, u.country, u.zone, u.error,
           case when u.status = 'suppressed' then now() end
    from unnest(${userIds}::bigint[], ${addresses}::text[], ${keys}::text[], ${statuses}::text[],
                ${due}::timestamptz[], ${variables}::text[]::jsonb[], ${countries}::text[], ${zones}::text[], ${errors}::text[])
         as u(user_id, address, key, status, due, variables, country, zone, error)
    on conflict (created_on, notification_id, recipient_key, channel) do nothing
    returning id::text, status, country, time_zone`;
  await recordStatuses(
    sql,
    inserted.flatMap((row) => {
      const base = {
        day: notification.createdOn,
        channel: notification.channel,
        country: row.country,
        timeZone: row.time_zone,
      };
      return row.status === 'suppressed'
        ? [
            { ...base, status: 'created' },
            { ...base, status: 'suppressed' },
          ]
        : [{ ...base, status: 'created' }];
    }),
  );
  if (inserted.length > 0) await sql`select pg_notify('notify_deliveries', ${notification.kind})`;
  return inserted.map((row) => Number(row.id));
}

interface ContactRow {
  user_id: string;
  email: string | null;
  phone: string | null;
  time_zone: string;
  country: string | null;
  locale: string;
  active: boolean;
  preferences: { channels?: Record<string, boolean>; categories?: Record<string, Record<string, boolean>> };
  suppressed: string | null;
  subscriptions: { id: number; endpoint: string }[] | null;
}

/** Why a contact must not get `channel` mail of `category`, if it must not. */
function optedOut(contact: ContactRow, channel: Channel, category: string): string | null {
  if (category !== TRANSACTIONAL && !contact.active) return 'contact inactive';
  const prefs = contact.preferences ?? {};
  if (category !== TRANSACTIONAL && prefs.channels?.[channel] === false)
    return `contact opted out of ${channel}`;
  if (prefs.categories?.[category]?.[channel] === false || prefs.categories?.[category]?.all === false)
    return `contact opted out of ${category} ${channel}`;
  return null;
}

/**
 * The recipients of `channel` among these users (their contacts; a user without a contact gets one made from
 * the account's email): one per user for email and SMS, one per push subscription. Users with no address for
 * the channel are left out and returned in `missing`.
 */
export async function recipientsForUsers(
  sql: Queryable,
  channel: Channel,
  category: string,
  userIds: readonly number[],
): Promise<{ recipients: Recipient[]; missing: number[] }> {
  if (userIds.length === 0) return { recipients: [], missing: [] };
  const ids = userIds.map(String);
  const rows = await sql<ContactRow[]>`
    select u.id::text as user_id,
           coalesce(c.email, u.email) as email, c.phone, coalesce(c.time_zone, 'UTC') as time_zone, c.country,
           coalesce(c.locale, 'en') as locale, coalesce(c.active, u.is_active) as active,
           coalesce(c.preferences, '{}') as preferences,
           (select s.reason from notify_suppressions s
             where s.channel = ${channel}
               and s.address = case ${channel} when 'email' then lower(coalesce(c.email, u.email)) else c.phone end
               and s.category in ('*', ${category})
             limit 1) as suppressed,
           case when ${channel} = 'push' then
             (select json_agg(json_build_object('id', p.id, 'endpoint', p.endpoint) order by p.id)
              from notify_push_subscriptions p where p.user_id = u.id) end as subscriptions
    from users u left join notify_contacts c on c.user_id = u.id
    where u.id = any(${ids}::bigint[])`;
  const recipients: Recipient[] = [];
  const found = new Set<number>();
  for (const row of rows) {
    const userId = Number(row.user_id);
    const base = {
      userId,
      country: row.country,
      timeZone: row.time_zone,
      suppressed:
        optedOut(row, channel, category) ?? (row.suppressed ? `address suppressed: ${row.suppressed}` : null),
    };
    if (channel === 'push') {
      for (const sub of row.subscriptions ?? []) {
        recipients.push({ ...base, recipient: sub.endpoint, recipientKey: `push:${sub.id}` });
        found.add(userId);
      }
    } else {
      const address = channel === 'email' ? row.email : row.phone;
      if (!address) continue;
      recipients.push({ ...base, recipient: address, recipientKey: `user:${userId}` });
      found.add(userId);
    }
  }
  return { recipients, missing: userIds.filter((id) => !found.has(id)) };
}

/** A recipient given by address (`to: {email | phone}`), checked against the suppression list. */
export async function recipientForAddress(
  sql: Queryable,
  channel: Channel,
  category: string,
  address: string,
): Promise<Recipient> {
  const normalized = channel === 'email' ? address.toLowerCase() : address;
  const [suppressed] = await sql<{ reason: string }[]>`
    select reason from notify_suppressions
    where channel = ${channel} and address = ${normalized} and category in ('*', ${category}) limit 1`;
  return {
    userId: null,
    recipient: address,
    recipientKey: `${channel === 'email' ? 'email' : 'phone'}:${normalized}`,
    suppressed: suppressed ? `address suppressed: ${suppressed.reason}` : null,
  };
}
