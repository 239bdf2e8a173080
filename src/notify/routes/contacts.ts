import { Type } from 'typebox';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse, positiveId } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  type Contact,
  deletePushSubscription,
  getContact,
  parseContactInput,
  parsePushSubscription,
  putContact,
  upsertPushSubscription,
} from '../contacts.ts';
import { notifyError } from '../errors.ts';
import { estimateSegment, parseSegment } from '../segments.ts';

const Switches = (keys: string[]) =>
  Type.Object(Object.fromEntries(keys.map((k) => [k, Type.Optional(Type.Boolean())])), {
    additionalProperties: false,
  });
const Preferences = Type.Object(
  {
    channels: Type.Optional(Switches(['email', 'push', 'sms'])),
    categories: Type.Optional(
      Type.Record(Type.String(), Switches(['email', 'push', 'sms', 'all']), {
        description: 'Per category (e.g. marketing): false opts out of a channel, or all: false of every one',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Absent means allowed; false means opted out',
    examples: [{ channels: { sms: false }, categories: { marketing: { email: false } } }],
  },
);
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const ContactBody = Type.Object(
  {
    email: Type.Optional(
      Nullable(Type.String({ maxLength: 254, description: 'Absent: the account’s email' })),
    ),
    phone: Type.Optional(Nullable(Type.String({ maxLength: 16, description: 'E.164, e.g. +79161234567' }))),
    time_zone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA zone; default UTC' })),
    locale: Type.Optional(Type.String({ maxLength: 10, description: 'e.g. ru, en, ru-RU; default en' })),
    country: Type.Optional(
      Nullable(Type.String({ maxLength: 2, description: 'ISO 3166-1 alpha-2, e.g. RU' })),
    ),
    preferences: Type.Optional(Preferences),
    active: Type.Optional(Type.Boolean({ description: 'False: no mail but transactional; default true' })),
  },
  { additionalProperties: false },
);

const ContactSchema = Type.Object({
  user_id: Type.Integer(),
  stored: Type.Boolean({
    description: 'False: no contact saved yet, these are the defaults from the account',
  }),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  time_zone: Type.String(),
  locale: Type.String(),
  country: Type.Union([Type.String(), Type.Null()]),
  preferences: Preferences,
  active: Type.Boolean(),
  push_subscriptions: Type.Array(
    Type.Object({
      id: Type.Integer(),
      endpoint: Type.String(),
      created_at: Type.String({ format: 'date-time' }),
    }),
  ),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const UserParams = Type.Object({ user_id: positiveId('The platform user') });
const authErrors = {
  401: errorResponse('No or invalid credentials'),
  403: errorResponse('The caller lacks the permission'),
};

function present(contact: Contact) {
  return {
    user_id: contact.userId,
    stored: contact.stored,
    email: contact.email,
    phone: contact.phone,
    time_zone: contact.timeZone,
    locale: contact.locale,
    country: contact.country,
    preferences: contact.preferences,
    active: contact.active,
    push_subscriptions: contact.pushSubscriptions.map((s) => ({
      id: s.id,
      endpoint: s.endpoint,
      created_at: s.createdAt,
    })),
    updated_at: contact.updatedAt,
  };
}

/**
 * /api/notify/contacts: recipients and their Web Push subscriptions; also the segment estimate.
 * Writes need notify:send, not notify:manage: contacts are kept up to date by the platform's own services
 * (service role USER: notify:send + notify:read) as users change their details, not by campaign managers.
 */
export async function contactRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const read = requirePermission(platform, 'notify:read');
  const write = requirePermission(platform, 'notify:send');
  const manage = requirePermission(platform, 'notify:manage');
  const tags = ['Notify'];

  app.get(
    '/api/notify/contacts/:user_id',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'A user’s contact: addresses, zone, locale, country, preferences, push subscriptions',
        description:
          'A user with no contact saved gets the defaults (the account’s email, UTC, en): stored false.',
        params: UserParams,
        response: {
          200: ContactSchema,
          400: errorResponse('Malformed user id'),
          ...authErrors,
          404: errorResponse('No such user (NOTIFY_CONTACT_NOT_FOUND)'),
        },
      },
    },
    async (request) => present(await getContact(platform.db, request.params.user_id)),
  );

  app.put(
    '/api/notify/contacts/:user_id',
    {
      preValidation: write,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Create or replace a user’s contact',
        description:
          'Replaces the whole contact: absent fields take their defaults (email: the account’s, time_zone UTC, ' +
          'locale en, active true). Push subscriptions are kept. 400 NOTIFY_CONTACT_INVALID names the field.',
        params: UserParams,
        body: ContactBody,
        response: {
          200: ContactSchema,
          400: errorResponse(
            'A bad field (NOTIFY_CONTACT_INVALID or VALIDATION_FAILED): the message names it',
          ),
          ...authErrors,
          404: errorResponse('No such user (NOTIFY_CONTACT_NOT_FOUND)'),
        },
      },
    },
    async (request) => {
      const userId = request.params.user_id;
      const input = parseContactInput(request.body as Record<string, unknown>);
      await putContact(platform.db, userId, input);
      return present(await getContact(platform.db, userId));
    },
  );

  app.post(
    '/api/notify/contacts/:user_id/push-subscriptions',
    {
      preValidation: write,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Add a Web Push subscription (the browser’s PushSubscription JSON)',
        description:
          'RFC 8030 endpoint, RFC 8291 keys: p256dh the base64url of an uncompressed P-256 point (65 bytes), ' +
          'auth the base64url of 16 bytes. 201 when new; 200 with the same id when the endpoint is known ' +
          '(re-pointed to this user with the new keys). Makes the contact from the account when there is none.',
        params: UserParams,
        body: Type.Object(
          {
            endpoint: Type.String({ minLength: 1, maxLength: 2048, description: 'The push service URL' }),
            keys: Type.Object(
              {
                p256dh: Type.String({ minLength: 1, maxLength: 200 }),
                auth: Type.String({ minLength: 1, maxLength: 100 }),
              },
              { additionalProperties: false },
            ),
            expirationTime: Type.Optional(
              Type.Union([Type.Number(), Type.Null()], {
                description: 'Ignored (the push service says gone)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ id: Type.Integer(), endpoint: Type.String() }, { description: 'Already known' }),
          201: Type.Object({ id: Type.Integer(), endpoint: Type.String() }, { description: 'Added' }),
          400: errorResponse('A bad endpoint or key (NOTIFY_CONTACT_INVALID names it)'),
          ...authErrors,
          404: errorResponse('No such user (NOTIFY_CONTACT_NOT_FOUND)'),
        },
      },
    },
    async (request, reply) => {
      const subscription = parsePushSubscription(request.body);
      const saved = await upsertPushSubscription(platform.db, request.params.user_id, subscription);
      return reply.code(saved.created ? 201 : 200).send({ id: saved.id, endpoint: saved.endpoint });
    },
  );

  app.delete(
    '/api/notify/contacts/:user_id/push-subscriptions/:id',
    {
      preValidation: write,
      schema: {
        tags,
        summary: 'Remove a Web Push subscription',
        params: Type.Object({ user_id: positiveId('The platform user'), id: positiveId('The subscription') }),
        response: {
          204: Type.Null({ description: 'Removed' }),
          400: errorResponse('Malformed id'),
          ...authErrors,
          404: errorResponse('The user has no subscription with this id (NOTIFY_NOT_FOUND)'),
        },
      },
    },
    async (request, reply) => {
      const { user_id, id } = request.params;
      if (!(await deletePushSubscription(platform.db, user_id, id)))
        throw notifyError('NOTIFY_NOT_FOUND', `user ${user_id} has no push subscription ${id}`);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/notify/segments/estimate',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'How many users a segment holds now (the admin panel’s preview of a campaign’s reach)',
        description:
          'A segment is {"all"|"any": [...]}, {"not": {...}} or a condition: country, time_zone, locale, active, ' +
          'bought_event, bought_in_drop, has_channel, user_ids (docs/notify.md, "Segments"). An exact count.',
        body: Type.Object(
          {
            segment: Type.Unknown({
              description: 'The segment',
              examples: [{ all: [{ country: ['RU'] }, { has_channel: 'email' }] }],
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ recipients: Type.Integer() }),
          400: errorResponse('A bad segment (NOTIFY_SEGMENT_INVALID names the path)'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { segment } = request.body as { segment: unknown };
      return { recipients: await estimateSegment(platform.db, parseSegment(segment)) };
    },
  );
}
