import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { auditFromPrincipal } from '../platform/audit/index.ts';
import { requirePermission } from '../platform/auth/access.ts';
import type { Platform } from '../platform/context.ts';
import { AppError } from '../platform/http/errors.ts';
import { errorResponse } from '../platform/http/schemas.ts';
import { strictBody } from '../platform/http/strict-body.ts';
import type { HttpApp } from '../platform/http/types.ts';
import type { StoredFile } from './api.ts';
import { FilesErrors } from './errors.ts';
import {
  contentDisposition,
  filenameFromDisposition,
  noneMatch,
  parseRange,
  sha256FromContentDigest,
} from './http-headers.ts';
import { type FilesService, filesService } from './service.ts';

const PAGE_SIZE_DEFAULT = 50;
const PAGE_SIZE_MAX = 500;
const METADATA_PART_MAX = 256 * 1024;

const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: 'description (string), tags (array of strings) and any string fields',
  examples: [{ description: 'Электронный билет', tags: ['ticket'], booking: '42' }],
});
const FileSchema = Type.Object({
  file_id: Type.String({ format: 'uuid' }),
  filename: Type.String(),
  content_type: Type.String(),
  size_bytes: Type.Integer(),
  checksum: Type.String({ description: '"sha256:<hex>"', examples: [`sha256:${'0'.repeat(64)}`] }),
  storage_element_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  metadata: Metadata,
});
const AttrSchema = Type.Object(
  {
    ...FileSchema.properties,
    updated_at: Type.String({ format: 'date-time' }),
  },
  { description: 'The content of the file’s attr.json (the source of truth)' },
);
const ElementSchema = Type.Object({
  id: Type.String(),
  mode: Type.Union([Type.Literal('edit'), Type.Literal('rw'), Type.Literal('ro'), Type.Literal('ar')]),
  capacity_bytes: Type.Integer({ description: 'Configured capacity, or the disk’s size when none is set' }),
  used_bytes: Type.Integer({ description: 'Bytes of the files stored on it' }),
  free_bytes: Type.Integer({ description: 'What uploads may still use: capacity left, bounded by the disk' }),
  files: Type.Integer(),
});
const IdParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'The file id (a UUID)' }) });
const ElementParams = Type.Object({
  id: Type.String({ maxLength: 64, description: 'The storage element id' }),
});

const authErrors = {
  401: errorResponse('No or invalid credentials (WWW-Authenticate: Bearer)'),
  403: errorResponse('The caller lacks the permission'),
};
const notFound = { 404: errorResponse('No such file') };

function present(file: StoredFile) {
  return {
    file_id: file.fileId,
    filename: file.filename,
    content_type: file.contentType,
    size_bytes: file.sizeBytes,
    checksum: file.checksum,
    storage_element_id: file.storageElementId,
    created_at: file.createdAt,
    metadata: file.metadata,
  };
}

