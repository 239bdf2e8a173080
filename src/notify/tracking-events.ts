import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../platform/db/client.ts';
import { recordStatuses, type StatusCount } from './stats.ts';

/**
 * What tracking does to deliveries: opens, clicks, unsubscribes and provider callbacks. Each change is
 * conditional on the current status, so a repeat (a reloaded pixel, a provider retrying a callback) changes
 * nothing and counts nothing twice; the counters move in the caller's transaction.
 */

export interface DeliveryRef {
  deliveryId: number;
  createdOn: string;
}

interface ChangedRow {
  channel: string;
  created_on: string;
  country: string | null;
  time_zone: string | null;
}

const count = (row: ChangedRow, status: string, openSeconds?: number): StatusCount => ({
  day: row.created_on,
  channel: row.channel,
  country: row.country,
  timeZone: row.time_zone,
  status,
  ...(openSeconds === undefined ? {} : { openSeconds }),
});

/** First open of a sent or delivered delivery: status 'opened' and its time to open. True when it was the first. */
export async function recordOpen(sql: Queryable, ref: DeliveryRef): Promise<boolean> {
  const rows = await sql<(ChangedRow & { open_seconds: number | null })[]>`
    update notify_deliveries set status = 'opened', opened_at = now()
    where created_on = ${ref.createdOn}::date and id = ${ref.deliveryId}
      and status in ('sent', 'delivered') and opened_at is null
    returning channel, created_on::text, country, time_zone,
              extract(epoch from (opened_at - sent_at))::float8 as open_seconds`;
  const row = rows[0];
  if (!row) return false;
  await recordStatuses(sql, [count(row, 'opened', Math.max(0, row.open_seconds ?? 0))]);
  return true;
}

/** First click (an open too, when not opened yet). True when it was the first click. */
export async function recordClick(sql: Queryable, ref: DeliveryRef): Promise<boolean> {
  await recordOpen(sql, ref);
  const rows = await sql<ChangedRow[]>`
    update notify_deliveries set clicked_at = now()
    where created_on = ${ref.createdOn}::date and id = ${ref.deliveryId}
      and status in ('sent', 'delivered', 'opened') and clicked_at is null
    returning channel, created_on::text, country, time_zone`;
  const row = rows[0];
  if (!row) return false;
  await recordStatuses(sql, [count(row, 'clicked')]);
  return true;
}

export interface Unsubscribed {
  channel: string;
  address: string;
  category: string;
  locale: string;
}

/** The suppression list's form of an address: emails compare case-insensitively. */
export function suppressionAddress(channel: string, recipient: string): string {
  return channel === 'email' ? recipient.trim().toLowerCase() : recipient;
}

/**
 * Adds the suppression of the delivery's address for its notification's category, or every category ('*').
 * Idempotent. Null when the delivery is gone (its partition dropped after the retention period).
 */
export async function unsubscribe(
  sql: Queryable,
  ref: DeliveryRef,
  all: boolean,
): Promise<Unsubscribed | null> {
  const target = await unsubscribeTarget(sql, ref);
  if (!target) return null;
  const category = all ? '*' : target.category;
  await sql`
    insert into notify_suppressions (channel, address, category, reason, delivery_id)
    values (${target.channel}, ${target.address}, ${category}, 'unsubscribe', ${ref.deliveryId})
    on conflict (channel, address, category) do nothing`;
  return { ...target, category };
}

/** Who a token would unsubscribe, for the confirmation page (no change made). */
export async function unsubscribeTarget(sql: Queryable, ref: DeliveryRef): Promise<Unsubscribed | null> {
  const [row] = await sql<{ channel: string; recipient: string; category: string; locale: string | null }[]>`
    select d.channel, d.recipient, n.category, c.locale
    from notify_deliveries d
    join notify_notifications n on n.id = d.notification_id
    left join notify_contacts c on c.user_id = d.user_id
    where d.created_on = ${ref.createdOn}::date and d.id = ${ref.deliveryId}`;
  if (!row) return null;
  return {
    channel: row.channel,
    address: suppressionAddress(row.channel, row.recipient),
    category: row.category,
    locale: row.locale ?? 'en',
  };
}

