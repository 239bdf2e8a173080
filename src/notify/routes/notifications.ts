import { Type } from 'typebox';
import { appendAudit, auditFromPrincipal } from '../../platform/audit/index.ts';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import { listDeadLetters, retryDeadLetters } from '../dead-letters.ts';
import { notifyError } from '../errors.ts';
import { acceptInstant, type InstantRequest, notificationStatus } from '../notifications.ts';
import type { Channel } from '../queue.ts';
import { ChannelSchema } from './schemas.ts';

const Slug = (description: string) => Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$', description });

const InstantBody = Type.Object(
  {
    user_id: Type.Optional(positiveId('A platform user: their contact’s address for the channel')),
    to: Type.Optional(
      Type.Object(
        {
          email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
          phone: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164' })),
        },
        { description: 'An address instead of a user (email or SMS)', additionalProperties: false },
      ),
    ),
    channel: ChannelSchema,
    template_id: Type.Optional(Slug('A template with parts for the channel (its current version is used)')),
    variables: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'The template’s declared variables' }),
    ),
    subject: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 998,
        description: 'Ad-hoc content: email subject or push title',
      }),
    ),
    body: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100_000,
        description: 'Ad-hoc content instead of a template (plain text)',
      }),
    ),
    content_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'The caller’s own reference' }),
    ),
    category: Type.Optional(
      Slug('`transactional` (default: no quiet hours, no unsubscribe) or e.g. `marketing`, `reminders`'),
    ),
  },
  { additionalProperties: false },
);

const Accepted = Type.Object({
  id: Type.Integer(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('suppressed')], {
    description:
      '`suppressed`: the recipient opted out or the address is on the suppression list; nothing is sent',
  }),
});

const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('sent'),
  Type.Literal('delivered'),
  Type.Literal('opened'),
  Type.Literal('failed'),
  Type.Literal('bounced'),
  Type.Literal('suppressed'),
  Type.Literal('cancelled'),
]);

