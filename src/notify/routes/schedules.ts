import { Type } from 'typebox';
import { appendAudit, auditFromPrincipal } from '../../platform/audit/index.ts';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  createSchedule,
  deleteSchedule,
  listSchedules,
  loadSchedule,
  MAX_USER_IDS,
  recentRuns,
  type ScheduleInput,
  type SchedulePatch,
  type ScheduleRow,
  type ScheduleRun,
  upcomingRuns,
  upcomingRunsByZone,
  updateSchedule,
} from '../schedules.ts';
import { ChannelSchema } from './schemas.ts';

const Instant = Type.String({ format: 'date-time', description: 'ISO 8601 with an offset' });
const NullableInstant = Type.Union([Instant, Type.Null()]);
const fields = {
  name: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
  cron: Type.String({
    minLength: 1,
    maxLength: 200,
    description:
      'Five fields (minute hour day-of-month month day-of-week); no seconds: runs at minute resolution',
    examples: ['0 9 * * 1'],
  }),
  time_zone: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'An IANA zone, or "recipient" for the cron time in each recipient’s own zone',
    examples: ['Europe/Moscow', 'recipient'],
  }),
  template_id: Type.String({ minLength: 1, maxLength: 200 }),
  channel: ChannelSchema,
  segment: Type.Record(Type.String(), Type.Unknown(), {
    description: 'A segment (docs/notify.md, "Segments")',
  }),
  user_ids: Type.Array(positiveId('A user id'), { minItems: 1, maxItems: MAX_USER_IDS }),
  starts_at: NullableInstant,
  ends_at: NullableInstant,
  category: Type.String({ minLength: 1, maxLength: 64, description: "Default 'marketing'" }),
  variables: Type.Record(Type.String(), Type.Unknown()),
};

const CreateBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    cron: fields.cron,
    time_zone: fields.time_zone,
    template_id: fields.template_id,
    channel: fields.channel,
    segment: Type.Optional(fields.segment),
    user_ids: Type.Optional(fields.user_ids),
    starts_at: Type.Optional(fields.starts_at),
    ends_at: Type.Optional(fields.ends_at),
    category: Type.Optional(fields.category),
    variables: Type.Optional(fields.variables),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    paused: Type.Optional(
      Type.Boolean({ description: 'true pauses; false resumes from now (missed runs skipped)' }),
    ),
    ...Object.fromEntries(
      Object.entries(CreateBody.properties).map(([key, schema]) => [key, Type.Optional(schema)]),
    ),
  },
  { additionalProperties: false },
);

const Run = Type.Object({
  run_at: Type.String({ format: 'date-time' }),
  zone: Type.String({ description: "'' for a fixed zone, else the recipients' zone" }),
  notification_id: Type.Union([Type.Integer(), Type.Null()]),
  recipients: Type.Integer(),
  taken_at: Type.String({ format: 'date-time' }),
});
const Schedule = Type.Object({
  id: Type.Integer(),
  name: Type.Union([Type.String(), Type.Null()]),
  cron: Type.String(),
  time_zone: Type.String(),
  template_id: Type.String(),
  channel: Type.String(),
  category: Type.String(),
  segment: Type.Optional(Type.Unknown()),
  user_ids: Type.Optional(Type.Array(Type.Integer())),
  variables: Type.Record(Type.String(), Type.Unknown()),
  starts_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  paused: Type.Boolean(),
  status: Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('finished')]),
  next_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  next_runs: Type.Array(Type.String({ format: 'date-time' }), {
    description: 'The next 5 runs; for "recipient" in UTC, for reference (each recipient’s zone shifts them)',
  }),
  next_runs_by_zone: Type.Optional(
    Type.Record(Type.String(), Type.Array(Type.String({ format: 'date-time' })), {
      description: 'For "recipient" (create and read one): the next runs in each zone of the audience',
    }),
  ),
  last_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  recent_runs: Type.Optional(Type.Array(Run)),
});

const IdParams = Type.Object({ id: positiveId('The schedule id') });
const authErrors = {
  401: errorResponse('No or invalid credentials (WWW-Authenticate: Bearer)'),
  403: errorResponse('The caller lacks the permission'),
};
const badInput = {
  400: errorResponse(
    'Invalid body: VALIDATION_FAILED, NOTIFY_SCHEDULE_INVALID (cron, time zone, audience, dates), ' +
      'NOTIFY_SEGMENT_INVALID or NOTIFY_CHANNEL_MISSING',
  ),
};
const notFound = { 404: errorResponse('No such schedule (NOTIFY_SCHEDULE_NOT_FOUND)') };

const iso = (at: Date | null) => (at ? at.toISOString() : null);

function audienceFields(row: ScheduleRow): { segment?: unknown; user_ids?: number[] } {
  return 'user_ids' in row.audience ? { user_ids: row.audience.user_ids } : { segment: row.audience.segment };
}

