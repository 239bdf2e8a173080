import type { Sql } from '../../platform/db/client.ts';
import { recordStatuses, type StatusCount } from '../stats.ts';
import type { Channel } from '../templates/index.ts';

/** A delivery a worker holds (its lease), with what it needs to render and send it. */
export interface ClaimedDelivery {
  id: number;
  createdOn: string;
  notificationId: number;
  userId: number | null;
  channel: Channel;
  recipient: string;
  recipientKey: string;
  attempts: number;
  variables: Record<string, unknown> | null;
  country: string | null;
  timeZone: string | null;
  kind: string;
  category: string;
  templateId: string | null;
  templateVersion: number | null;
  content: { subject?: string; body: string } | null;
  notificationVariables: Record<string, unknown>;
}

/**
 * Leases up to `limit` due deliveries of the given priorities in one statement: `FOR UPDATE SKIP LOCKED`
 * lets any number of workers claim at once without taking the same row, and the lease (not the row lock,
 * which ends with the statement) is what keeps others off while it is sent. The attempt is counted here,
 * so a worker that dies mid-send still used one.
 */
export async function claimDue(
  db: Sql,
  priorities: readonly number[],
  limit: number,
  leaseSeconds: number,
): Promise<ClaimedDelivery[]> {
  const rows = await db<
    (Omit<ClaimedDelivery, 'id' | 'notificationId' | 'userId'> & {
      id: string;
      notificationId: string;
      userId: string | null;
    })[]
  >`
    with due as (
      select created_on, id from notify_deliveries
      where status = 'pending' and priority = any(${priorities as number[]}::smallint[])
        and next_attempt_at <= now() and (lease_until is null or lease_until < now())
      order by priority, next_attempt_at
      limit ${limit}
      for update skip locked
    )
    update notify_deliveries d
    set lease_until = now() + make_interval(secs => ${leaseSeconds}), attempts = d.attempts + 1
    from due, notify_notifications n
    where d.created_on = due.created_on and d.id = due.id and n.id = d.notification_id
    returning d.id::text as id, d.created_on::text as "createdOn", d.notification_id::text as "notificationId",
              d.user_id::text as "userId", d.channel, d.recipient, d.recipient_key as "recipientKey",
              d.attempts, d.variables, d.country, d.time_zone as "timeZone", n.kind, n.category,
              n.template_id as "templateId", n.template_version as "templateVersion", n.content,
              n.variables as "notificationVariables"`;
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    notificationId: Number(r.notificationId),
    userId: r.userId === null ? null : Number(r.userId),
  }));
}

/** What became of one claimed delivery. */
export type Outcome =
  | { status: 'sent'; provider: string; providerMessageId: string | null }
  | { status: 'retry'; at: Date; error: string; provider?: string | undefined }
  | { status: 'failed'; error: string; dead: boolean; provider?: string | undefined }
  | { status: 'bounced'; error: string; provider?: string | undefined }
  | { status: 'suppressed'; error: string }
  /** Quiet hours began since it was queued: back to pending until they end, the attempt given back. */
  | { status: 'held'; at: Date };

export interface Settled {
  delivery: ClaimedDelivery;
  outcome: Outcome;
}

/**
 * Writes a batch of outcomes in one statement, with the analytics counters and the suppressions of bounced
 * addresses, in one transaction. A row is only updated while this worker's lease still holds it (its attempt
 * number unchanged), so a worker whose lease ran out cannot overwrite the one that took over.
 */
export async function settle(db: Sql, settled: readonly Settled[]): Promise<void> {
  if (settled.length === 0) return;
  const cols = {
    createdOn: [] as string[],
    id: [] as string[],
    attempts: [] as number[],
    status: [] as string[],
    dead: [] as string[],
    at: [] as (string | null)[],
    provider: [] as (string | null)[],
    messageId: [] as (string | null)[],
    error: [] as (string | null)[],
    refund: [] as number[],
  };
  for (const { delivery, outcome } of settled) {
    cols.createdOn.push(delivery.createdOn);
    cols.id.push(String(delivery.id));
    cols.attempts.push(delivery.attempts);
    cols.status.push(outcome.status === 'retry' || outcome.status === 'held' ? 'pending' : outcome.status);
    // As text: postgres.js sends a JS boolean[] as one boolean.
    cols.dead.push(outcome.status === 'failed' && outcome.dead ? 't' : 'f');
    cols.at.push(outcome.status === 'retry' || outcome.status === 'held' ? outcome.at.toISOString() : null);
    cols.provider.push('provider' in outcome ? (outcome.provider ?? null) : null);
    cols.messageId.push(outcome.status === 'sent' ? outcome.providerMessageId : null);
    cols.error.push('error' in outcome ? outcome.error.slice(0, 2000) : null);
    cols.refund.push(outcome.status === 'held' ? 1 : 0);
  }
  await db.begin(async (tx) => {
    const changed = await tx<
      {
        id: string;
        status: string;
        created_on: string;
        channel: string;
        country: string | null;
        time_zone: string | null;
        recipient: string;
      }[]
    >`
      update notify_deliveries d set
        status = v.status,
        dead = v.dead,
        lease_until = null,
        attempts = d.attempts - v.refund,
        next_attempt_at = coalesce(v.at, d.next_attempt_at),
        provider = coalesce(v.provider, d.provider),
        provider_message_id = coalesce(v.message_id, d.provider_message_id),
        last_error = case when v.status = 'sent' then null else coalesce(v.error, d.last_error) end,
        sent_at = case when v.status = 'sent' then now() else d.sent_at end,
        failed_at = case when v.status in ('failed', 'bounced', 'suppressed') then now() else d.failed_at end
      from unnest(${cols.createdOn}::date[], ${cols.id}::bigint[], ${cols.attempts}::smallint[],
                  ${cols.status}::text[], ${cols.dead}::text[]::bool[], ${cols.at}::timestamptz[], ${cols.provider}::text[],
                  ${cols.messageId}::text[], ${cols.error}::text[], ${cols.refund}::smallint[])
           as v(created_on, id, attempts, status, dead, at, provider, message_id, error, refund)
      where d.created_on = v.created_on and d.id = v.id and d.attempts = v.attempts and d.status = 'pending'
      returning d.id::text, d.status, d.created_on::text, d.channel, d.country, d.time_zone, d.recipient`;
    const counts: StatusCount[] = changed
      .filter((row) => row.status !== 'pending')
      .map((row) => ({
        day: row.created_on,
        channel: row.channel,
        country: row.country,
        timeZone: row.time_zone,
        status: row.status,
      }));
    await recordStatuses(tx, counts);
    const bounced = changed.filter((row) => row.status === 'bounced');
    if (bounced.length > 0) {
      await tx`
        insert into notify_suppressions (channel, address, category, reason, delivery_id)
        select channel, address, '*', 'bounce', id
        from unnest(${bounced.map((b) => b.channel)}::text[],
                    ${bounced.map((b) => (b.channel === 'email' ? b.recipient.toLowerCase() : b.recipient))}::text[],
                    ${bounced.map((b) => b.id)}::bigint[]) as b(channel, address, id)
        on conflict do nothing`;
    }
  });
}

/** Push subscriptions the push service said are gone (404/410): removed so nothing is sent to them again. */
export async function removeSubscriptions(db: Sql, endpoints: readonly string[]): Promise<void> {
  if (endpoints.length === 0) return;
  await db`delete from notify_push_subscriptions where endpoint = any(${endpoints as string[]}::text[])`;
}
