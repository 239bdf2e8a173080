import { appendAudit, auditFromPrincipal } from '../platform/audit/index.ts';
import type { Principal } from '../platform/auth/principal.ts';
import type { Platform } from '../platform/context.ts';
import type { Queryable } from '../platform/db/client.ts';
import { AppError } from '../platform/http/errors.ts';
import { notifyError } from './errors.ts';
import {
  type Channel,
  createNotification,
  enqueueDeliveries,
  type NotificationRef,
  type Recipient,
  recipientsForUsers,
  TRANSACTIONAL,
} from './queue.ts';
import { quietHoursOf } from './quiet-hours.ts';
import { estimateSegment, parseSegment, type Segment, segmentJson, segmentUserIds } from './segments.ts';
import { recordStatuses } from './stats.ts';
import { channelDefinition, compiledVersion, loadTemplateVersion } from './template-cache.ts';

/**
 * Bulk campaigns (FR-003, docs/notify.md "Campaigns"): draft → scheduled → sending → sent, or cancelled.
 *
 * - Created as `draft`, or straight away `scheduled` / `sending` when the request carries `send_at`
 *   (the spec's `POST /api/admin/bulk {…, send_at?}` means "send at"; without it the admin previews and
 *   then sends with `POST …/send`).
 * - Sending pins the template version (what was previewed is what goes out, whatever is edited later).
 * - The fan-out walks the segment by user id from `fanout_cursor`, one transaction per batch holding the
 *   campaign row (`for update skip locked`: one process per campaign at a time): the batch's deliveries and
 *   the cursor commit together, and the deliveries' unique key skips anyone already there, so a fan-out
 *   killed at any point resumes with no recipient skipped or doubled.
 * - `sent` means fanned out: every recipient has a delivery; their progress is in the deliveries' statuses.
 */

export const CAMPAIGNS_TASK = 'notify:campaigns';
export const FANOUT_BATCH = 1000;
const DEFAULT_CATEGORY = 'marketing';
const CATEGORY = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_VARIABLES_BYTES = 64 * 1024;
const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

export type CampaignStatus = 'draft' | 'scheduled' | 'sending' | 'sent' | 'cancelled';

export interface CampaignRow {
  id: string;
  name: string;
  segment: unknown;
  template_id: string;
  template_version: number | null;
  channel: Channel;
  category: string;
  variables: Record<string, unknown>;
  status: CampaignStatus;
  send_at: Date | null;
  recipients_estimate: string | null;
  notification_id: string | null;
  fanout_cursor: string;
  fanout_done: boolean;
  recipients: string;
  created_by: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  cancelled_at: Date | null;
}

export interface CampaignInput {
  name: string;
  segment: unknown;
  templateId: string;
  channel: Channel;
  category?: string;
  variables?: Record<string, unknown>;
  sendAt?: string;
}

const notFound = (id: number) => notifyError('NOTIFY_CAMPAIGN_NOT_FOUND', `no campaign ${id}`);

function parseSendAt(value: string | undefined, now: Date): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new AppError('VALIDATION_FAILED', 400, 'send_at: not an ISO 8601 date-time');
  if (at.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_MS)
    throw new AppError('VALIDATION_FAILED', 400, 'send_at: at most a year ahead');
  return at;
}

async function checkTemplate(sql: Queryable, templateId: string, channel: Channel, version?: number | null) {
  const found = await loadTemplateVersion(sql, templateId, version);
  if (!found) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `no template ${templateId}`);
  if (!channelDefinition(found.definition, channel))
    throw notifyError('NOTIFY_CHANNEL_MISSING', `template ${templateId} has no ${channel} parts`);
  return found;
}

/** The state a send moves a campaign to, and the job that starts its fan-out on time. */
async function schedule(platform: Platform, sql: Queryable, id: number, at: Date, now: Date) {
  const status: CampaignStatus = at > now ? 'scheduled' : 'sending';
  // A job per campaign at its time (cron also looks every minute): replaced when the campaign is re-sent.
  await platform.jobs.enqueue(sql, CAMPAIGNS_TASK, {}, { jobKey: `notify:campaign:${id}`, runAt: at });
  return status;
}