/** The Files API of the platform services spec: /api/files… and /api/storage-elements… */
export async function filesRoutes(app: HttpApp, platform: Platform): Promise<void> {
  const read = requirePermission(platform, 'files:read');
  const write = requirePermission(platform, 'files:write');
  const manage = requirePermission(platform, 'storage:manage');
  const service = () => filesService(platform);
  const tags = ['Files'];

  // Uploads in a scope of their own: no body parser but multipart's and a pass-through for every
  // other type, so the bytes reach the write protocol as a stream, never buffered.
  await app.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    await uploads.register(multipart, {
      limits: {
        fileSize: platform.config.FILES_MAX_UPLOAD_BYTES + 1,
        files: 1,
        fields: 10,
        fieldSize: METADATA_PART_MAX,
        parts: 20,
      },
    });
    uploads.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    uploads.post(
      '/api/files',
      {
        preValidation: write,
        config: { textGuard: false },
        schema: {
          tags,
          summary: 'Upload a file (multipart `file` + optional `metadata` JSON part, or a raw body)',
          description:
            'multipart/form-data with a `file` part and an optional `metadata` part (JSON), or any other ' +
            'Content-Type with the bytes as the body and `Content-Disposition: attachment; filename="…"` ' +
            "(or filename*=UTF-8''…). Streamed to disk through the write-ahead log; an optional " +
            '`Content-Digest: sha-256=:<base64>:` (RFC 9530) is verified. 201 once the file is durable.',
          response: {
            201: FileSchema,
            400: errorResponse(
              'Malformed upload, no filename, bad metadata, or Content-Digest mismatch (nothing stored)',
            ),
            ...authErrors,
            409: errorResponse('No storage element takes uploads (read-only modes)'),
            413: errorResponse('Larger than FILES_MAX_UPLOAD_BYTES (nothing stored)'),
            507: errorResponse('The storage element is full (nothing stored)'),
          },
        },
      },
      async (request, reply) => {
        const stored = request.isMultipart()
          ? await uploadMultipart(await service(), request)
          : await uploadRaw(await service(), request, platform.config.FILES_MAX_UPLOAD_BYTES);
        reply.header('location', `/api/files/${stored.fileId}`);
        return reply.code(201).send(present(stored));
      },
    );
  });

  app.get(
    '/api/files',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Search files: exact filename, filename prefix, content type, tag, full text, creation time',
        querystring: Type.Object({
          filename: Type.Optional(Type.String({ maxLength: 255, description: 'Exact filename' })),
          filename_prefix: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 255,
              description: 'Filename starts with (case-insensitive)',
            }),
          ),
          content_type: Type.Optional(Type.String({ maxLength: 255 })),
          tag: Type.Optional(Type.String({ maxLength: 100 })),
          q: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 500,
              description: 'Full text over filename, description and tags (Russian and English stemming)',
            }),
          ),
          created_from: Type.Optional(Type.String({ description: 'ISO 8601, inclusive' })),
          created_to: Type.Optional(Type.String({ description: 'ISO 8601, exclusive' })),
          page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 1 })),
          pageSize: Type.Optional(
            Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT }),
          ),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(FileSchema),
            total: Type.Integer({ description: 'Matches in all pages' }),
            page: Type.Integer(),
            pageSize: Type.Integer(),
          }),
          400: errorResponse('A bad parameter: the message says which'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const query = request.query;
      const page = query.page ?? 1;
      const pageSize = query.pageSize ?? PAGE_SIZE_DEFAULT;
      const { items, total } = await (await service()).search({
        filename: query.filename,
        filenamePrefix: query.filename_prefix,
        contentType: query.content_type,
        tag: query.tag,
        q: query.q,
        createdFrom: dateParam(query.created_from, 'created_from'),
        createdTo: dateParam(query.created_to, 'created_to'),
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      return { items: items.map(present), total, page, pageSize };
    },
  );

  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/files/:id',
    preValidation: read,
    schema: {
      tags,
      summary: 'Download a file (ranges, ETag, If-None-Match; HEAD for the headers only)',
      description:
        'Streams the bytes. `ETag` is the quoted checksum; `Range: bytes=a-b`, `a-` and `-n` answer 206 ' +
        'with Content-Range; an unsatisfiable range 416 with `Content-Range: bytes */<size>`. A request ' +
        'for several ranges is answered 200 with the whole file (RFC 9110 lets a server ignore Range). ' +
        '`If-None-Match` matching the ETag: 304. `If-Range` with another ETag: the whole file.',
      params: IdParams,
      response: { ...authErrors, ...notFound, 416: errorResponse('The range is outside the file') },
    },
    handler: async (request, reply) => download(await service(), request as never, reply),
  });

  app.get(
    '/api/files/:id/metadata',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'The file’s attr.json',
        params: IdParams,
        response: { 200: AttrSchema, ...authErrors, ...notFound },
      },
    },
    async (request) => (await service()).metadata(request.params.id),
  );

  app.patch(
    '/api/files/:id/metadata',
    {
      preValidation: write,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary:
          'Change description, tags or custom string fields (null removes one); attr.json is replaced atomically',
        params: IdParams,
        body: Metadata,
        response: {
          200: AttrSchema,
          400: errorResponse('A field is not a string (tags: not an array of strings) or a name is invalid'),
          ...authErrors,
          ...notFound,
          409: errorResponse('The file’s storage element is read-only (ro or ar)'),
        },
      },
    },
    async (request) =>
      (await service()).updateMetadata(
        request.params.id,
        request.body,
        auditFromPrincipal(request.principal!),
      ),
  );

  app.delete(
    '/api/files/:id',
    {
      preValidation: write,
      schema: {
        tags,
        summary: 'Delete a file (only on a storage element in edit mode)',
        params: IdParams,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...authErrors,
          ...notFound,
          409: errorResponse('The file’s storage element is not in edit mode'),
        },
      },
    },
    async (request, reply) => {
      await (await service()).delete(request.params.id, auditFromPrincipal(request.principal!));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/storage-elements',
    {
      preValidation: read,
      schema: {
        tags,
        summary: 'Storage elements: mode, capacity, space used and free, files',
        response: { 200: Type.Array(ElementSchema), ...authErrors },
      },
    },
    async () => (await service()).listElements(),
  );

  app.patch(
    '/api/storage-elements/:id',
    {
      preValidation: manage,
      validatorCompiler: strictBody,
      schema: {
        tags,
        summary: 'Change a storage element’s mode: rw → ro or ro → ar only',
        description:
          'Anything else is 409 naming the transitions that exist; edit → rw and leaving ar are ' +
          'configuration changes (FILES_ELEMENTS) with a restart. The new mode survives a restart.',
        params: ElementParams,
        body: Type.Object({ mode: Type.String({ description: 'edit | rw | ro | ar' }) }),
        response: {
          200: ElementSchema,
          400: errorResponse('mode is not one of edit, rw, ro, ar'),
          ...authErrors,
          404: errorResponse('No such storage element'),
          409: errorResponse('The API does not make this transition'),
        },
      },
    },
    async (request) =>
      (await service()).changeMode(
        request.params.id,
        request.body.mode,
        auditFromPrincipal(request.principal!),
      ),
  );
}