// --- Provider callbacks ---------------------------------------------------------------------------------

export const CALLBACK_SIGNATURE_HEADER = 'x-notify-signature';

/**
 * The platform's own callback signature: `sha256=<hex HMAC-SHA256 of the raw body>` under the callbacks key
 * (the same scheme as the payment gateway's webhooks). Real providers each sign their own way (SES via SNS
 * certificates, Twilio's X-Twilio-Signature…); an adapter in front translates them into this.
 */
export function signCallback(key: Buffer, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

export function verifyCallback(
  key: Buffer,
  body: Uint8Array,
  header: string | string[] | undefined,
): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^\s*sha256=([0-9a-fA-F]{64})\s*$/.exec(value) : null;
  if (!match) return false;
  const expected = createHmac('sha256', key).update(body).digest();
  return timingSafeEqual(Buffer.from(match[1]!, 'hex'), expected);
}

export type CallbackType = 'delivered' | 'bounce' | 'complaint' | 'failed';
export const CALLBACK_TYPES: readonly CallbackType[] = ['delivered', 'bounce', 'complaint', 'failed'];
export const MAX_CALLBACK_EVENTS = 1000;

export interface ProviderEvent {
  messageId?: string;
  deliveryId?: number;
  type: CallbackType;
  /** For a bounce: hard (the address does not exist: suppressed) or soft (try later: noted only). */
  bounceType: 'hard' | 'soft';
  at: Date | null;
  reason: string | null;
}

/** A callback body that is not one: what is wrong with it, for a 400. */
export class CallbackBodyError extends Error {}

/** Parses `{events: [...]}`; throws CallbackBodyError naming the first thing wrong. */
export function parseCallbackBody(raw: Uint8Array): ProviderEvent[] {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new CallbackBodyError('the body is not JSON');
  }
  const events = (body as { events?: unknown } | null)?.events;
  if (typeof body !== 'object' || body === null || !Array.isArray(events))
    throw new CallbackBodyError('the body must be {"events": [...]}');
  if (events.length > MAX_CALLBACK_EVENTS)
    throw new CallbackBodyError(`at most ${MAX_CALLBACK_EVENTS} events per callback`);
  return events.map((value, i): ProviderEvent => {
    const where = `events[${i}]`;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new CallbackBodyError(`${where} must be an object`);
    const e = value as Record<string, unknown>;
    const messageId = e.message_id;
    const deliveryId = e.delivery_id;
    if (
      messageId !== undefined &&
      (typeof messageId !== 'string' || messageId === '' || messageId.length > 500)
    )
      throw new CallbackBodyError(`${where}.message_id must be a non-empty string`);
    if (
      deliveryId !== undefined &&
      (typeof deliveryId !== 'number' || !Number.isSafeInteger(deliveryId) || deliveryId < 1)
    )
      throw new CallbackBodyError(`${where}.delivery_id must be a positive integer`);
    if (messageId === undefined && deliveryId === undefined)
      throw new CallbackBodyError(`${where} needs message_id or delivery_id`);
    if (!CALLBACK_TYPES.includes(e.type as CallbackType))
      throw new CallbackBodyError(`${where}.type must be one of ${CALLBACK_TYPES.join(', ')}`);
    if (e.bounce_type !== undefined && e.bounce_type !== 'hard' && e.bounce_type !== 'soft')
      throw new CallbackBodyError(`${where}.bounce_type must be hard or soft`);
    let at: Date | null = null;
    if (e.at !== undefined) {
      at = typeof e.at === 'string' ? new Date(e.at) : null;
      if (!at || Number.isNaN(at.getTime()))
        throw new CallbackBodyError(`${where}.at must be an ISO date-time`);
    }
    if (e.reason !== undefined && typeof e.reason !== 'string')
      throw new CallbackBodyError(`${where}.reason must be a string`);
    return {
      ...(messageId === undefined ? {} : { messageId: messageId as string }),
      ...(deliveryId === undefined ? {} : { deliveryId: deliveryId as number }),
      type: e.type as CallbackType,
      // A bounce that does not say is taken as permanent: that is what providers report without a qualifier.
      bounceType: (e.bounce_type as 'hard' | 'soft' | undefined) ?? 'hard',
      at,
      // Kept short and free of NULs: it goes into a text column and is shown in the API.
      reason: typeof e.reason === 'string' ? e.reason.replaceAll('\u0000', '').slice(0, 1000) : null,
    };
  });
}

