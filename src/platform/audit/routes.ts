import { Type } from 'typebox';
import { requirePermission } from '../auth/access.ts';
import type { Platform } from '../context.ts';
import { AppError } from '../http/errors.ts';
import { errorResponse } from '../http/schemas.ts';
import type { HttpApp } from '../http/types.ts';
import { loadMasterKey } from '../secrets/master-key.ts';
import { checkpointKey, checkpointsAfter } from './checkpoints.ts';
import { listAuditEntries } from './list.ts';
import { verifyAuditChain } from './verify.ts';

const PAGE_SIZE_DEFAULT = 50;
const PAGE_SIZE_MAX = 500;
/** Offset paging: deep pages cost a walk past the rows before them, so depth is bounded; filter instead. */
const PAGE_MAX = 10_000;

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Id = Type.String({
  pattern: '^[0-9]+$',
  description: 'Position in the chain (1, 2, 3…), a decimal string',
});

export const AuditEntrySchema = Type.Object({
  id: Id,
  at: Type.String({ description: 'ISO 8601, UTC, milliseconds: exactly the text that was hashed' }),
  actor_type: Type.Union([
    Type.Literal('service_account'),
    Type.Literal('staff'),
    Type.Literal('system'),
    Type.Literal('anonymous'),
  ]),
  actor_id: Type.Union([Type.String(), Type.Null()]),
  action: Type.String({ examples: ['service_account.create'] }),
  resource: Type.String({ examples: ['service_account:42'] }),
  result: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
  reason: Type.Optional(Type.String()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  prev_hash: Hex64,
  hash: Hex64,
});

const VerifyResultSchema = Type.Union([
  Type.Object({
    valid: Type.Literal(true),
    entries: Type.Integer(),
    head: Type.Union([Type.Object({ id: Id, hash: Hex64 }), Type.Null()]),
  }),
  Type.Object({ valid: Type.Literal(false), first_bad_id: Id, reason: Type.String() }),
]);

const authErrors = {
  401: errorResponse('No or invalid credentials'),
  403: errorResponse('The caller lacks audit:read'),
};

/** A date (2026-01-31) or a date-time with a zone (2026-01-31T12:00:00Z, …+02:00). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function parseInstant(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = ISO_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new AppError(
      'VALIDATION_FAILED',
      400,
      `querystring/${name} must be an ISO 8601 date or date-time with a zone, e.g. 2026-01-31 or 2026-01-31T12:00:00Z`,
    );
  }
  return new Date(time);
}

/** GET /api/audit, /api/audit/verify and /api/audit/checkpoints (identity wires them in). */
export async function auditRoutes(app: HttpApp, platform: Platform): Promise<void> {
  // Authentication before validation: an anonymous caller learns nothing about the input rules.
  const preValidation = requirePermission(platform, 'audit:read');
  const masterKey = loadMasterKey(platform.config);
  // An unhandled rejection here would crash boot; the routes that need the key report it.
  masterKey.catch(() => {});

  app.get(
    '/api/audit',
    {
      preValidation,
      schema: {
        tags: ['Audit'],
        summary: 'Audit log entries, newest first',
        querystring: Type.Object({
          actor_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          action: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          resource: Type.Optional(Type.String({ minLength: 1, maxLength: 400 })),
          from: Type.Optional(Type.String({ description: 'Inclusive lower bound on `at` (ISO 8601)' })),
          to: Type.Optional(Type.String({ description: 'Inclusive upper bound on `at` (ISO 8601)' })),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: 'Default 1' })),
          pageSize: Type.Optional(
            Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, description: `Default ${PAGE_SIZE_DEFAULT}` }),
          ),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AuditEntrySchema),
            page: Type.Integer(),
            pageSize: Type.Integer(),
            hasMore: Type.Boolean({ description: 'Whether a next page has entries' }),
          }),
          400: errorResponse('Malformed parameters: the message says which'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { actor_id, action, resource, page = 1, pageSize = PAGE_SIZE_DEFAULT } = request.query;
      const from = parseInstant(request.query.from, 'from');
      const to = parseInstant(request.query.to, 'to');
      if (from && to && from > to) {
        throw new AppError('VALIDATION_FAILED', 400, 'querystring/from must not be after querystring/to');
      }
      const { items, hasMore } = await listAuditEntries(
        platform.db,
        { actorId: actor_id, action, resource, from, to },
        { page, pageSize },
      );
      return { items, page, pageSize, hasMore };
    },
  );

  app.get(
    '/api/audit/verify',
    {
      preValidation,
      schema: {
        tags: ['Audit'],
        summary: 'Recompute the whole chain and check every signed checkpoint',
        description:
          'Walks every entry in id order: ids without gaps, each hash recomputed over the canonical form, each prev_hash linking to the entry before, every checkpoint signature and hash, and no entries missing after the last checkpoint. Takes time proportional to the log.',
        response: { 200: VerifyResultSchema, ...authErrors },
      },
    },
    async () => verifyAuditChain(platform.db, await masterKey),
  );

  app.get(
    '/api/audit/checkpoints',
    {
      preValidation,
      schema: {
        tags: ['Audit'],
        summary: 'Signed checkpoints of the chain head, oldest first, and the public key to check them',
        description:
          'Each signature is Ed25519 over the RFC 8785 canonical JSON of {"at","head_hash","head_id"}. Keep copies outside the platform: a checkpoint you hold proves what the chain was, even if the database is later rewritten.',
        querystring: Type.Object({
          after_head_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'Default 0' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100' })),
        }),
        response: {
          200: Type.Object({
            public_key: Type.Object({
              alg: Type.Literal('Ed25519'),
              jwk: Type.Object({ kty: Type.Literal('OKP'), crv: Type.Literal('Ed25519'), x: Type.String() }),
              message: Type.String(),
            }),
            checkpoints: Type.Array(
              Type.Object({ head_id: Id, head_hash: Hex64, at: Type.String(), signature: Type.String() }),
            ),
          }),
          400: errorResponse('Malformed parameters: the message says which'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const key = checkpointKey(await masterKey);
      const checkpoints = await checkpointsAfter(
        platform.db,
        request.query.after_head_id ?? '0',
        request.query.limit ?? 100,
      );
      return { public_key: key.published, checkpoints };
    },
  );
}
