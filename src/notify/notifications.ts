import { createHash } from 'node:crypto';
import { canonicalJson } from '../platform/audit/canonical-json.ts';
import type { Principal } from '../platform/auth/principal.ts';
import type { Platform } from '../platform/context.ts';
import type { Queryable } from '../platform/db/client.ts';
import { notifyError } from './errors.ts';
import {
  type Channel,
  createNotification,
  enqueueDeliveries,
  type Recipient,
  recipientForAddress,
  recipientsForUsers,
  TRANSACTIONAL,
} from './queue.ts';
import { quietHoursOf } from './quiet-hours.ts';
import { compiledVersion, loadTemplateVersion } from './template-cache.ts';
import { MissingVariableError } from './templates/index.ts';

/** `POST /api/notifications` as validated by its schema (routes/notifications.ts). */
export interface InstantRequest {
  user_id?: number;
  to?: { email?: string; phone?: string };
  channel: Channel;
  template_id?: string;
  variables?: Record<string, unknown>;
  subject?: string;
  body?: string;
  content_id?: string;
  category?: string;
}

export interface Accepted {
  id: number;
  status: 'pending' | 'suppressed';
}

/** The rules the schema cannot say: one recipient form, one content form, an address fit for the channel. */
function checkShape(request: InstantRequest): void {
  if ((request.user_id === undefined) === (request.to === undefined))
    throw notifyError('NOTIFY_VARIABLES_INVALID', 'give exactly one of user_id and to');
  if (request.to) {
    const given = Object.keys(request.to);
    if (given.length !== 1)
      throw notifyError('NOTIFY_VARIABLES_INVALID', 'to has exactly one of email and phone');
    if (request.channel === 'email' && !request.to.email)
      throw notifyError('NOTIFY_VARIABLES_INVALID', 'channel email needs to.email');
    if (request.channel === 'sms' && !request.to.phone)
      throw notifyError('NOTIFY_VARIABLES_INVALID', 'channel sms needs to.phone');
    if (request.channel === 'push')
      throw notifyError(
        'NOTIFY_VARIABLES_INVALID',
        'channel push needs user_id: push goes to a user’s subscriptions',
      );
  }
  if ((request.template_id === undefined) === (request.body === undefined))
    throw notifyError(
      'NOTIFY_VARIABLES_INVALID',
      'give exactly one of template_id (with variables) and body',
    );
  if (request.body !== undefined && request.variables !== undefined)
    throw notifyError('NOTIFY_VARIABLES_INVALID', 'variables go with template_id, not with body');
  if (request.body !== undefined && request.channel === 'email' && !request.subject)
    throw notifyError('NOTIFY_VARIABLES_INVALID', 'an email with body needs a subject');
}

/**
 * The template version an instant notification is pinned to, rendered once with its variables so a missing
 * variable is the caller's 400 now rather than a dead letter later.
 */
async function pinTemplate(sql: Queryable, request: InstantRequest): Promise<number | null> {
  if (request.template_id === undefined) return null;
  const version = await loadTemplateVersion(sql, request.template_id);
  if (!version) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `no template ${request.template_id}`);
  const compiled = compiledVersion(version, request.channel);
  if (!compiled)
    throw notifyError(
      'NOTIFY_CHANNEL_MISSING',
      `template ${request.template_id} has no ${request.channel} parts (it has ${Object.keys(version.definition.channels).join(', ')})`,
    );
  const variables: Record<string, unknown> = { ...request.variables };
  const declared = new Set(compiled.variables.map((v) => v.name));
  const unknown = Object.keys(variables).filter((name) => !declared.has(name));
  if (unknown.length > 0)
    throw notifyError(
      'NOTIFY_VARIABLES_INVALID',
      `template ${request.template_id} does not declare ${unknown.join(', ')}`,
      { unknown },
    );
  for (const v of compiled.variables)
    if (v.required && (request.variables?.[v.name] ?? null) === null)
      throw notifyError('NOTIFY_VARIABLES_INVALID', `missing required variable: ${v.name}`, {
        missing: [v.name],
      });
  try {
    compiled.render(variables);
  } catch (error) {
    if (error instanceof MissingVariableError)
      throw notifyError('NOTIFY_VARIABLES_INVALID', error.message, { missing: [error.variable] });
    throw notifyError(
      'NOTIFY_VARIABLES_INVALID',
      `template ${request.template_id}: ${(error as Error).message}`,
    );
  }
  return version.version;
}

