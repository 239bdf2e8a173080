import type { Platform } from '../platform/context.ts';
import type { Queryable, Tx } from '../platform/db/client.ts';
import {
  cronProblem,
  isTimeZone,
  latestRunBetween,
  nextRunAfter,
  nextRuns,
  RECIPIENT_ZONE,
  type RunWindow,
} from './cron.ts';
import { notifyError } from './errors.ts';
import {
  CHANNELS,
  type Channel,
  createNotification,
  enqueueDeliveries,
  type NotificationRef,
  type Recipient,
  recipientsForUsers,
} from './queue.ts';
import { type QuietHours, quietHoursOf } from './quiet-hours.ts';
import { parseSegment, segmentJson, segmentSql, segmentUserIds } from './segments.ts';
import { channelDefinition, loadTemplateVersion } from './template-cache.ts';

/**
 * Scheduled notifications (FR-002): a cron pattern in a time zone (or in each recipient's own zone), a
 * template and an audience (user ids or a segment). The runner `runDueSchedules` is called every minute by
 * any number of processes; `notify_schedule_runs` (unique per schedule, run time and zone) makes each run
 * happen once.
 *
 * - Missed runs coalesce into one: a schedule whose runs were missed while every process was down runs once
 *   on recovery (for its oldest missed time), then continues with the next run after now.
 * - Pause stops the runs; resume (and any edit of the timing or audience) recomputes the next run from now,
 *   so runs missed while paused are skipped, not caught up.
 * - `time_zone: "recipient"`: the audience is grouped by each contact's time zone and each zone runs at the
 *   cron time in that zone, taken once per (schedule, run time, zone). `next_run_at` is the earliest next run
 *   over the audience's zones; at each due tick every zone takes its latest run in [next_run_at, now] (one per
 *   zone, so missed runs coalesce here too). A zone that joins the audience later starts with its next run.
 */

export const AUDIENCE_CHUNK = 1000;
export const MAX_USER_IDS = 10_000;
const NEXT_RUNS_SHOWN = 5;

export type Audience = { segment: unknown } | { user_ids: number[] };

export interface ScheduleInput {
  name?: string | null;
  cron: string;
  time_zone: string;
  template_id: string;
  channel: string;
  segment?: unknown;
  user_ids?: number[];
  starts_at?: string | null;
  ends_at?: string | null;
  category?: string;
  variables?: Record<string, unknown>;
}

export type SchedulePatch = Partial<ScheduleInput> & { paused?: boolean };

export interface ScheduleRow {
  id: string;
  name: string | null;
  cron: string;
  time_zone: string;
  template_id: string;
  channel: Channel;
  category: string;
  audience: Audience;
  variables: Record<string, unknown>;
  starts_at: Date | null;
  ends_at: Date | null;
  paused: boolean;
  next_run_at: Date | null;
  last_run_at: Date | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ScheduleRun {
  run_at: Date;
  zone: string;
  notification_id: string | null;
  recipients: number;
  taken_at: Date;
}

interface Normalized {
  name: string | null;
  cron: string;
  timeZone: string;
  templateId: string;
  channel: Channel;
  category: string;
  audience: Audience;
  variables: Record<string, unknown>;
  startsAt: Date | null;
  endsAt: Date | null;
}

const invalid = (message: string) => notifyError('NOTIFY_SCHEDULE_INVALID', message);

function parseInstant(value: string | null | undefined, field: string): Date | null {
  if (value === undefined || value === null) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || !/^\d{4}-\d\d-\d\dT/.test(value))
    throw invalid(`${field} is not an ISO 8601 date-time: "${value}"`);
  return at;
}

const windowOf = (row: { starts_at: Date | null; ends_at: Date | null }): RunWindow => ({
  startsAt: row.starts_at,
  endsAt: row.ends_at,
});

