import { Type } from 'typebox';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  DEFAULT_SPAN_DAYS,
  DeliveryLogRangeError,
  type DeliveryStatus,
  deliveryLogRange,
  listDeliveries,
  MAX_SPAN_DAYS,
  PAGE_DEFAULT,
  PAGE_MAX,
} from '../delivery-log.ts';
import type { Channel } from '../queue.ts';
import { ChannelSchema } from './schemas.ts';

const StatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('sent'),
  Type.Literal('delivered'),
  Type.Literal('opened'),
  Type.Literal('failed'),
  Type.Literal('bounced'),
  Type.Literal('suppressed'),
  Type.Literal('cancelled'),
]);
const At = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const Delivery = Type.Object({
  id: Type.Integer(),
  notification_id: Type.Integer(),
  kind: Type.Union([Type.String(), Type.Null()], {
    description: 'instant, event, scheduled or bulk (the notification’s)',
  }),
  template_id: Type.Union([Type.String(), Type.Null()]),
  campaign_id: Type.Union([Type.Integer(), Type.Null()], { description: 'For bulk: the campaign' }),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  channel: ChannelSchema,
  recipient: Type.String({ description: 'The address: an email, an E.164 phone or a push endpoint' }),
  status: StatusSchema,
  dead: Type.Boolean({ description: 'A dead letter (failed for good; can be retried)' }),
  attempts: Type.Integer(),
  provider: Type.Union([Type.String(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  country: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'While pending: when it is due',
  }),
  sent_at: At,
  delivered_at: At,
  opened_at: At,
  clicked_at: At,
  failed_at: At,
});

const Query = Type.Object({
  status: Type.Optional(StatusSchema),
  channel: Type.Optional(ChannelSchema),
  notification_id: Type.Optional(positiveId('Deliveries of one notification')),
  campaign_id: Type.Optional(positiveId('Deliveries of one bulk campaign')),
  recipient: Type.Optional(
    Type.String({ minLength: 1, maxLength: 2048, description: 'An exact address (email, phone, endpoint)' }),
  ),
  user_id: Type.Optional(positiveId('Deliveries to one user')),
  from: Type.Optional(
    Type.String({
      format: 'date-time',
      description: `Created at or after (ISO 8601); default ${DEFAULT_SPAN_DAYS} days before \`to\``,
    }),
  ),
  to: Type.Optional(
    Type.String({ format: 'date-time', description: 'Created before (ISO 8601); default now' }),
  ),
  before_id: Type.Optional(positiveId('Next page: the previous page’s `next_before_id`')),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: `Default ${PAGE_DEFAULT}` }),
  ),
});

/** GET /api/notify/deliveries: the delivery log of the admin panel (docs/notify.md, "The delivery log"). */
export async function deliveryRoutes(app: HttpApp, platform: Platform): Promise<void> {
  app.get(
    '/api/notify/deliveries',
    {
      preValidation: requirePermission(platform, 'notify:read'),
      schema: {
        tags: ['Notify'],
        summary:
          'The delivery log: deliveries newest first, by status, channel, notification, campaign, recipient',
        description:
          `Each row is one delivery (recipient × channel of a notification) with its status and times. Bounded ` +
          `to the day partitions of \`from\`..\`to\` (default the last ${DEFAULT_SPAN_DAYS} days, at most ` +
          `${MAX_SPAN_DAYS}); a notification or campaign narrows it to its day. Keyset paging: pass ` +
          '`next_before_id` as `before_id`.',
        querystring: Query,
        response: {
          200: Type.Object({
            items: Type.Array(Delivery),
            next_before_id: Type.Union([Type.Integer(), Type.Null()], {
              description: 'null on the last page',
            }),
            from: Type.String({ format: 'date-time' }),
            to: Type.String({ format: 'date-time' }),
          }),
          400: errorResponse('A bad filter, time or range (VALIDATION_FAILED)'),
          401: errorResponse('No or invalid credentials'),
          403: errorResponse('Without notify:read'),
        },
      },
    },
    async (request) => {
      const q = request.query as {
        status?: DeliveryStatus;
        channel?: Channel;
        notification_id?: number;
        campaign_id?: number;
        recipient?: string;
        user_id?: number;
        from?: string;
        to?: string;
        before_id?: number;
        limit?: number;
      };
      let range: { from: Date; to: Date };
      try {
        range = deliveryLogRange(q.from, q.to);
      } catch (error) {
        if (error instanceof DeliveryLogRangeError)
          throw new AppError('VALIDATION_FAILED', 400, error.message);
        throw error;
      }
      const limit = q.limit ?? PAGE_DEFAULT;
      const items = await listDeliveries(platform.db, {
        status: q.status,
        channel: q.channel,
        notificationId: q.notification_id,
        campaignId: q.campaign_id,
        recipient: q.recipient,
        userId: q.user_id,
        ...range,
        beforeId: q.before_id,
        limit,
      });
      return {
        items,
        next_before_id: items.length === limit ? items.at(-1)!.id : null,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
      };
    },
  );
}
