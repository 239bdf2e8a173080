import { Type } from 'typebox';
import { auditFromPrincipal } from '../../platform/audit/index.ts';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import {
  changeServiceAccount,
  createServiceAccount,
  DESCRIPTION_MAX,
  deleteServiceAccount,
  getServiceAccount,
  listServiceAccounts,
  NAME_MAX,
  NAME_PATTERN,
  RATE_MAX,
  rotateServiceAccountSecret,
} from './service.ts';
import type { ServiceAccountRow } from './store.ts';

const PAGE_SIZE_DEFAULT = 50;
const PAGE_SIZE_MAX = 500;

const Role = Type.Union(
  [Type.Literal('ADMIN'), Type.Literal('USER'), Type.Literal('AUDITOR'), Type.Literal('READONLY')],
  {
    description: 'ADMIN: everything; USER: files and notifications; AUDITOR: the audit log; READONLY: reads',
  },
);
const Status = Type.Union([Type.Literal('active'), Type.Literal('disabled')]);
const RateLimit = Type.Object(
  {
    per_minute: Type.Integer({ minimum: 1, maximum: RATE_MAX, description: 'Tokens regained a minute' }),
    burst: Type.Integer({ minimum: 1, maximum: RATE_MAX, description: 'Bucket size: requests at once' }),
  },
  { additionalProperties: false, description: 'Token bucket of this account; null or absent: the default' },
);
const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX,
  pattern: NAME_PATTERN,
  examples: ['billing-sync'],
});
const Description = Type.String({ maxLength: DESCRIPTION_MAX });

const Account = Type.Object({
  id: Type.String({ description: 'Decimal id (a bigint), the `sub` of its tokens', examples: ['42'] }),
  client_id: Type.String({ examples: ['sa_3q2Xb9Yk1mZp0aQwErTyUg'] }),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  status: Status,
  rate_limit: Type.Union([RateLimit, Type.Null()]),
  version: Type.Integer({ description: 'Bumped by every change of role, status, rate limit or secret' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Last token request (updated at most once a minute)',
  }),
});
const Secret = Type.String({ description: 'Shown once; only a keyed hash is stored', examples: ['bxs_…'] });
const IdParams = Type.Object({ id: Type.String({ maxLength: 40, description: 'The account id' }) });

const authErrors = {
  401: errorResponse('No or invalid credentials (WWW-Authenticate: Bearer)'),
  403: errorResponse('The caller may not manage service accounts (needs role ADMIN)'),
  429: errorResponse('Rate limit of the calling service account exceeded (Retry-After, RateLimit-*)'),
};
const badInput = { 400: errorResponse('Malformed body or parameters: the message says which') };
const notFound = { 404: errorResponse('No such service account (or it was deleted)') };

function present(row: ServiceAccountRow) {
  return {
    id: row.id,
    client_id: row.clientId,
    name: row.name,
    description: row.description,
    role: row.role,
    status: row.status,
    rate_limit:
      row.rateLimitPerMinute !== null && row.rateLimitBurst !== null
        ? { per_minute: row.rateLimitPerMinute, burst: row.rateLimitBurst }
        : null,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
  };
}

const rateLimitIn = (limit: { per_minute: number; burst: number } | null | undefined) =>
  limit === undefined ? undefined : limit && { perMinute: limit.per_minute, burst: limit.burst };