/** Checks a schedule as a whole (created, or the result of a patch); throws the 4xx that names the problem. */
async function normalize(
  sql: Queryable,
  input: ScheduleInput,
  now: Date,
  { mustRun = true }: { mustRun?: boolean } = {},
): Promise<Normalized> {
  const problem = cronProblem(input.cron);
  if (problem) throw invalid(`cron "${input.cron}": ${problem}`);
  if (input.time_zone !== RECIPIENT_ZONE && !isTimeZone(input.time_zone))
    throw invalid(
      `time_zone "${input.time_zone}" is not an IANA time zone (e.g. Europe/Berlin) or "recipient"`,
    );
  if (!CHANNELS.includes(input.channel as Channel))
    throw invalid(`channel "${input.channel}" is not one of ${CHANNELS.join(', ')}`);
  const channel = input.channel as Channel;
  const hasSegment = input.segment !== undefined && input.segment !== null;
  const hasUsers = input.user_ids !== undefined && input.user_ids !== null;
  if (hasSegment === hasUsers) throw invalid('give exactly one of segment or user_ids');
  let audience: Audience;
  if (hasUsers) {
    const ids = input.user_ids!;
    if (ids.length < 1 || ids.length > MAX_USER_IDS)
      throw invalid(`user_ids must have 1 to ${MAX_USER_IDS} entries (has ${ids.length})`);
    if (ids.some((id) => !Number.isSafeInteger(id) || id < 1))
      throw invalid('user_ids must be positive integers');
    audience = { user_ids: [...new Set(ids)].sort((a, b) => a - b) };
  } else {
    audience = { segment: segmentJson(parseSegment(input.segment)) };
  }
  const template = await loadTemplateVersion(sql, input.template_id);
  if (!template) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `No template "${input.template_id}"`);
  if (!channelDefinition(template.definition, channel))
    throw notifyError('NOTIFY_CHANNEL_MISSING', `Template "${input.template_id}" has no ${channel} parts`);
  const startsAt = parseInstant(input.starts_at, 'starts_at');
  const endsAt = parseInstant(input.ends_at, 'ends_at');
  if (startsAt && endsAt && startsAt >= endsAt) throw invalid('starts_at must be before ends_at');
  if (mustRun && endsAt && endsAt <= now) throw invalid('ends_at is in the past');
  // A recipient schedule's zones are up to 14 h either side of UTC: widen the check window by a day.
  const zone = input.time_zone === RECIPIENT_ZONE ? 'UTC' : input.time_zone;
  const widen = input.time_zone === RECIPIENT_ZONE ? 86_400_000 : 0;
  const window = { startsAt, endsAt: endsAt && new Date(endsAt.getTime() + widen) };
  if (mustRun && !nextRunAfter(input.cron, zone, now, window))
    throw invalid(`cron "${input.cron}" never runs${endsAt ? ' before ends_at' : ''}`);
  return {
    name: input.name ?? null,
    cron: input.cron,
    timeZone: input.time_zone,
    templateId: input.template_id,
    channel,
    category: input.category ?? 'marketing',
    audience,
    variables: input.variables ?? {},
    startsAt,
    endsAt,
  };
}

/** A zone the runtime knows, else UTC (a contact's stored zone is checked when written; this is a backstop). */
const usableZone = (zone: string | null | undefined): string => (zone && isTimeZone(zone) ? zone : 'UTC');

/** The time zones of an audience's members (a contact's zone, 'UTC' without one); ['UTC'] when it is empty. */
export async function audienceZones(sql: Queryable, audience: Audience): Promise<string[]> {
  const members =
    'user_ids' in audience
      ? sql`u.id = any(${audience.user_ids.map(String)}::bigint[])`
      : segmentSql(sql, parseSegment(audience.segment));
  const rows = await sql<{ zone: string }[]>`
    select distinct coalesce(c.time_zone, 'UTC') as zone
    from users u left join notify_contacts c on c.user_id = u.id
    where ${members}`;
  const zones = new Set(rows.map((row) => usableZone(row.zone)));
  return zones.size > 0 ? [...zones] : ['UTC'];
}

/** The earliest run strictly after `after` over these zones, or null when none is left (finished). */
function earliestOver(cron: string, zones: Iterable<string>, after: Date, window: RunWindow): Date | null {
  let earliest: Date | null = null;
  for (const zone of zones) {
    const next = nextRunAfter(cron, zone, after, window);
    if (next && (!earliest || next < earliest)) earliest = next;
  }
  return earliest;
}

async function computeNextRunAt(
  sql: Queryable,
  schedule: {
    cron: string;
    timeZone: string;
    audience: Audience;
    startsAt: Date | null;
    endsAt: Date | null;
  },
  after: Date,
): Promise<Date | null> {
  const window = { startsAt: schedule.startsAt, endsAt: schedule.endsAt };
  if (schedule.timeZone !== RECIPIENT_ZONE)
    return nextRunAfter(schedule.cron, schedule.timeZone, after, window);
  return earliestOver(schedule.cron, await audienceZones(sql, schedule.audience), after, window);
}

/** The next runs shown to callers; for "recipient" in UTC, for reference (each recipient's zone shifts them). */
export function upcomingRuns(row: ScheduleRow, now: Date): string[] {
  if (row.paused || row.next_run_at === null) return [];
  const zone = row.time_zone === RECIPIENT_ZONE ? 'UTC' : row.time_zone;
  return nextRuns(row.cron, zone, new Date(now.getTime() - 1), NEXT_RUNS_SHOWN, windowOf(row)).map((run) =>
    run.toISOString(),
  );
}