export async function createCampaign(
  platform: Platform,
  principal: Principal,
  input: CampaignInput,
  now: Date = new Date(),
): Promise<CampaignRow> {
  const segment = parseSegment(input.segment);
  const category = input.category ?? DEFAULT_CATEGORY;
  if (!CATEGORY.test(category))
    throw new AppError('VALIDATION_FAILED', 400, 'category: 1–64 letters, digits or _.:-');
  if (category === TRANSACTIONAL)
    throw new AppError('VALIDATION_FAILED', 400, 'category: a campaign is never transactional');
  const variables = input.variables ?? {};
  if (JSON.stringify(variables).length > MAX_VARIABLES_BYTES)
    throw notifyError('NOTIFY_VARIABLES_INVALID', `variables: at most ${MAX_VARIABLES_BYTES} bytes of JSON`);
  const sendAt = parseSendAt(input.sendAt, now);
  return platform.db.begin(async (tx) => {
    const template = await checkTemplate(tx, input.templateId, input.channel);
    const estimate = await estimateSegment(tx, segment);
    const [row] = await tx<CampaignRow[]>`
      insert into notify_campaigns
        (name, segment, template_id, template_version, channel, category, variables, status, send_at,
         recipients_estimate, created_by)
      values (${input.name}, ${tx.json(segmentJson(segment) as never)}, ${input.templateId},
              ${sendAt ? template.version : null}, ${input.channel}, ${category}, ${tx.json(variables as never)},
              'draft', ${sendAt ?? null}, ${estimate}, ${principal.name})
      returning *`;
    let campaign = row!;
    if (sendAt) {
      const status = await schedule(platform, tx, Number(campaign.id), sendAt, now);
      const [scheduled] = await tx<CampaignRow[]>`
        update notify_campaigns set status = ${status} where id = ${campaign.id} returning *`;
      campaign = scheduled!;
    }
    await appendAudit(tx, {
      ...auditFromPrincipal(principal),
      action: 'campaign.create',
      resource: `campaign:${campaign.id}`,
      result: 'success',
      metadata: {
        name: input.name,
        template_id: input.templateId,
        channel: input.channel,
        recipients_estimate: estimate,
        send_at: sendAt?.toISOString() ?? null,
      },
    });
    return campaign;
  });
}

/** Sends a draft now or at `send_at`, or moves a scheduled one; pins the template's current version. */
export async function sendCampaign(
  platform: Platform,
  principal: Principal,
  id: number,
  sendAtText?: string,
  now: Date = new Date(),
): Promise<CampaignRow> {
  const sendAt = parseSendAt(sendAtText, now) ?? now;
  return platform.db.begin(async (tx) => {
    const [campaign] = await tx<CampaignRow[]>`select * from notify_campaigns where id = ${id} for update`;
    if (!campaign) throw notFound(id);
    if (campaign.status !== 'draft' && campaign.status !== 'scheduled')
      throw notifyError(
        'NOTIFY_CAMPAIGN_STATE',
        `campaign ${id} is ${campaign.status}: only a draft or a scheduled one can be sent`,
      );
    const template = await checkTemplate(tx, campaign.template_id, campaign.channel);
    const status = await schedule(platform, tx, id, sendAt, now);
    const [updated] = await tx<CampaignRow[]>`
      update notify_campaigns
      set status = ${status}, send_at = ${sendAt}, template_version = ${template.version}
      where id = ${id} returning *`;
    await appendAudit(tx, {
      ...auditFromPrincipal(principal),
      action: 'campaign.send',
      resource: `campaign:${id}`,
      result: 'success',
      metadata: { send_at: sendAt.toISOString(), template_version: template.version, status },
    });
    return updated!;
  });
}

/**
 * Stops what is unsent: the campaign becomes `cancelled` (the fan-out sees it at its next batch) and its
 * pending deliveries not claimed by a worker right now become `cancelled`; what was sent, or is being sent,
 * stays as it is.
 */
export async function cancelCampaign(
  platform: Platform,
  principal: Principal,
  id: number,
): Promise<{ campaign: CampaignRow; cancelledDeliveries: number }> {
  return platform.db.begin(async (tx) => {
    // Waits for a fan-out batch in flight: its deliveries are then committed and cancelled below.
    const [campaign] = await tx<CampaignRow[]>`select * from notify_campaigns where id = ${id} for update`;
    if (!campaign) throw notFound(id);
    if (campaign.status === 'sent' || campaign.status === 'cancelled')
      throw notifyError('NOTIFY_CAMPAIGN_STATE', `campaign ${id} is already ${campaign.status}`);
    let cancelled = 0;
    const ref = await notificationRef(tx, campaign);
    if (ref) {
      const rows = await tx<{ country: string | null; time_zone: string | null }[]>`
        update notify_deliveries set status = 'cancelled'
        where created_on = ${ref.createdOn}::date and notification_id = ${ref.id} and status = 'pending'
          and (lease_until is null or lease_until < now())
        returning country, time_zone`;
      cancelled = rows.length;
      await recordStatuses(
        tx,
        rows.map((r) => ({
          day: ref.createdOn,
          channel: ref.channel,
          country: r.country,
          timeZone: r.time_zone,
          status: 'cancelled',
        })),
      );
    }
    const [updated] = await tx<CampaignRow[]>`
      update notify_campaigns set status = 'cancelled', cancelled_at = now() where id = ${id} returning *`;
    await appendAudit(tx, {
      ...auditFromPrincipal(principal),
      action: 'campaign.cancel',
      resource: `campaign:${id}`,
      result: 'success',
      metadata: { previous_status: campaign.status, cancelled_deliveries: cancelled },
    });
    return { campaign: updated!, cancelledDeliveries: cancelled };
  });
}