/** `/api/service-accounts…` (ADMIN only: `service-accounts:manage`). */
export async function serviceAccountRoutes(app: HttpApp, platform: Platform): Promise<void> {
  // Authentication before validation: an anonymous caller learns nothing about the input rules.
  const preValidation = requirePermission(platform, 'service-accounts:manage');
  const actor = (principal: Principal | undefined) => auditFromPrincipal(principal!);
  const tags = ['Service accounts'];

  app.post(
    '/api/service-accounts',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Create a service account; its secret is in this answer only',
        body: Type.Object(
          {
            name: Name,
            role: Role,
            description: Type.Optional(Type.Union([Description, Type.Null()])),
            rate_limit: Type.Optional(Type.Union([RateLimit, Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...Account.properties, client_secret: Secret }),
          ...badInput,
          ...authErrors,
          409: errorResponse('The name is taken (SERVICE_ACCOUNT_NAME_TAKEN)'),
        },
      },
    },
    async (request, reply) => {
      const { name, role, description, rate_limit } = request.body;
      const { account, clientSecret } = await createServiceAccount(
        platform,
        { name, role, description: description ?? null, rateLimit: rateLimitIn(rate_limit) ?? null },
        actor(request.principal),
      );
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...present(account), client_secret: clientSecret });
    },
  );

  app.get(
    '/api/service-accounts',
    {
      preValidation,
      schema: {
        tags,
        summary: 'Service accounts by id (never their secrets)',
        querystring: Type.Object({
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Default 1' })),
          pageSize: Type.Optional(
            Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, description: `Default ${PAGE_SIZE_DEFAULT}` }),
          ),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Account),
            page: Type.Integer(),
            pageSize: Type.Integer(),
            total: Type.Integer({ description: 'Accounts not deleted' }),
          }),
          ...badInput,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { page = 1, pageSize = PAGE_SIZE_DEFAULT } = request.query;
      const { rows, total } = await listServiceAccounts(platform, { page, pageSize });
      return { items: rows.map(present), page, pageSize, total };
    },
  );

  app.get(
    '/api/service-accounts/:id',
    {
      preValidation,
      schema: {
        tags,
        summary: 'One service account (never its secret)',
        params: IdParams,
        response: { 200: Account, ...authErrors, ...notFound },
      },
    },
    async (request) => present(await getServiceAccount(platform, request.params.id)),
  );

  app.patch(
    '/api/service-accounts/:id',
    {
      preValidation,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Change role, status, description or rate limit (takes effect at once on every process)',
        params: IdParams,
        body: Type.Object(
          {
            role: Type.Optional(Role),
            status: Type.Optional(Status),
            description: Type.Optional(Type.Union([Description, Type.Null()])),
            rate_limit: Type.Optional(Type.Union([RateLimit, Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Account,
          ...badInput,
          ...authErrors,
          ...notFound,
          409: errorResponse('It would leave no active ADMIN (SERVICE_ACCOUNT_LAST_ADMIN)'),
        },
      },
    },
    async (request) => {
      const { role, status, description, rate_limit } = request.body;
      const change = {
        ...(role !== undefined ? { role } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(rate_limit !== undefined ? { rateLimit: rateLimitIn(rate_limit) } : {}),
      };
      return present(
        await changeServiceAccount(platform, request.params.id, change, actor(request.principal)),
      );
    },
  );

  app.post(
    '/api/service-accounts/:id/rotate-secret',
    {
      preValidation,
      schema: {
        tags,
        summary: 'A new secret (shown once); the old one and tokens issued with it stop working at once',
        params: IdParams,
        response: { 200: Type.Object({ client_secret: Secret }), ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const { clientSecret } = await rotateServiceAccountSecret(
        platform,
        request.params.id,
        actor(request.principal),
      );
      reply.header('cache-control', 'no-store');
      return { client_secret: clientSecret };
    },
  );

  app.delete(
    '/api/service-accounts/:id',
    {
      preValidation,
      schema: {
        tags,
        summary: 'Delete a service account (its tokens stop working at once)',
        params: IdParams,
        response: {
          204: { description: 'Deleted', type: 'null' },
          ...authErrors,
          ...notFound,
          409: errorResponse('It is the last active ADMIN (SERVICE_ACCOUNT_LAST_ADMIN)'),
        },
      },
    },
    async (request, reply) => {
      await deleteServiceAccount(platform, request.params.id, actor(request.principal));
      return reply.code(204).send(null);
    },
  );
}