function dateParam(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw FilesErrors.invalid(`${name} must be an ISO 8601 date-time`);
  return date;
}

async function uploadRaw(
  service: FilesService,
  request: FastifyRequest,
  maxBytes: number,
): Promise<StoredFile> {
  const body = request.body as IncomingMessage | undefined;
  const contentType = request.headers['content-type'];
  if (!contentType)
    throw FilesErrors.invalid('a raw upload needs a Content-Type (or send multipart/form-data)');
  const filename = filenameFromDisposition(request.headers['content-disposition']);
  if (!filename)
    throw FilesErrors.invalid(
      'a raw upload needs Content-Disposition: attachment; filename="…" (or filename*=UTF-8\'\'…)',
    );
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw FilesErrors.tooLarge(maxBytes);
  return service.put({
    filename,
    contentType,
    body: body ?? Buffer.alloc(0),
    metadata: {},
    actor: auditFromPrincipal(request.principal!),
    expectedSha256: digestOf(request),
  });
}

async function uploadMultipart(service: FilesService, request: FastifyRequest): Promise<StoredFile> {
  const expectedSha256 = digestOf(request);
  const iterator = request.parts()[Symbol.asyncIterator]();
  // Busboy's part limits come as errors of their own: say what was wrong, as a 400.
  const parts = {
    next: () =>
      iterator.next().catch((error: { code?: string; message?: string }) => {
        if (error.code === 'FST_FILES_LIMIT') throw FilesErrors.invalid('one file per upload');
        if (error.code === 'FST_PARTS_LIMIT' || error.code === 'FST_FIELDS_LIMIT')
          throw FilesErrors.invalid(`too many parts: ${error.message}`);
        throw error;
      }),
  };
  let metadata: Record<string, unknown> = {};
  const readMetadata = (value: unknown) => {
    try {
      metadata = JSON.parse(String(value)) as Record<string, unknown>;
    } catch {
      throw FilesErrors.invalid('the metadata part must be JSON');
    }
  };
  for (;;) {
    const next = await parts.next();
    if (next.done) throw FilesErrors.invalid('the multipart body has no `file` part');
    const part = next.value;
    if (part.type === 'field') {
      if (part.fieldname === 'metadata') readMetadata(part.value);
      if (part.valueTruncated)
        throw FilesErrors.invalid(`the ${part.fieldname} part is larger than ${METADATA_PART_MAX} bytes`);
      continue;
    }
    if (part.fieldname !== 'file') {
      part.file.resume();
      throw FilesErrors.invalid(
        `unexpected file part "${part.fieldname}": the file goes in the part named file`,
      );
    }
    // Parts after the file (a metadata part sent last) are read once its bytes are on disk.
    const rest = async () => {
      if (part.file.truncated) throw FilesErrors.tooLarge(service.maxUploadBytes);
      for (;;) {
        const after = await parts.next();
        if (after.done) return metadata;
        if (after.value.type === 'file') {
          after.value.file.resume();
          throw FilesErrors.invalid('one file per upload');
        }
        if (after.value.fieldname === 'metadata') readMetadata(after.value.value);
      }
    };
    return service.put({
      filename: part.filename,
      contentType: part.mimetype || 'application/octet-stream',
      body: part.file,
      metadata: rest,
      actor: auditFromPrincipal(request.principal!),
      expectedSha256,
    });
  }
}

function digestOf(request: FastifyRequest): string | undefined {
  const header = request.headers['content-digest'];
  try {
    return sha256FromContentDigest(Array.isArray(header) ? header.join(',') : header);
  } catch (error) {
    throw FilesErrors.invalid((error as Error).message);
  }
}

async function download(
  service: FilesService,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const info = await service.info(request.params.id);
  if (!info) throw FilesErrors.notFound(request.params.id);
  const size = info.sizeBytes;
  const etag = `"${info.checksum}"`;
  reply.header('etag', etag);
  reply.header('accept-ranges', 'bytes');
  reply.header('last-modified', new Date(info.createdAt).toUTCString());
  reply.header('cache-control', 'private, no-cache');
  if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();

  let status = 200;
  let start = 0;
  let end = size - 1;
  const range = request.headers.range;
  const ifRange = request.headers['if-range'] as string | undefined;
  if (range && (!ifRange || ifRange.trim() === etag)) {
    const answer = parseRange(size, range);
    if (answer.kind === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new AppError(
        'RANGE_NOT_SATISFIABLE',
        416,
        `The range ${range.slice(0, 100)} is outside the file (${size} bytes)`,
      );
    }
    if (answer.kind === 'partial') {
      status = 206;
      start = answer.start;
      end = answer.end;
      reply.header('content-range', `bytes ${start}-${end}/${size}`);
    }
  }
  reply.header('content-type', info.contentType);
  reply.header('content-disposition', contentDisposition(info.filename));
  reply.header('content-length', String(Math.max(0, end - start + 1)));
  reply.code(status);
  if (request.method === 'HEAD' || size === 0) return reply.send(size === 0 ? Readable.from([]) : undefined);
  return reply.send(await service.openStored(info, { start, end }));
}