export type CallbackOutcome = 'applied' | 'unchanged' | 'unknown';

interface FoundDelivery extends ChangedRow {
  id: string;
  recipient: string;
  status: string;
}

async function findDelivery(
  sql: Queryable,
  channel: string,
  event: ProviderEvent,
): Promise<FoundDelivery | null> {
  const select = sql`select id::text, created_on::text, channel, recipient, status, country, time_zone
                     from notify_deliveries`;
  const [row] =
    event.deliveryId !== undefined
      ? await sql<FoundDelivery[]>`${select} where id = ${event.deliveryId} and channel = ${channel}
                                   order by created_on desc limit 1 for update`
      : await sql<
          FoundDelivery[]
        >`${select} where provider_message_id = ${event.messageId!} and channel = ${channel}
                                   order by created_on desc limit 1 for update`;
  return row ?? null;
}

/**
 * Applies one provider event (in the caller's transaction). delivered: sent → delivered (an opened one keeps
 * its status and gets delivered_at); hard bounce: → bounced and the address suppressed for everything; soft
 * bounce: the reason noted; complaint: the address suppressed, the status kept; failed: sent → failed.
 */
export async function applyProviderEvent(
  sql: Queryable,
  channel: string,
  event: ProviderEvent,
): Promise<CallbackOutcome> {
  const found = await findDelivery(sql, channel, event);
  if (!found) return 'unknown';
  const where = sql`where created_on = ${found.created_on}::date and id = ${found.id}`;
  const at = event.at ?? new Date();
  const changes: StatusCount[] = [];
  let applied = false;
  switch (event.type) {
    case 'delivered': {
      // Counted once, when delivered_at is first set, also for one opened before its callback came.
      const rows = await sql<{ id: string }[]>`
        update notify_deliveries
        set status = case when status = 'sent' then 'delivered' else status end, delivered_at = ${at}
        ${where} and status in ('sent', 'opened') and delivered_at is null returning id::text`;
      if (rows.length > 0) changes.push(count(found, 'delivered'));
      applied = rows.length > 0;
      break;
    }
    case 'bounce': {
      if (event.bounceType === 'soft') {
        const rows = await sql`
          update notify_deliveries set last_error = ${`soft bounce: ${event.reason ?? 'no reason given'}`}
          ${where} and status in ('sent', 'delivered') returning id`;
        applied = rows.length > 0;
        break;
      }
      const rows = await sql`
        update notify_deliveries
        set status = 'bounced', failed_at = ${at}, last_error = ${`bounce: ${event.reason ?? 'hard bounce'}`}
        ${where} and status in ('sent', 'delivered', 'opened') returning id`;
      if (rows.length > 0) changes.push(count(found, 'bounced'));
      applied = (await suppress(sql, found, 'bounce')) || rows.length > 0;
      break;
    }
    case 'complaint':
      applied = await suppress(sql, found, 'complaint');
      break;
    case 'failed': {
      const rows = await sql`
        update notify_deliveries
        set status = 'failed', failed_at = ${at}, last_error = ${event.reason ?? 'failed at the provider'}
        ${where} and status = 'sent' returning id`;
      if (rows.length > 0) changes.push(count(found, 'failed'));
      applied = rows.length > 0;
      break;
    }
  }
  await recordStatuses(sql, changes);
  return applied ? 'applied' : 'unchanged';
}

async function suppress(
  sql: Queryable,
  found: FoundDelivery,
  reason: 'bounce' | 'complaint',
): Promise<boolean> {
  const rows = await sql`
    insert into notify_suppressions (channel, address, category, reason, delivery_id)
    values (${found.channel}, ${suppressionAddress(found.channel, found.recipient)}, '*', ${reason}, ${found.id})
    on conflict (channel, address, category) do nothing returning address`;
  return rows.length > 0;
}