const NotificationBody = Type.Object({
  id: Type.Integer(),
  status: Status,
  channel: ChannelSchema,
  category: Type.String(),
  recipient: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
  history: Type.Array(Type.Object({ status: Type.String(), at: Type.String({ format: 'date-time' }) })),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  deliveries: Type.Array(
    Type.Object({
      id: Type.Integer(),
      recipient: Type.String(),
      status: Status,
      attempts: Type.Integer(),
      provider: Type.Union([Type.String(), Type.Null()]),
      last_error: Type.Union([Type.String(), Type.Null()]),
      next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
    { description: 'One per recipient address (a user’s push subscriptions are several)' },
  ),
});

const DeadLetterBody = Type.Object({
  id: Type.Integer(),
  notification_id: Type.Integer(),
  channel: ChannelSchema,
  recipient: Type.String(),
  attempts: Type.Integer(),
  provider: Type.Union([Type.String(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  failed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** Instant notifications (FR-001), their status, and the dead letters of the delivery engine. */
export async function notificationRoutes(app: HttpApp, platform: Platform): Promise<void> {
  app.post(
    '/api/notifications',
    {
      preValidation: requirePermission(platform, 'notify:send'),
      validatorCompiler: strictBody,
      schema: {
        tags: ['Notify'],
        summary: 'Send a notification now: queued and committed before the 202, sent by the delivery workers',
        description:
          'To a user (`user_id`: their contact’s email or phone, or every push subscription) or an address (`to`). Content from a template (`template_id` + `variables`, validated now) or ad hoc (`subject` + `body`). An `Idempotency-Key` header makes a repeat within 24 h return the first answer.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ description: '1–200 visible ASCII characters' })),
        }),
        body: InstantBody,
        response: {
          202: Accepted,
          400: errorResponse(
            'Malformed request, unknown template variable, missing required variable, template without the channel',
          ),
          401: errorResponse('No or invalid token'),
          403: errorResponse('Lacks notify:send'),
          404: errorResponse('No such user or template'),
          422: errorResponse(
            'The user has no address for the channel, or the Idempotency-Key was used with another request',
          ),
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
        throw notifyError(
          'NOTIFY_VARIABLES_INVALID',
          'Idempotency-Key must be 1–200 visible ASCII characters',
        );
      const accepted = await acceptInstant(platform, request.principal!, request.body as InstantRequest, key);
      return reply.status(202).send(accepted);
    },
  );

  app.get(
    '/api/notifications/:id',
    {
      preValidation: requirePermission(platform, 'notify:read'),
      schema: {
        tags: ['Notify'],
        summary: 'A notification’s status, attempts and history',
        params: Type.Object({ id: positiveId('The id POST /api/notifications gave') }),
        response: {
          200: NotificationBody,
          400: errorResponse('Malformed id'),
          401: errorResponse('No or invalid token'),
          403: errorResponse('Lacks notify:read'),
          404: errorResponse('No such notification'),
        },
      },
    },
    async (request) => notificationStatus(platform.db, (request.params as { id: number }).id),
  );

  app.get(
    '/api/notify/dead-letters',
    {
      preValidation: requirePermission(platform, 'notify:read'),
      schema: {
        tags: ['Notify'],
        summary: 'Deliveries that failed for good: refused permanently, or every attempt used',
        querystring: Type.Object({
          channel: Type.Optional(ChannelSchema),
          after: Type.Optional(positiveId('The last id of the previous page')),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: {
          200: Type.Object({
            dead_letters: Type.Array(DeadLetterBody),
            next: Type.Union([Type.Integer(), Type.Null()]),
          }),
          400: errorResponse('Malformed query'),
          401: errorResponse('No or invalid token'),
          403: errorResponse('Lacks notify:read'),
        },
      },
    },
    async (request) => {
      const query = request.query as { channel?: Channel; after?: number; limit: number };
      const letters = await listDeadLetters(platform.db, query);
      return { dead_letters: letters, next: letters.length === query.limit ? letters.at(-1)!.id : null };
    },
  );

  app.post(
    '/api/notify/dead-letters/:id/retry',
    {
      preValidation: requirePermission(platform, 'notify:manage'),
      schema: {
        tags: ['Notify'],
        summary: 'Put one dead letter back in the queue with fresh attempts',
        params: Type.Object({ id: positiveId('A dead letter (delivery) id') }),
        response: {
          200: Type.Object({ retried: Type.Integer() }),
          400: errorResponse('Malformed id'),
          401: errorResponse('No or invalid token'),
          403: errorResponse('Lacks notify:manage'),
          404: errorResponse('No such dead letter'),
        },
      },
    },
    async (request) => {
      const id = (request.params as { id: number }).id;
      const retried = await platform.db.begin(async (tx) => {
        const n = await retryDeadLetters(tx, { id });
        await appendAudit(tx, {
          ...auditFromPrincipal(request.principal!),
          action: 'notify.dead_letter_retry',
          resource: `delivery:${id}`,
          result: 'success',
        });
        return n;
      });
      return { retried };
    },
  );

  app.post(
    '/api/notify/dead-letters/retry',
    {
      preValidation: requirePermission(platform, 'notify:manage'),
      validatorCompiler: strictBody,
      schema: {
        tags: ['Notify'],
        summary: 'Put every dead letter (of a channel) back in the queue, e.g. after a provider outage',
        body: Type.Object({ channel: Type.Optional(ChannelSchema) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ retried: Type.Integer() }),
          400: errorResponse('Malformed body'),
          401: errorResponse('No or invalid token'),
          403: errorResponse('Lacks notify:manage'),
        },
      },
    },
    async (request) => {
      const { channel } = request.body as { channel?: Channel };
      const retried = await platform.db.begin(async (tx) => {
        const n = await retryDeadLetters(tx, { channel });
        await appendAudit(tx, {
          ...auditFromPrincipal(request.principal!),
          action: 'notify.dead_letters_retry',
          resource: `dead-letters:${channel ?? 'all'}`,
          result: 'success',
          metadata: { retried: n },
        });
        return n;
      });
      return { retried };
    },
  );
}