/** For "recipient": the next runs in each zone of the audience (at most `maxZones` zones). */
export async function upcomingRunsByZone(
  sql: Queryable,
  row: ScheduleRow,
  now: Date,
  maxZones = 50,
): Promise<Record<string, string[]> | undefined> {
  if (row.time_zone !== RECIPIENT_ZONE || row.paused || row.next_run_at === null) return undefined;
  const zones = (await audienceZones(sql, row.audience)).sort().slice(0, maxZones);
  const after = new Date(now.getTime() - 1);
  return Object.fromEntries(
    zones.map((zone) => [
      zone,
      nextRuns(row.cron, zone, after, NEXT_RUNS_SHOWN, windowOf(row)).map((run) => run.toISOString()),
    ]),
  );
}

export async function createSchedule(
  tx: Tx,
  input: ScheduleInput,
  createdBy: string | null,
  now: Date = new Date(),
): Promise<ScheduleRow> {
  const s = await normalize(tx, input, now);
  const nextRunAt = await computeNextRunAt(tx, s, now);
  const [row] = await tx<ScheduleRow[]>`
    insert into notify_schedules
      (name, cron, time_zone, template_id, channel, category, audience, variables, starts_at, ends_at,
       next_run_at, created_by, created_at, updated_at)
    values (${s.name}, ${s.cron}, ${s.timeZone}, ${s.templateId}, ${s.channel}, ${s.category},
            ${tx.json(s.audience as never)}, ${tx.json(s.variables as never)}, ${s.startsAt}, ${s.endsAt},
            ${nextRunAt}, ${createdBy}, ${now}, ${now})
    returning *`;
  return row!;
}

export async function loadSchedule(sql: Queryable, id: number, lock = false): Promise<ScheduleRow> {
  const [row] = lock
    ? await sql<ScheduleRow[]>`select * from notify_schedules where id = ${id} for update`
    : await sql<ScheduleRow[]>`select * from notify_schedules where id = ${id}`;
  if (!row) throw notifyError('NOTIFY_SCHEDULE_NOT_FOUND', `No scheduled notification ${id}`);
  return row;
}

export async function listSchedules(sql: Queryable, limit: number, afterId: number): Promise<ScheduleRow[]> {
  return sql<ScheduleRow[]>`
    select * from notify_schedules where id > ${afterId} order by id limit ${limit}`;
}

export async function recentRuns(sql: Queryable, id: number, limit = 20): Promise<ScheduleRun[]> {
  return sql<ScheduleRun[]>`
    select run_at, zone, notification_id::text, recipients, taken_at
    from notify_schedule_runs where schedule_id = ${id}
    order by run_at desc, zone limit ${limit}`;
}

const TIMING_FIELDS = ['cron', 'time_zone', 'starts_at', 'ends_at', 'segment', 'user_ids'] as const;

/**
 * Applies a patch: the merged schedule is checked as a whole. Resuming, or changing when it runs or whom it
 * reaches, recomputes the next run from now (runs missed while paused are skipped); other edits keep it.
 */
export async function updateSchedule(
  tx: Tx,
  id: number,
  patch: SchedulePatch,
  now: Date = new Date(),
): Promise<{ before: ScheduleRow; after: ScheduleRow; changed: string[] }> {
  const before = await loadSchedule(tx, id, true);
  const current: ScheduleInput = {
    name: before.name,
    cron: before.cron,
    time_zone: before.time_zone,
    template_id: before.template_id,
    channel: before.channel,
    ...('user_ids' in before.audience
      ? { user_ids: before.audience.user_ids }
      : { segment: before.audience.segment }),
    starts_at: before.starts_at?.toISOString() ?? null,
    ends_at: before.ends_at?.toISOString() ?? null,
    category: before.category,
    variables: before.variables,
  };
  const { paused, ...edits } = patch;
  const merged: ScheduleInput = { ...current, ...edits };
  // A new audience replaces the old one, of either kind.
  if (edits.segment !== undefined) delete merged.user_ids;
  if (edits.user_ids !== undefined) delete merged.segment;
  const changed = Object.keys(patch).filter((key) => patch[key as keyof SchedulePatch] !== undefined);
  // A schedule that has finished (ends_at past) may still be edited; a new ends_at must be ahead.
  const finished = before.ends_at !== null && before.ends_at <= now && edits.ends_at === undefined;
  const s = await normalize(tx, merged, now, { mustRun: !finished });
  const resumed = paused === false && before.paused;
  const retimed = resumed || TIMING_FIELDS.some((field) => edits[field] !== undefined);
  const nextRunAt = retimed ? await computeNextRunAt(tx, s, now) : before.next_run_at;
  const [after] = await tx<ScheduleRow[]>`
    update notify_schedules set
      name = ${s.name}, cron = ${s.cron}, time_zone = ${s.timeZone}, template_id = ${s.templateId},
      channel = ${s.channel}, category = ${s.category}, audience = ${tx.json(s.audience as never)},
      variables = ${tx.json(s.variables as never)}, starts_at = ${s.startsAt}, ends_at = ${s.endsAt},
      paused = ${paused ?? before.paused}, next_run_at = ${nextRunAt}, updated_at = ${now}
    where id = ${id}
    returning *`;
  return { before, after: after!, changed };
}