async function recipientsOf(sql: Queryable, request: InstantRequest, category: string): Promise<Recipient[]> {
  if (request.to) {
    const address = request.channel === 'email' ? request.to.email! : request.to.phone!;
    return [await recipientForAddress(sql, request.channel, category, address)];
  }
  const userId = request.user_id!;
  const [user] = await sql`select 1 from users where id = ${userId}`;
  if (!user) throw notifyError('NOTIFY_CONTACT_NOT_FOUND', `no user ${userId}`);
  const { recipients } = await recipientsForUsers(sql, request.channel, category, [userId]);
  if (recipients.length === 0)
    throw notifyError(
      'NOTIFY_NO_ADDRESS',
      request.channel === 'push'
        ? `user ${userId} has no push subscription`
        : `user ${userId} has no ${request.channel === 'email' ? 'email address' : 'phone number'}`,
    );
  return recipients;
}

function principalKey(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

/**
 * Accepts an instant notification (FR-001): its notification and deliveries are committed before the 202,
 * so an acknowledged notification survives a crash. With an Idempotency-Key, a repeat within 24 h (same
 * caller, same key) gets the first answer and queues nothing; the same key with another body is a 422.
 * Parallel repeats serialize on the key's row: the second waits for the first to commit, then sees it.
 */
export async function acceptInstant(
  platform: Platform,
  principal: Principal,
  request: InstantRequest,
  idempotencyKey: string | undefined,
): Promise<Accepted> {
  checkShape(request);
  const category = request.category ?? TRANSACTIONAL;
  const templateVersion = await pinTemplate(platform.db, request);
  const requestHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
  return platform.db.begin(async (tx) => {
    let id: number | undefined;
    if (idempotencyKey !== undefined) {
      const [claimed] = await tx<{ notification_id: string }[]>`
        insert into notify_idempotency (principal, key, request_hash, notification_id)
        values (${principalKey(principal)}, ${idempotencyKey}, ${requestHash},
                nextval(pg_get_serial_sequence('notify_notifications', 'id')))
        on conflict (principal, key) do nothing
        returning notification_id::text`;
      if (!claimed) return repeatOf(tx, principal, idempotencyKey, requestHash);
      id = Number(claimed.notification_id);
    }
    const recipients = await recipientsOf(tx, request, category);
    const notification = await createNotification(tx, {
      ...(id !== undefined ? { id } : {}),
      kind: 'instant',
      channel: request.channel,
      category,
      templateId: request.template_id ?? null,
      templateVersion,
      content: request.body !== undefined ? { subject: request.subject ?? '', body: request.body } : null,
      variables: request.variables ?? {},
      contentId: request.content_id ?? null,
      createdBy: principalKey(principal),
    });
    await enqueueDeliveries(tx, notification, recipients, quietHoursOf(platform.config));
    return {
      id: notification.id,
      status: recipients.every((r) => r.suppressed) ? 'suppressed' : 'pending',
    };
  });
}

async function repeatOf(
  tx: Queryable,
  principal: Principal,
  key: string,
  requestHash: string,
): Promise<Accepted> {
  const [first] = await tx<{ request_hash: string; notification_id: string; expired: boolean }[]>`
    select request_hash, notification_id::text, created_at < now() - interval '24 hours' as expired
    from notify_idempotency where principal = ${principalKey(principal)} and key = ${key}`;
  if (!first) throw new Error('idempotency key vanished under its own conflict');
  if (first.request_hash !== requestHash)
    throw notifyError(
      'NOTIFY_IDEMPOTENCY_MISMATCH',
      `Idempotency-Key ${key} was used with another request within 24 h: use a new key for a new notification`,
    );
  // The first answer, as it was given: 202 {id, status: pending}.
  return { id: Number(first.notification_id), status: 'pending' };
}

/** `GET /api/notifications/{id}`. */
export type DeliveryStatus =
  | 'pending'
  | 'sent'
  | 'delivered'
  | 'opened'
  | 'failed'
  | 'bounced'
  | 'suppressed'
  | 'cancelled';

export interface NotificationStatus {
  id: number;
  status: DeliveryStatus;
  channel: Channel;
  category: string;
  recipient: string | null;
  attempts: number;
  history: { status: string; at: string }[];
  last_error: string | null;
  created_at: string;
  deliveries: {
    id: number;
    recipient: string;
    status: DeliveryStatus;
    attempts: number;
    provider: string | null;
    last_error: string | null;
    next_attempt_at: string | null;
  }[];
}

interface DeliveryRow {
  id: string;
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  provider: string | null;
  last_error: string | null;
  dead: boolean;
  next_attempt_at: Date;
  created_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  failed_at: Date | null;
}

/** Further along wins when a notification has several deliveries (a user's push subscriptions). */
const PROGRESS = ['cancelled', 'suppressed', 'failed', 'bounced', 'pending', 'sent', 'delivered', 'opened'];

function historyOf(d: DeliveryRow): { status: string; at: string }[] {
  const history: { status: string; at: Date }[] = [{ status: 'pending', at: d.created_at }];
  if (d.sent_at) history.push({ status: 'sent', at: d.sent_at });
  if (d.delivered_at) history.push({ status: 'delivered', at: d.delivered_at });
  if (d.opened_at) history.push({ status: 'opened', at: d.opened_at });
  if (d.clicked_at) history.push({ status: 'clicked', at: d.clicked_at });
  if (d.failed_at && ['failed', 'bounced', 'suppressed', 'cancelled'].includes(d.status))
    history.push({ status: d.status, at: d.failed_at });
  return history
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .map((h) => ({ status: h.status, at: h.at.toISOString() }));
}

export async function notificationStatus(sql: Queryable, id: number): Promise<NotificationStatus> {
  const [n] = await sql<
    { id: string; channel: Channel; category: string; created_on: string; created_at: Date }[]
  >`
    select id::text, channel, category, created_on::text, created_at from notify_notifications where id = ${id}`;
  if (!n) throw notifyError('NOTIFY_NOT_FOUND', `no notification ${id}`);
  const deliveries = await sql<DeliveryRow[]>`
    select id::text, recipient, status, attempts, provider, last_error, dead, next_attempt_at, created_at,
           sent_at, delivered_at, opened_at, clicked_at, failed_at
    from notify_deliveries
    where created_on = ${n.created_on}::date and notification_id = ${id}
    order by id
    limit 100`;
  const lead = [...deliveries].sort((a, b) => PROGRESS.indexOf(b.status) - PROGRESS.indexOf(a.status))[0];
  return {
    id,
    status: lead?.status ?? 'pending',
    channel: n.channel,
    category: n.category,
    recipient: lead?.recipient ?? null,
    attempts: lead?.attempts ?? 0,
    history: lead ? historyOf(lead) : [{ status: 'pending', at: n.created_at.toISOString() }],
    last_error: lead?.last_error ?? null,
    created_at: n.created_at.toISOString(),
    deliveries: deliveries.map((d) => ({
      id: Number(d.id),
      recipient: d.recipient,
      status: d.status,
      attempts: d.attempts,
      provider: d.provider,
      last_error: d.last_error,
      next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
    })),
  };
}
