import { Type } from 'typebox';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  type CampaignRow,
  type CampaignStatus,
  campaignProgress,
  cancelCampaign,
  createCampaign,
  getCampaign,
  listCampaigns,
  previewCampaign,
  sendCampaign,
} from '../campaigns.ts';
import { ChannelSchema } from './schemas.ts';

const StatusSchema = Type.Union([
  Type.Literal('draft'),
  Type.Literal('scheduled'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('cancelled'),
]);
const DateOrNull = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const CampaignSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  segment: Type.Unknown(),
  template_id: Type.String(),
  template_version: Type.Union([Type.Integer(), Type.Null()], { description: 'Pinned when sent' }),
  channel: ChannelSchema,
  category: Type.String(),
  variables: Type.Record(Type.String(), Type.Unknown()),
  status: StatusSchema,
  send_at: DateOrNull,
  recipients_estimate: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The segment’s size at creation',
  }),
  notification_id: Type.Union([Type.Integer(), Type.Null()]),
  created_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  started_at: DateOrNull,
  finished_at: DateOrNull,
  cancelled_at: DateOrNull,
  fanout: Type.Object(
    {
      recipients: Type.Integer({ description: 'Deliveries made so far' }),
      done: Type.Boolean({ description: 'Every member of the segment has its delivery' }),
    },
    { description: 'The fan-out: `sent` means done; delivery progress is in `progress`' },
  ),
});
const CampaignWithProgress = Type.Object({
  ...CampaignSchema.properties,
  progress: Type.Record(Type.String(), Type.Integer(), {
    description:
      'Deliveries by status: pending, sent, delivered, opened, failed, bounced, suppressed, cancelled',
    examples: [{ pending: 900, sent: 80, delivered: 15, suppressed: 5 }],
  }),
});
const IdParams = Type.Object({ id: positiveId('The campaign') });
const SendAt = Type.String({
  format: 'date-time',
  description: 'ISO 8601; in the future: scheduled, else sent now',
  examples: ['2030-01-01T09:00:00Z'],
});

const authErrors = {
  401: errorResponse('No or invalid credentials'),
  403: errorResponse('The caller lacks the permission'),
};
const notFound = { 404: errorResponse('No such campaign (NOTIFY_CAMPAIGN_NOT_FOUND)') };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function present(c: CampaignRow) {
  return {
    id: Number(c.id),
    name: c.name,
    segment: c.segment,
    template_id: c.template_id,
    template_version: c.template_version,
    channel: c.channel,
    category: c.category,
    variables: c.variables,
    status: c.status,
    send_at: iso(c.send_at),
    recipients_estimate: c.recipients_estimate === null ? null : Number(c.recipients_estimate),
    notification_id: c.notification_id === null ? null : Number(c.notification_id),
    created_by: c.created_by,
    created_at: c.created_at.toISOString(),
    started_at: iso(c.started_at),
    finished_at: iso(c.finished_at),
    cancelled_at: iso(c.cancelled_at),
    fanout: { recipients: Number(c.recipients), done: c.fanout_done },
  };
}

/**
 * /api/admin/bulk (FR-003): bulk campaigns of the admin panel. Writes and previews need notify:manage,
 * reading needs notify:read (analysts follow a campaign's progress).
 */