export async function deleteSchedule(tx: Tx, id: number): Promise<ScheduleRow> {
  const [row] = await tx<ScheduleRow[]>`delete from notify_schedules where id = ${id} returning *`;
  if (!row) throw notifyError('NOTIFY_SCHEDULE_NOT_FOUND', `No scheduled notification ${id}`);
  return row;
}

// ---- The runner ----

/** Calls `visit` with the audience's user ids, AUDIENCE_CHUNK at a time, in id order. */
async function walkAudience(
  sql: Queryable,
  audience: Audience,
  visit: (userIds: number[]) => Promise<void>,
): Promise<void> {
  if ('user_ids' in audience) {
    for (let i = 0; i < audience.user_ids.length; i += AUDIENCE_CHUNK)
      await visit(audience.user_ids.slice(i, i + AUDIENCE_CHUNK));
    return;
  }
  const segment = parseSegment(audience.segment);
  let after = 0;
  for (;;) {
    const ids = await segmentUserIds(sql, segment, after, AUDIENCE_CHUNK);
    if (ids.length > 0) await visit(ids);
    if (ids.length < AUDIENCE_CHUNK) return;
    after = ids[ids.length - 1]!;
  }
}

interface RunContext {
  tx: Tx;
  row: ScheduleRow;
  now: Date;
  quiet: QuietHours;
  templateVersion: number;
}

async function takeRun(tx: Tx, scheduleId: string, runAt: Date, zone: string): Promise<boolean> {
  const taken = await tx`
    insert into notify_schedule_runs (schedule_id, run_at, zone) values (${scheduleId}, ${runAt}, ${zone})
    on conflict do nothing returning schedule_id`;
  return taken.length > 0;
}

function newNotification(ctx: RunContext): Promise<NotificationRef> {
  return createNotification(ctx.tx, {
    kind: 'scheduled',
    channel: ctx.row.channel,
    category: ctx.row.category,
    templateId: ctx.row.template_id,
    templateVersion: ctx.templateVersion,
    variables: ctx.row.variables,
    sourceId: Number(ctx.row.id),
    createdBy: ctx.row.created_by,
  });
}

async function recordRun(
  tx: Tx,
  scheduleId: string,
  runAt: Date,
  zone: string,
  notificationId: number,
  count: number,
) {
  await tx`
    update notify_schedule_runs set notification_id = ${notificationId}, recipients = ${count}
    where schedule_id = ${scheduleId} and run_at = ${runAt} and zone = ${zone}`;
}

/** A fixed zone: the due run is next_run_at; afterwards the next run after now (missed runs coalesce). */
async function runFixedZone(ctx: RunContext): Promise<{ next: Date | null; last: Date | null }> {
  const { tx, row, now } = ctx;
  const runAt = row.next_run_at!;
  if (await takeRun(tx, row.id, runAt, '')) {
    const notification = await newNotification(ctx);
    let count = 0;
    await walkAudience(tx, row.audience, async (userIds) => {
      const { recipients } = await recipientsForUsers(tx, row.channel, row.category, userIds);
      count += (await enqueueDeliveries(tx, notification, recipients, ctx.quiet, now)).length;
    });
    await recordRun(tx, row.id, runAt, '', notification.id, count);
  }
  const after = runAt > now ? runAt : now;
  return { next: nextRunAfter(row.cron, row.time_zone, after, windowOf(row)), last: runAt };
}

/**
 * "recipient": each zone of the audience takes its latest run in [next_run_at, now], once (a notification per
 * zone run); the next run is the earliest next one over the audience's zones.
 */