export async function getCampaign(sql: Queryable, id: number): Promise<CampaignRow> {
  const [campaign] = await sql<CampaignRow[]>`select * from notify_campaigns where id = ${id}`;
  if (!campaign) throw notFound(id);
  return campaign;
}

export async function listCampaigns(
  sql: Queryable,
  options: { status?: CampaignStatus; beforeId?: number; limit: number },
): Promise<CampaignRow[]> {
  return sql<CampaignRow[]>`
    select * from notify_campaigns
    where (${options.status ?? null}::text is null or status = ${options.status ?? null})
      and (${options.beforeId ?? null}::bigint is null or id < ${options.beforeId ?? null})
    order by id desc
    limit ${options.limit}`;
}

/** Deliveries of the campaign by status (the notification's index: notification_id, status). */
export async function campaignProgress(
  sql: Queryable,
  campaign: CampaignRow,
): Promise<Record<string, number>> {
  const ref = await notificationRef(sql, campaign);
  if (!ref) return {};
  const rows = await sql<{ status: string; n: string }[]>`
    select status, count(*)::text as n from notify_deliveries
    where created_on = ${ref.createdOn}::date and notification_id = ${ref.id}
    group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** The campaign's notification (made at its first fan-out batch), rebuilt from notify_notifications. */
async function notificationRef(sql: Queryable, campaign: CampaignRow): Promise<NotificationRef | undefined> {
  if (campaign.notification_id === null) return undefined;
  const [row] = await sql<{ created_on: string }[]>`
    select created_on::text from notify_notifications where id = ${campaign.notification_id}`;
  if (!row) return undefined;
  return {
    id: Number(campaign.notification_id),
    createdOn: row.created_on,
    kind: 'bulk',
    channel: campaign.channel,
    category: campaign.category,
  };
}

/** Variables every recipient brings (a template uses those it declares). */
const RECIPIENT_FIELDS = ['first_name', 'surname', 'email'] as const;

async function recipientVariables(
  sql: Queryable,
  userIds: readonly number[],
  declared: ReadonlySet<string>,
): Promise<Map<number, Record<string, unknown>>> {
  const fields = RECIPIENT_FIELDS.filter((f) => declared.has(f));
  const out = new Map<number, Record<string, unknown>>();
  if (fields.length === 0 || userIds.length === 0) return out;
  const rows = await sql<{ id: string; first_name: string | null; surname: string | null; email: string }[]>`
    select u.id::text, u.first_name, u.surname, coalesce(c.email, u.email) as email
    from users u left join notify_contacts c on c.user_id = u.id
    where u.id = any(${userIds.map(String)}::bigint[])`;
  for (const row of rows) out.set(Number(row.id), Object.fromEntries(fields.map((f) => [f, row[f]])));
  return out;
}

export interface Preview {
  templateId: string;
  version: number;
  channel: Channel;
  samples: {
    userId: number;
    recipient: string | null;
    suppressed: string | null;
    parts: Record<string, string> | null;
    error: string | null;
  }[];
}

/** The template rendered for the first `sample` members of the segment, as each would receive it. */
export async function previewCampaign(sql: Queryable, id: number, sample: number): Promise<Preview> {
  const campaign = await getCampaign(sql, id);
  const version = await checkTemplate(sql, campaign.template_id, campaign.channel, campaign.template_version);
  const compiled = compiledVersion(version, campaign.channel)!;
  const declared = new Set(version.definition.variables.map((v) => v.name));
  const ids = await segmentUserIds(sql, parseSegment(campaign.segment), 0, sample);
  const personal = await recipientVariables(sql, ids, new Set(RECIPIENT_FIELDS));
  const { recipients } = await recipientsForUsers(sql, campaign.channel, campaign.category, ids);
  const first = new Map<number, Recipient>();
  for (const r of recipients) if (r.userId !== null && !first.has(r.userId)) first.set(r.userId, r);
  const samples = ids.map((userId) => {
    const recipient = first.get(userId);
    const own = Object.fromEntries(
      Object.entries(personal.get(userId) ?? {}).filter(([name]) => declared.has(name)),
    );
    const base = {
      userId,
      recipient: recipient?.recipient ?? null,
      suppressed: recipient?.suppressed ?? null,
    };
    try {
      return { ...base, parts: compiled.render({ ...campaign.variables, ...own }), error: null };
    } catch (error) {
      return { ...base, parts: null, error: (error as Error).message };
    }
  });
  return { templateId: version.templateId, version: version.version, channel: campaign.channel, samples };
}

export type BatchOutcome =
  /** Another process holds the campaign right now. */
  | 'busy'
  /** Not due, finished or cancelled: nothing to do. */
  | 'idle'
  | 'progress'
  | 'done';

/**
 * One fan-out batch of a campaign in one transaction: the next `batchSize` members after the cursor get
 * their deliveries, and the cursor moves past them, together. The first batch makes the notification.
 */
export async function fanOutBatch(
  platform: Pick<Platform, 'db' | 'config'>,
  campaignId: number,
  batchSize: number = FANOUT_BATCH,
  now: Date = new Date(),
): Promise<{ outcome: BatchOutcome; inserted: number }> {
  const quiet = quietHoursOf(platform.config);
  return platform.db.begin(async (tx) => {
    const [campaign] = await tx<CampaignRow[]>`
      select * from notify_campaigns where id = ${campaignId} for update skip locked`;
    if (!campaign) {
      const [exists] = await tx`select 1 from notify_campaigns where id = ${campaignId}`;
      return { outcome: exists ? 'busy' : 'idle', inserted: 0 };
    }
    const due =
      (campaign.status === 'scheduled' && campaign.send_at !== null && campaign.send_at <= now) ||
      (campaign.status === 'sending' && !campaign.fanout_done);
    if (!due) return { outcome: 'idle', inserted: 0 };
    const version = await loadTemplateVersion(tx, campaign.template_id, campaign.template_version);
    let ref = await notificationRef(tx, campaign);
    if (!ref) {
      ref = await createNotification(tx, {
        kind: 'bulk',
        channel: campaign.channel,
        category: campaign.category,
        templateId: campaign.template_id,
        templateVersion: version?.version ?? campaign.template_version,
        variables: campaign.variables,
        sourceId: Number(campaign.id),
        createdBy: campaign.created_by,
      });
      await tx`
        update notify_campaigns
        set notification_id = ${ref.id}, status = 'sending', started_at = now(),
            template_version = ${version?.version ?? campaign.template_version}
        where id = ${campaign.id}`;
    }
    const ids = await segmentUserIds(
      tx,
      parseSegment(campaign.segment),
      Number(campaign.fanout_cursor),
      batchSize,
    );
    const declared = new Set(version?.definition.variables.map((v) => v.name) ?? []);
    const personal = await recipientVariables(tx, ids, declared);
    const { recipients } = await recipientsForUsers(tx, campaign.channel, campaign.category, ids);
    for (const r of recipients) {
      const own = r.userId === null ? undefined : personal.get(r.userId);
      if (own) r.variables = own;
    }
    const inserted = await enqueueDeliveries(tx, ref, recipients, quiet, now);
    const done = ids.length < batchSize;
    await tx`
      update notify_campaigns
      set fanout_cursor = ${ids.length > 0 ? ids[ids.length - 1]! : Number(campaign.fanout_cursor)},
          recipients = recipients + ${inserted.length},
          fanout_done = ${done},
          status = ${done ? 'sent' : 'sending'},
          finished_at = ${done ? now : null}
      where id = ${campaign.id}`;
    return { outcome: done ? 'done' : 'progress', inserted: inserted.length };
  });
}

/** Fans out one campaign to its end (or until another process takes it, or it is cancelled). */
export async function fanOutCampaign(
  platform: Pick<Platform, 'db' | 'config'>,
  campaignId: number,
  batchSize: number = FANOUT_BATCH,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { outcome, inserted } = await fanOutBatch(platform, campaignId, batchSize);
    total += inserted;
    if (outcome !== 'progress') return total;
  }
}

/** Fans out every due campaign (the `notify:campaigns` task: cron every minute, and a job at each send). */
export async function runCampaigns(platform: Platform): Promise<void> {
  const due = await platform.db<{ id: string }[]>`
    select id::text from notify_campaigns
    where (status = 'scheduled' and send_at <= now()) or (status = 'sending' and not fanout_done)
    order by send_at nulls first, id`;
  // One campaign failing must not hold up the others; the job still fails (and is retried) at the end.
  const failed: number[] = [];
  for (const { id } of due) {
    try {
      const inserted = await fanOutCampaign(platform, Number(id));
      if (inserted > 0)
        platform.logger.info({ campaign: Number(id), inserted }, 'notify: campaign fanned out');
    } catch (error) {
      failed.push(Number(id));
      platform.logger.error({ err: error, campaign: Number(id) }, 'notify: campaign fan-out failed');
    }
  }
  if (failed.length > 0) throw new Error(`notify: fan-out failed for campaigns ${failed.join(', ')}`);
}

export { parseSegment, type Segment };