export async function bulkRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const read = requirePermission(platform, 'notify:read');
  const manage = requirePermission(platform, 'notify:manage');
  const tags = ['Notify'];

  app.post(
    '/api/admin/bulk',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Create a bulk campaign for a segment (a draft, or scheduled right away with send_at)',
        description:
          'Without send_at the campaign is a draft: preview it, then POST …/send. With send_at it is scheduled ' +
          '(or sent now when send_at is not in the future) and the template version is pinned at once. ' +
          '`recipients` is the segment’s size now.',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            segment: Type.Unknown({
              description: 'A segment (see POST /api/notify/segments/estimate)',
              examples: [{ all: [{ country: ['RU'] }, { active: true }] }],
            }),
            template_id: Type.String({ minLength: 1, maxLength: 100 }),
            channel: ChannelSchema,
            send_at: Type.Optional(SendAt),
            category: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 64,
                description: 'Default marketing (never transactional)',
              }),
            ),
            variables: Type.Optional(
              Type.Record(Type.String(), Type.Unknown(), { description: 'Shared by every recipient' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.Integer(),
            status: StatusSchema,
            recipients: Type.Integer({ description: 'The segment’s size now (an exact count)' }),
            send_at: DateOrNull,
          }),
          400: errorResponse(
            'A bad field, segment (NOTIFY_SEGMENT_INVALID) or a template without this channel (NOTIFY_CHANNEL_MISSING)',
          ),
          ...authErrors,
          404: errorResponse('No such template (NOTIFY_TEMPLATE_NOT_FOUND)'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const campaign = await createCampaign(platform, request.principal!, {
        name: body.name,
        segment: body.segment,
        templateId: body.template_id,
        channel: body.channel,
        category: body.category,
        variables: body.variables,
        sendAt: body.send_at,
      });
      reply.header('location', `/api/admin/bulk/${campaign.id}`);
      return reply.code(201).send({
        id: Number(campaign.id),
        status: campaign.status,
        recipients: Number(campaign.recipients_estimate ?? 0),
        send_at: iso(campaign.send_at),
      });
    },
  );

  app.get(
    '/api/admin/bulk',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Campaigns, newest first',
        querystring: Type.Object({
          status: Type.Optional(StatusSchema),
          before_id: Type.Optional(positiveId('Next page: the last id of the previous one')),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(CampaignSchema) }),
          400: errorResponse('A bad parameter'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { status, before_id, limit } = request.query;
      const items = await listCampaigns(platform.db, {
        status: status as CampaignStatus | undefined,
        beforeId: before_id,
        limit: limit ?? 50,
      });
      return { items: items.map(present) };
    },
  );

  app.get(
    '/api/admin/bulk/:id',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'A campaign with its progress: deliveries by status and the fan-out',
        params: IdParams,
        response: {
          200: CampaignWithProgress,
          400: errorResponse('Malformed id'),
          ...authErrors,
          ...notFound,
        },
      },
    },
    async (request) => {
      const campaign = await getCampaign(platform.db, request.params.id);
      return { ...present(campaign), progress: await campaignProgress(platform.db, campaign) };
    },
  );

  app.post(
    '/api/admin/bulk/:id/send',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Send a draft now or at send_at (or move a scheduled one); pins the template version',
        params: IdParams,
        body: Type.Object({ send_at: Type.Optional(SendAt) }, { additionalProperties: false }),
        response: {
          200: CampaignSchema,
          400: errorResponse('A bad send_at, or the template lost this channel'),
          ...authErrors,
          ...notFound,
          409: errorResponse('Already sending, sent or cancelled (NOTIFY_CAMPAIGN_STATE)'),
        },
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as { send_at?: string };
      return present(await sendCampaign(platform, request.principal!, request.params.id, body.send_at));
    },
  );

  app.post(
    '/api/admin/bulk/:id/preview',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'The campaign rendered for sample recipients of its segment, as each would receive it',
        description:
          'The first `sample` members (default 3): campaign variables plus the recipient’s own (first_name, ' +
          'surname, email) where the template declares them. A recipient the template cannot be rendered for ' +
          '(a required variable missing) has `error` instead of `parts`.',
        params: IdParams,
        body: Type.Object(
          { sample: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3 })) },
          { additionalProperties: false, description: 'Optional: no body means the defaults' },
        ),
        response: {
          200: Type.Object({
            template_id: Type.String(),
            version: Type.Integer(),
            channel: ChannelSchema,
            samples: Type.Array(
              Type.Object({
                user_id: Type.Integer(),
                recipient: Type.Union([Type.String(), Type.Null()], {
                  description: 'The address; null when the user has none for the channel',
                }),
                suppressed: Type.Union([Type.String(), Type.Null()], {
                  description: 'Why it would not be sent',
                }),
                parts: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
                error: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          400: errorResponse('Malformed body'),
          ...authErrors,
          404: errorResponse('No such campaign or template'),
        },
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as { sample?: number };
      const preview = await previewCampaign(platform.db, request.params.id, body.sample ?? 3);
      return {
        template_id: preview.templateId,
        version: preview.version,
        channel: preview.channel,
        samples: preview.samples.map((s) => ({
          user_id: s.userId,
          recipient: s.recipient,
          suppressed: s.suppressed,
          parts: s.parts,
          error: s.error,
        })),
      };
    },
  );

  app.post(
    '/api/admin/bulk/:id/cancel',
    {
      preValidation: manage,
      schema: {
        tags,
        summary: 'Cancel a campaign: stops the fan-out and what is not sent yet; what was sent stays',
        params: IdParams,
        response: {
          200: Type.Object({
            ...CampaignSchema.properties,
            cancelled_deliveries: Type.Integer({ description: 'Pending deliveries cancelled now' }),
          }),
          400: errorResponse('Malformed id'),
          ...authErrors,
          ...notFound,
          409: errorResponse('Already sent or cancelled (NOTIFY_CAMPAIGN_STATE)'),
        },
      },
    },
    async (request) => {
      const { campaign, cancelledDeliveries } = await cancelCampaign(
        platform,
        request.principal!,
        request.params.id,
      );
      return { ...present(campaign), cancelled_deliveries: cancelledDeliveries };
    },
  );
}