async function runPerZone(ctx: RunContext): Promise<{ next: Date | null; last: Date | null }> {
  const { tx, row, now } = ctx;
  const floor = row.next_run_at!;
  const window = windowOf(row);
  const lastTaken = new Map<string, Date>();
  for (const run of await tx<{ zone: string; run_at: Date }[]>`
    select zone, max(run_at) as run_at from notify_schedule_runs where schedule_id = ${row.id} group by zone`)
    lastTaken.set(run.zone, run.run_at);

  // The zones with a run due; the audience is walked only when there is one.
  const zones = await audienceZones(tx, row.audience);
  const due = new Map<string, Date>();
  for (const zone of zones) {
    const runAt = latestRunBetween(row.cron, zone, floor, now, window);
    const previous = lastTaken.get(zone);
    if (runAt && !(previous && runAt <= previous)) due.set(zone, runAt);
  }
  const zoneRuns = new Map<string, { runAt: Date; notification: NotificationRef; count: number } | null>();
  const takeZone = async (zone: string) => {
    const runAt = due.get(zone);
    if (!runAt || !(await takeRun(tx, row.id, runAt, zone))) return null;
    return { runAt, notification: await newNotification(ctx), count: 0 };
  };

  if (due.size > 0)
    await walkAudience(tx, row.audience, async (userIds) => {
      const { recipients } = await recipientsForUsers(tx, row.channel, row.category, userIds);
      const byZone = new Map<string, Recipient[]>();
      for (const recipient of recipients) {
        const zone = usableZone(recipient.timeZone);
        if (!due.has(zone)) continue;
        const group = byZone.get(zone);
        if (group) group.push(recipient);
        else byZone.set(zone, [recipient]);
      }
      for (const [zone, group] of byZone) {
        if (!zoneRuns.has(zone)) zoneRuns.set(zone, await takeZone(zone));
        const run = zoneRuns.get(zone);
        if (run) run.count += (await enqueueDeliveries(tx, run.notification, group, ctx.quiet, now)).length;
      }
    });

  let last = row.last_run_at;
  for (const [zone, run] of zoneRuns) {
    if (!run) continue;
    await recordRun(tx, row.id, run.runAt, zone, run.notification.id, run.count);
    if (!last || run.runAt > last) last = run.runAt;
  }
  return { next: earliestOver(row.cron, zones, now, window), last };
}

async function runSchedule(ctx: Omit<RunContext, 'templateVersion'>, platform: Platform): Promise<void> {
  const { tx, row, now } = ctx;
  const template = await loadTemplateVersion(tx, row.template_id);
  let outcome: { next: Date | null; last: Date | null };
  if (!template || !channelDefinition(template.definition, row.channel)) {
    // Nothing to send with: skip this run (it would fail the same way each minute), keep the schedule.
    platform.logger.warn(
      { scheduleId: row.id, templateId: row.template_id, channel: row.channel },
      'scheduled notification skipped: its template or channel parts are gone',
    );
    outcome = {
      next: await computeNextRunAt(
        tx,
        { ...row, timeZone: row.time_zone, startsAt: row.starts_at, endsAt: row.ends_at },
        now,
      ),
      last: row.last_run_at,
    };
  } else {
    const full = { ...ctx, templateVersion: template.version };
    outcome = row.time_zone === RECIPIENT_ZONE ? await runPerZone(full) : await runFixedZone(full);
  }
  await tx`
    update notify_schedules set next_run_at = ${outcome.next}, last_run_at = ${outcome.last}
    where id = ${row.id}`;
}

/**
 * Takes the due runs of scheduled notifications (FR-002); the `notify:schedules` task calls it every minute
 * in every worker. Each schedule is taken in a transaction of its own under `for update skip locked`, so
 * concurrent callers share the work and never run one schedule twice; a schedule that fails is logged and
 * left for the next tick (its transaction rolled back), without holding up the others.
 */
export async function runDueSchedules(platform: Platform, now: Date = new Date()): Promise<void> {
  const quiet = quietHoursOf(platform.config);
  const tried: string[] = [];
  for (;;) {
    const took = await platform.db.begin(async (tx) => {
      const [row] = await tx<ScheduleRow[]>`
        select * from notify_schedules
        where not paused and next_run_at <= ${now} and not (id = any(${tried}::bigint[]))
        order by next_run_at, id
        limit 1
        for update skip locked`;
      if (!row) return false;
      tried.push(row.id);
      try {
        await tx.savepoint((sp) => runSchedule({ tx: sp as Tx, row, now, quiet }, platform));
      } catch (error) {
        platform.logger.error({ err: error, scheduleId: row.id }, 'scheduled notification run failed');
      }
      return true;
    });
    if (!took) return;
  }
}
