import { type Static, Type } from 'typebox';
import { requirePermission } from '../../platform/auth/access.ts';
import type { Platform } from '../../platform/context.ts';
import { AppError } from '../../platform/http/errors.ts';
import { errorResponse } from '../../platform/http/schemas.ts';
import { strictBody } from '../../platform/http/strict-body.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import type { StoredDefinition } from '../template-cache.ts';
import {
  assertValidDefinition,
  CHANNELS,
  createTemplate,
  diffVersions,
  generateTemplateId,
  getTemplate,
  getVersion,
  listTemplates,
  listVersions,
  previewVariables,
  type RenderedChannel,
  renderChannel,
  rollbackTemplate,
  smsCost,
  type TemplateRecord,
  updateTemplate,
  type VersionRecord,
} from '../template-store.ts';
import { type Channel, PARSE_LIMIT } from '../templates/index.ts';
import { ChannelSchema } from './schemas.ts';

const TEMPLATE_ID = '^[a-z0-9][a-z0-9._-]{0,63}$';
const MAX_VERSION = 2_147_483_647;
const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;

const TemplateId = Type.String({
  pattern: TEMPLATE_ID,
  description: 'A slug: lowercase letters, digits, `.`, `_`, `-`; 1–64 characters',
  examples: ['order-confirmed'],
});
const VersionNumber = (description: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_VERSION, description, examples: [1] });
const Source = (description: string, minLength = 1) =>
  Type.String({ minLength, maxLength: PARSE_LIMIT, description: `${description} (Liquid)` });

const Variable = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$',
      description: 'What parts read as `{{ name }}` or `{{ name.field }}`',
      examples: ['user'],
    }),
    required: Type.Optional(Type.Boolean({ description: 'A send without it is refused (default false)' })),
    sample: Type.Optional(Type.Unknown({ description: 'Used by previews when no value is given' })),
  },
  { additionalProperties: false },
);
const EmailParts = Type.Object(
  {
    subject: Type.String({ minLength: 1, maxLength: 998, description: 'Subject (Liquid, not escaped)' }),
    html: Source('HTML body, every output escaped'),
    text: Type.Optional(Source('Plain-text body; made from the HTML when absent', 0)),
  },
  { additionalProperties: false },
);
const PushParts = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 1000, description: 'Title (Liquid)' }),
    body: Source('Body'),
    url: Type.Optional(
      Type.String({ minLength: 1, maxLength: 2000, description: 'Opened on click (Liquid)' }),
    ),
  },
  { additionalProperties: false },
);
const SmsParts = Type.Object({ text: Source('Message text') }, { additionalProperties: false });
const Channels = Type.Object(
  { email: Type.Optional(EmailParts), push: Type.Optional(PushParts), sms: Type.Optional(SmsParts) },
  { additionalProperties: false, minProperties: 1, description: 'At least one channel' },
);
const Definition = Type.Object({
  variables: Type.Array(Variable, { maxItems: 100 }),
  channels: Channels,
});

const TemplateFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  note: Type.Optional(
    Type.Union([
      Type.String({ maxLength: 500, description: 'Why this version (the history shows it)' }),
      Type.Null(),
    ]),
  ),
  variables: Type.Array(Variable, { maxItems: 100, description: 'Every variable the parts may read' }),
  channels: Channels,
};
const CreateBody = Type.Object(
  { id: Type.Optional(TemplateId), ...TemplateFields },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(TemplateFields, { additionalProperties: false });
type UpdateBodyT = Static<typeof UpdateBody>;

const SmsCost = Type.Object(
  {
    encoding: Type.Union([Type.Literal('GSM-7'), Type.Literal('UCS-2')]),
    segments: Type.Integer({ description: 'SMS parts one message costs' }),
    units: Type.Integer({ description: 'Septets (GSM-7) or UTF-16 code units (UCS-2)' }),
    basis: Type.Union([Type.Literal('sample'), Type.Literal('source')], {
      description:
        '`sample`: measured on a render with the declared sample values (null where none); `source`: on the raw text, when that render fails',
    }),
  },
  { description: 'Present when the template has an SMS part' },
);
const Template = Type.Object({
  id: TemplateId,
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  current_version: Type.Integer(),
  versions: Type.Integer({ description: 'How many versions exist' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  definition: Type.Object({ ...Definition.properties }, { description: "The current version's definition" }),
  sms_segments: Type.Optional(SmsCost),
});
const VersionSummary = Type.Object({
  version: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  created_by: Type.Union([Type.String({ description: '`<kind>:<id>` of the principal' }), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
});
const Version = Type.Object({
  template_id: TemplateId,
  ...VersionSummary.properties,
  definition: Definition,
  sms_segments: Type.Optional(SmsCost),
});
const PartDiff = Type.Object({
  part: Type.String(),
  changes: Type.Array(
    Type.Object({
      op: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('same')]),
      lines: Type.Array(Type.String()),
    }),
  ),
});
const ChannelDiff = Type.Object({
  status: Type.Union([
    Type.Literal('added'),
    Type.Literal('removed'),
    Type.Literal('changed'),
    Type.Literal('same'),
  ]),
  parts: Type.Array(PartDiff, { description: 'Changed parts only, line by line' }),
});
const Diff = Type.Object({
  template_id: TemplateId,
  from: Type.Integer(),
  to: Type.Integer(),
  channels: Type.Object(
    { email: Type.Optional(ChannelDiff), push: Type.Optional(ChannelDiff), sms: Type.Optional(ChannelDiff) },
    { description: 'Every channel either version has' },
  ),
  variables: Type.Object({
    added: Type.Array(Type.String()),
    removed: Type.Array(Type.String()),
    changed: Type.Array(Type.String(), { description: 'Declared in both, `required` or `sample` differs' }),
  }),
});
const RenderBody = Type.Object(
  {
    variables: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Values; declared samples fill the rest',
      }),
    ),
    version: Type.Optional(VersionNumber('Default: the current version')),
    definition: Type.Optional(
      Type.Object(
        { variables: TemplateFields.variables, channels: Channels },
        {
          additionalProperties: false,
          description:
            'A draft to render instead of a saved version (the editor’s live preview): validated like a save (NOTIFY_TEMPLATE_INVALID with details.problems), never stored; not with `version`',
        },
      ),
    ),
    channel: Type.Optional(ChannelSchema),
  },
  { additionalProperties: false },
);
const Rendered = Type.Object({
  template_id: TemplateId,
  version: Type.Union([Type.Integer(), Type.Null()], { description: 'null when a draft was rendered' }),
  channels: Type.Object({
    email: Type.Optional(Type.Object({ subject: Type.String(), html: Type.String(), text: Type.String() })),
    push: Type.Optional(
      Type.Object({ title: Type.String(), body: Type.String(), url: Type.Optional(Type.String()) }),
    ),
    sms: Type.Optional(
      Type.Object({
        text: Type.String(),
        encoding: Type.Union([Type.Literal('GSM-7'), Type.Literal('UCS-2')]),
        segments: Type.Integer(),
        units: Type.Integer(),
      }),
    ),
  }),
});

const IdParams = Type.Object({ id: TemplateId });
const VersionParams = Type.Object({ id: TemplateId, version: VersionNumber('A version of the template') });

const badInput = { 400: errorResponse('Malformed body or parameters: the message says which') };
const authErrors = {
  401: errorResponse('No or invalid credentials (WWW-Authenticate: Bearer)'),
  403: errorResponse('The caller lacks the permission'),
  429: errorResponse('Rate limit of the calling service account exceeded'),
};
const notFound = { 404: errorResponse('No such template (NOTIFY_TEMPLATE_NOT_FOUND)') };
const invalid = {
  400: errorResponse(
    'Malformed body (VALIDATION_FAILED), no channel (NOTIFY_CHANNEL_MISSING), or a part that does not parse or reads an undeclared variable (NOTIFY_TEMPLATE_INVALID: the message names channel, part, line and variable; details.problems lists them all)',
  ),
};