function present(row: ScheduleRow, now: Date, runs?: ScheduleRun[], byZone?: Record<string, string[]>) {
  return {
    id: Number(row.id),
    name: row.name,
    cron: row.cron,
    time_zone: row.time_zone,
    template_id: row.template_id,
    channel: row.channel,
    category: row.category,
    ...audienceFields(row),
    variables: row.variables,
    starts_at: iso(row.starts_at),
    ends_at: iso(row.ends_at),
    paused: row.paused,
    status: (row.paused ? 'paused' : row.next_run_at ? 'active' : 'finished') as
      | 'active'
      | 'paused'
      | 'finished',
    next_run_at: iso(row.next_run_at),
    next_runs: upcomingRuns(row, now),
    ...(byZone ? { next_runs_by_zone: byZone } : {}),
    last_run_at: iso(row.last_run_at),
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    ...(runs
      ? {
          recent_runs: runs.map((run) => ({
            run_at: run.run_at.toISOString(),
            zone: run.zone,
            notification_id: run.notification_id === null ? null : Number(run.notification_id),
            recipients: run.recipients,
            taken_at: run.taken_at.toISOString(),
          })),
        }
      : {}),
  };
}

/** The audit action of a patch: pausing and resuming are named as such, anything else is an update. */
function patchAction(before: ScheduleRow, after: ScheduleRow): string {
  if (!before.paused && after.paused) return 'schedule.pause';
  if (before.paused && !after.paused) return 'schedule.resume';
  return 'schedule.update';
}

/** /api/notifications/scheduled (FR-002): cron-driven notifications; the runner is in ../schedules.ts. */
export async function scheduleRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const read = requirePermission(platform, 'notify:read');
  const manage = requirePermission(platform, 'notify:manage');
  const actor = (principal: Principal | undefined) => auditFromPrincipal(principal!);
  const tags = ['Notifications'];
  const resource = (id: number | string) => `notify_schedule:${id}`;

  app.post(
    '/api/notifications/scheduled',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Schedule a notification by cron pattern (in a zone or each recipient’s zone)',
        description:
          'Exactly one of `segment` or `user_ids`. Runs missed while no worker ran coalesce into one run on ' +
          'recovery. `time_zone: "recipient"` sends at the cron time in each recipient’s contact zone.',
        body: CreateBody,
        response: { 201: Schedule, ...badInput, ...authErrors, 404: errorResponse('No such template') },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const row = await platform.db.begin(async (tx) => {
        const created = await createSchedule(tx, request.body as ScheduleInput, request.principal!.name, now);
        await appendAudit(tx, {
          ...actor(request.principal),
          action: 'schedule.create',
          resource: resource(created.id),
          result: 'success',
          metadata: { cron: created.cron, time_zone: created.time_zone, template_id: created.template_id },
        });
        return created;
      });
      reply.header('location', `/api/notifications/scheduled/${row.id}`);
      return reply
        .code(201)
        .send(present(row, now, undefined, await upcomingRunsByZone(platform.db, row, now)));
    },
  );

  app.get(
    '/api/notifications/scheduled',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'List scheduled notifications, by id',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          after_id: Type.Optional(
            Type.Integer({ minimum: 0, description: 'The last id of the previous page' }),
          ),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Schedule),
            next_after_id: Type.Union([Type.Integer(), Type.Null()]),
          }),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { limit = 50, after_id = 0 } = request.query as { limit?: number; after_id?: number };
      const rows = await listSchedules(platform.db, limit, after_id);
      const now = new Date();
      return {
        items: rows.map((row) => present(row, now)),
        next_after_id: rows.length === limit ? Number(rows[rows.length - 1]!.id) : null,
      };
    },
  );

  app.get(
    '/api/notifications/scheduled/:id',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'A scheduled notification with its next runs and recent runs',
        params: IdParams,
        response: { 200: Schedule, ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const row = await loadSchedule(platform.db, id);
      const now = new Date();
      return present(
        row,
        now,
        await recentRuns(platform.db, id),
        await upcomingRunsByZone(platform.db, row, now),
      );
    },
  );

  app.patch(
    '/api/notifications/scheduled/:id',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Pause, resume or edit a scheduled notification',
        description:
          'Resuming, or changing the cron, zone, dates or audience, recomputes the next run from now: runs ' +
          'missed while paused are skipped.',
        params: IdParams,
        body: PatchBody,
        response: {
          200: Schedule,
          ...badInput,
          ...authErrors,
          404: errorResponse('No such schedule or template'),
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const now = new Date();
      const after = await platform.db.begin(async (tx) => {
        const result = await updateSchedule(tx, id, request.body as SchedulePatch, now);
        await appendAudit(tx, {
          ...actor(request.principal),
          action: patchAction(result.before, result.after),
          resource: resource(id),
          result: 'success',
          metadata: { changed: result.changed },
        });
        return result.after;
      });
      return present(after, now);
    },
  );

  app.delete(
    '/api/notifications/scheduled/:id',
    {
      preValidation: manage,
      schema: {
        tags,
        summary: 'Delete a scheduled notification (notifications already sent stay)',
        params: IdParams,
        response: { 204: Type.Null(), ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: number };
      await platform.db.begin(async (tx) => {
        const row = await deleteSchedule(tx, id);
        await appendAudit(tx, {
          ...actor(request.principal),
          action: 'schedule.delete',
          resource: resource(id),
          result: 'success',
          metadata: { cron: row.cron, template_id: row.template_id },
        });
      });
      return reply.code(204).send(null);
    },
  );
}