function definitionOf(body: UpdateBodyT): StoredDefinition {
  // Only the channels given: an absent channel must not be stored as a key with undefined.
  const channels: StoredDefinition['channels'] = {};
  for (const c of CHANNELS) if (body.channels[c]) Object.assign(channels, { [c]: body.channels[c] });
  return { variables: body.variables, channels };
}

function presentTemplate(t: TemplateRecord) {
  const cost = smsCost(t.definition);
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    current_version: t.currentVersion,
    versions: t.versions,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
    definition: t.definition,
    ...(cost ? { sms_segments: cost } : {}),
  };
}

function presentVersion(v: VersionRecord) {
  const cost = smsCost(v.definition);
  return {
    template_id: v.templateId,
    version: v.version,
    created_at: v.createdAt.toISOString(),
    created_by: v.createdBy,
    note: v.note,
    definition: v.definition,
    ...(cost ? { sms_segments: cost } : {}),
  };
}

function presentRendered(channel: Channel, rendered: RenderedChannel) {
  return channel === 'sms' && rendered.sms
    ? { text: rendered.parts.text ?? '', ...rendered.sms }
    : rendered.parts;
}

/** /api/templates (FR-004/005): templates with immutable versions, diff, rollback and preview. */
export async function templateRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const read = requirePermission(platform, 'notify:read');
  const manage = requirePermission(platform, 'notify:manage');
  const tags = ['Notify'];
  const sql = platform.db;

  app.post(
    '/api/templates',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Create a template (version 1), validated before it is saved',
        description:
          'Each part must parse and read only declared variables. `id` is generated (`tpl_…`) when absent. `sms_segments` is measured on a render with the sample values.',
        body: CreateBody,
        response: {
          201: Template,
          ...invalid,
          ...authErrors,
          409: errorResponse('The id is taken (NOTIFY_TEMPLATE_EXISTS)'),
        },
      },
    },
    async (request, reply) => {
      const { id, name, description, note } = request.body;
      const templateId = id ?? generateTemplateId();
      const created = await createTemplate(sql, request.principal!, templateId, {
        name,
        description,
        note,
        definition: definitionOf(request.body),
      });
      reply.header('location', `/api/templates/${templateId}`);
      return reply.code(201).send(presentTemplate(created));
    },
  );

  app.get(
    '/api/templates',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Templates by id, a page at a time (cursor: `after` = the previous page’s `next_after`)',
        querystring: Type.Object({
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: `Default ${PAGE_DEFAULT}` }),
          ),
          after: Type.Optional(Type.String({ maxLength: 64, description: 'Templates with a greater id' })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(Template),
            next_after: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
          }),
          ...badInput,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { limit = PAGE_DEFAULT, after } = request.query;
      const page = await listTemplates(sql, { limit, after });
      return { items: page.items.map(presentTemplate), next_after: page.nextAfter };
    },
  );

  app.get(
    '/api/templates/:id',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'A template with its current version’s definition',
        params: IdParams,
        response: { 200: Template, ...badInput, ...authErrors, ...notFound },
      },
    },
    async (request) => presentTemplate(await getTemplate(sql, request.params.id)),
  );

  app.put(
    '/api/templates/:id',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Save a new immutable version (current + 1); earlier versions never change',
        description:
          'The whole definition is replaced; name and description belong to the template, not the version. Parallel saves are numbered one after the other.',
        params: IdParams,
        body: UpdateBody,
        response: { 200: Template, ...invalid, ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const { name, description, note } = request.body;
      const updated = await updateTemplate(sql, request.principal!, request.params.id, {
        name,
        description,
        note,
        definition: definitionOf(request.body),
      });
      return presentTemplate(updated);
    },
  );

  app.get(
    '/api/templates/:id/versions',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'A template’s versions, newest first',
        params: IdParams,
        response: { 200: Type.Array(VersionSummary), ...badInput, ...authErrors, ...notFound },
      },
    },
    async (request) =>
      (await listVersions(sql, request.params.id)).map((v) => ({
        version: v.version,
        created_at: v.createdAt.toISOString(),
        created_by: v.createdBy,
        note: v.note,
      })),
  );

  app.get(
    '/api/templates/:id/versions/:version',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'One version with its definition',
        params: VersionParams,
        response: {
          200: Version,
          ...badInput,
          ...authErrors,
          404: errorResponse(
            'No such template or version (NOTIFY_TEMPLATE_NOT_FOUND, NOTIFY_VERSION_NOT_FOUND)',
          ),
        },
      },
    },
    async (request) => presentVersion(await getVersion(sql, request.params.id, request.params.version)),
  );

  app.get(
    '/api/templates/:id/diff',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'What changed from one version to another, per channel and part, line by line',
        params: IdParams,
        querystring: Type.Object({
          from: VersionNumber('The older side'),
          to: VersionNumber('The newer side'),
        }),
        response: {
          200: Diff,
          ...badInput,
          ...authErrors,
          404: errorResponse(
            'No such template or version (NOTIFY_TEMPLATE_NOT_FOUND, NOTIFY_VERSION_NOT_FOUND)',
          ),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { from, to } = request.query;
      const before = await getVersion(sql, id, from);
      const after = await getVersion(sql, id, to);
      return { template_id: id, from, to, ...diffVersions(before.definition, after.definition) };
    },
  );

  app.post(
    '/api/templates/:id/rollback',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Make a new version that is a copy of an earlier one (note "rollback to N")',
        params: IdParams,
        body: Type.Object({ version: VersionNumber('The version to copy') }, { additionalProperties: false }),
        response: {
          201: Template,
          ...badInput,
          ...authErrors,
          404: errorResponse(
            'No such template or version (NOTIFY_TEMPLATE_NOT_FOUND, NOTIFY_VERSION_NOT_FOUND)',
          ),
        },
      },
    },
    async (request, reply) => {
      const saved = await rollbackTemplate(sql, request.principal!, request.params.id, request.body.version);
      return reply.code(201).send(presentTemplate(saved));
    },
  );

  app.post(
    '/api/templates/:id/render',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Preview: render a version with the given variables (samples fill the rest)',
        description:
          'Each declared variable takes the value given, else its sample, else null; a required one with neither is refused (NOTIFY_VARIABLES_INVALID). Every channel of the version unless `channel` names one. SMS: segment count and encoding. With `definition`, an unsaved draft is validated and rendered instead (nothing is stored).',
        params: IdParams,
        body: RenderBody,
        response: {
          200: Rendered,
          400: errorResponse(
            'Malformed body (VALIDATION_FAILED, also `version` with `definition`), a missing required variable or values the template cannot render (NOTIFY_VARIABLES_INVALID), no such channel in the template (NOTIFY_CHANNEL_MISSING), or a draft `definition` that does not validate (NOTIFY_TEMPLATE_INVALID, details.problems)',
          ),
          ...authErrors,
          404: errorResponse(
            'No such template or version (NOTIFY_TEMPLATE_NOT_FOUND, NOTIFY_VERSION_NOT_FOUND)',
          ),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { variables = {}, channel, definition: draft } = request.body;
      let version: number | null;
      let definition: StoredDefinition;
      if (draft) {
        if (request.body.version !== undefined) {
          throw new AppError('VALIDATION_FAILED', 400, 'Give either version or definition, not both');
        }
        await getTemplate(sql, id);
        definition = definitionOf({ ...draft, name: id });
        assertValidDefinition(definition);
        version = null;
      } else {
        version = request.body.version ?? (await getTemplate(sql, id)).currentVersion;
        ({ definition } = await getVersion(sql, id, version));
      }
      const values = previewVariables(definition.variables, variables, { requireRequired: true });
      const channels: Record<string, unknown> = {};
      for (const c of channel ? [channel] : CHANNELS.filter((c) => definition.channels[c])) {
        channels[c] = presentRendered(c, renderChannel(definition, c, values));
      }
      return { template_id: id, version, channels };
    },
  );
}
