import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { auditFromPrincipal, recordFailedSignIn } from '../../platform/audit/index.ts';
import { registerAuthenticator, requirePermission, requirePrincipal } from '../../platform/auth/access.ts';
import { PERMISSIONS, type Permission, SERVICE_ROLE_PERMISSIONS } from '../../platform/auth/permissions.ts';
import type { Platform } from '../../platform/context.ts';
import { errorResponse } from '../../platform/http/schemas.ts';
import type { HttpApp } from '../../platform/http/types.ts';
import { authenticateClient } from '../service-accounts/directory.ts';
import { issueAccessToken } from './access-token.ts';
import { bearerAuthenticator } from './bearer.ts';
import { tokenClock } from './clock.ts';
import { issuerOf, setListeningUrl } from './issuer.ts';
import { keyEncryption } from './key-crypto.ts';
import { keyringOf } from './keyring.ts';
import { OAuthError } from './oauth-error.ts';
import { RotationTooEarlyError, rotateSigningKeys } from './rotation.ts';
import { tokenThrottle } from './throttle.ts';
import { BASIC_CHALLENGE, parseForm, readTokenRequest } from './token-request.ts';

/** Credentials are small: a token request larger than this is refused before it is read whole. */
const TOKEN_BODY_LIMIT = 8 * 1024;
const FORM = 'application/x-www-form-urlencoded';

const authenticated = new WeakSet<Platform>();

/** Identity's token part: the token endpoint, JWKS, RFC 8414 metadata, manual rotation, whoami. */
export async function tokenRoutes(app: HttpApp, platform: Platform): Promise<void> {
  if (!authenticated.has(platform)) {
    authenticated.add(platform);
    registerAuthenticator(platform, bearerAuthenticator(platform));
  }
  app.server.once('listening', () => {
    const address = app.server.address();
    if (typeof address === 'object' && address) {
      const host = address.family === 'IPv6' ? `[${platform.config.HOST}]` : platform.config.HOST;
      setListeningUrl(platform, `http://${host}:${address.port}`);
    }
  });

  await app.register(async (scope) => tokenEndpoint(scope, platform));
  wellKnownRoutes(app, platform);
  keyRoutes(app, platform);
}

const oauthErrorBody = (description: string) =>
  Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) }, { description });

const tokenFields = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ description: 'client_credentials (required in the form body)' })),
    client_id: Type.Optional(Type.String()),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(
      Type.String({
        description: 'Space-separated permissions to narrow the token to (default: the role’s)',
      }),
    ),
  },
  { additionalProperties: true },
);

/**
 * POST /api/auth/token in a scope of its own: its body parsers (JSON, urlencoded, anything else → an
 * OAuth error) and its error handler (RFC 6749 §5.2 bodies) touch no other route.
 */
async function tokenEndpoint(scope: HttpApp, platform: Platform): Promise<void> {
  const throttle = tokenThrottle(platform);
  const scopes = new Set<string>(PERMISSIONS);

  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new OAuthError('invalid_request', 'The body is not valid JSON'), undefined);
    }
  });
  scope.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, parseForm(text as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  scope.addContentTypeParser('*', (_request, _payload, done) => {
    done(new OAuthError('invalid_request', `Content-Type must be ${FORM} or application/json`), undefined);
  });
  // Every answer of the token endpoint, errors included (RFC 6749 §5.1).
  scope.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'no-store');
    reply.header('pragma', 'no-cache');
    done();
  });
  scope.setErrorHandler(oauthErrorHandler);

  scope.post(
    '/api/auth/token',
    {
      bodyLimit: TOKEN_BODY_LIMIT,
      schema: {
        tags: ['identity'],
        summary: 'An access token for a service account (OAuth 2.0 client credentials)',
        description:
          'RFC 6749 §4.4: a form body `grant_type=client_credentials` with the client authenticated by HTTP ' +
          'Basic (id and secret form-urlencoded first, §2.3.1) or by `client_id`/`client_secret` fields; or ' +
          'seed 002’s JSON `{client_id, client_secret}`. Errors per §5.2; repeated failures per client and ' +
          'per address → 429 with Retry-After.',
        body: {
          content: {
            [FORM]: { schema: tokenFields },
            'application/json': { schema: tokenFields },
          },
        } as never,
        response: {
          200: Type.Object({
            access_token: Type.String({ description: 'An RS256 JWT (RFC 9068, typ at+jwt)' }),
            token_type: Type.Literal('Bearer'),
            expires_in: Type.Integer(),
            scope: Type.Optional(Type.String({ description: 'Only when the request asked for a scope' })),
          }),
          400: oauthErrorBody('invalid_request, unsupported_grant_type or invalid_scope'),
          401: oauthErrorBody(
            'invalid_client: unknown client, wrong secret, disabled, or no client authentication',
          ),
          413: oauthErrorBody('The body is larger than 8 KiB'),
          429: oauthErrorBody('slow_down: too many failed attempts for this client or from this address'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Record<string, unknown> | undefined;
      const form = (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM);
      const asked = readTokenRequest(
        body ? { fields: body, form } : undefined,
        request.headers.authorization,
      );
      const address = request.ip;

      const wait = await throttle.blockedFor(asked.clientId, address);
      if (wait !== undefined) {
        recordFailedSignIn(platform, {
          kind: 'token',
          subject: asked.clientId,
          address,
          reason: 'throttled',
        });
        throw new OAuthError('slow_down', `Too many failed token requests; retry in ${wait} s`, 429, {
          'retry-after': String(wait),
        });
      }
      const account = await authenticateClient(platform, asked.clientId, asked.clientSecret);
      if (!account) {
        await throttle.recordFailure(asked.clientId, address);
        recordFailedSignIn(platform, {
          kind: 'token',
          subject: asked.clientId,
          address,
          reason: 'invalid_client',
        });
        throw new OAuthError(
          'invalid_client',
          'Unknown client, wrong secret, or a disabled service account',
          401,
          asked.method === 'client_secret_basic' ? { 'www-authenticate': BASIC_CHALLENGE } : {},
        );
      }

      const roles = SERVICE_ROLE_PERMISSIONS[account.role] ?? [];
      let permissions: Permission[] = [...roles];
      if (asked.scope) {
        const beyond = asked.scope.filter((p) => !roles.includes(p) || !scopes.has(p));
        if (beyond.length > 0) {
          throw new OAuthError('invalid_scope', `Role ${account.role} does not grant: ${beyond.join(' ')}`);
        }
        permissions = asked.scope;
      }
      const scopeText = asked.scope?.join(' ');
      const issued = await issueAccessToken(platform, account, {
        permissions,
        ...(scopeText !== undefined ? { scope: scopeText } : {}),
      });
      return reply.send({
        access_token: issued.accessToken,
        token_type: 'Bearer' as const,
        expires_in: issued.expiresIn,
        ...(scopeText !== undefined ? { scope: scopeText } : {}),
      });
    },
  );
}

/** RFC 6749 §5.2 bodies for everything the token endpoint refuses; 5xx go to the platform's handler. */
function oauthErrorHandler(error: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof OAuthError) {
    reply.headers(error.headers);
    return reply.status(error.statusCode).send({ error: error.error, error_description: error.description });
  }
  const status = error.statusCode ?? 500;
  if (status >= 500) throw error;
  if (status === 413) {
    return reply.status(413).send({
      error: 'invalid_request',
      error_description: `The body is larger than ${TOKEN_BODY_LIMIT} bytes`,
    });
  }
  const description = error.validation ? `Malformed request: ${error.message}` : error.message;
  request.log.debug({ err: error }, 'token request refused');
  return reply.status(400).send({ error: 'invalid_request', error_description: description });
}

const jwk = Type.Object({
  kty: Type.Literal('RSA'),
  kid: Type.String(),
  use: Type.Literal('sig'),
  alg: Type.Literal('RS256'),
  n: Type.String(),
  e: Type.String(),
});

function wellKnownRoutes(app: HttpApp, platform: Platform): void {
  const keyring = keyringOf(platform);
  const maxAge = platform.config.IDENTITY_JWKS_MAX_AGE_SECONDS;

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['identity'],
        summary: 'The public keys access tokens are signed with (RFC 7517)',
        description:
          'Every key a valid token may carry: the next key (published before it signs), the current one, and ' +
          'retired ones until the grace period after their last token expired. Cached for ' +
          'IDENTITY_JWKS_MAX_AGE_SECONDS; an ETag answers If-None-Match with 304.',
        response: {
          200: Type.Object({ keys: Type.Array(jwk) }),
          304: Type.Null({ description: 'Not modified' }),
        },
      },
    },
    async (request, reply) => {
      const { body, etag } = await keyring.jwks();
      reply.header('cache-control', `public, max-age=${maxAge}`);
      reply.header('etag', etag);
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.status(304).send(null);
      // Serialized once per key set (keyring.ts), not per request.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        tags: ['identity'],
        summary: 'Authorization server metadata (RFC 8414)',
        response: {
          200: Type.Object(
            {
              issuer: Type.String(),
              token_endpoint: Type.String(),
              jwks_uri: Type.String(),
              grant_types_supported: Type.Array(Type.String()),
              token_endpoint_auth_methods_supported: Type.Array(Type.String()),
              response_types_supported: Type.Array(Type.String()),
              scopes_supported: Type.Array(Type.String()),
              service_documentation: Type.String(),
            },
            { additionalProperties: true },
          ),
        },
      },
    },
    async (_request, reply) => {
      const issuer = issuerOf(platform);
      reply.header('cache-control', `public, max-age=${maxAge}`);
      return {
        issuer,
        token_endpoint: `${issuer}/api/auth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        // No authorization endpoint: machine clients only.
        response_types_supported: [],
        scopes_supported: [...PERMISSIONS],
        service_documentation: `${issuer}/docs`,
      };
    },
  );
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`;
  });
}

function keyRoutes(app: HttpApp, platform: Platform): void {
  app.post(
    '/api/auth/keys/rotate',
    {
      preValidation: requirePermission(platform, 'keys:rotate'),
      schema: {
        tags: ['identity'],
        summary: 'Rotate the token signing keys now (incidents)',
        description:
          'Retires the current key, promotes the next one, publishes a new next one; audited. Refused with 409 ' +
          'while the next key has been published for less than IDENTITY_JWKS_MAX_AGE_SECONDS, unless ' +
          '`immediate: true`: then verifiers holding a cached JWKS meet an unknown kid until they refetch it ' +
          '(docs/identity.md). Tokens signed by the retired key stay valid until they expire.',
        body: Type.Optional(
          Type.Object(
            {
              immediate: Type.Optional(Type.Boolean({ default: false })),
              reason: Type.Optional(Type.String({ maxLength: 500 })),
            },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({
            current: Type.String({ description: 'kid now signing' }),
            next: Type.String({ description: 'kid published to sign after the next rotation' }),
            retired: Type.Union([
              Type.Object({ kid: Type.String(), published_until: Type.String({ format: 'date-time' }) }),
              Type.Null(),
            ]),
            removed: Type.Array(Type.String(), { description: 'Retired kids whose grace had passed' }),
            immediate: Type.Boolean(),
          }),
          401: errorResponse('No valid credentials'),
          403: errorResponse('Needs keys:rotate'),
          409: errorResponse(
            'The next key is too recently published (KEY_ROTATION_TOO_EARLY); see Retry-After',
          ),
        },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { immediate?: boolean; reason?: string };
      try {
        const result = await rotateSigningKeys(
          {
            db: platform.db,
            settings: platform.config,
            encryption: await keyEncryption(platform.config),
            now: tokenClock(platform).now(),
          },
          {
            actor: auditFromPrincipal(request.principal!),
            trigger: 'manual',
            immediate: body.immediate === true,
            ...(body.reason ? { reason: body.reason } : {}),
          },
        );
        // This process signs with the new key at once; the others reload on the NOTIFY.
        await keyringOf(platform).reload();
        return {
          current: result.current,
          next: result.next,
          retired: result.retired && {
            kid: result.retired.kid,
            published_until: result.retired.publishedUntil,
          },
          removed: result.removed,
          immediate: result.immediate,
        };
      } catch (error) {
        if (error instanceof RotationTooEarlyError)
          reply.header('retry-after', String(error.retryAfterSeconds));
        throw error;
      }
    },
  );

  app.get(
    '/api/auth/whoami',
    {
      preValidation: requirePrincipal(platform),
      schema: {
        tags: ['identity'],
        summary: 'Who the credentials belong to and what they may do',
        response: {
          200: Type.Object({
            kind: Type.Union([Type.Literal('service_account'), Type.Literal('staff')]),
            id: Type.String(),
            name: Type.String({ description: 'client_id of a service account, email of a staff member' }),
            role: Type.String(),
            permissions: Type.Array(Type.String()),
            rate_limit: Type.Optional(Type.Object({ per_minute: Type.Integer(), burst: Type.Integer() })),
          }),
          401: errorResponse('No valid credentials'),
        },
      },
    },
    async (request) => {
      const principal = request.principal!;
      return {
        kind: principal.kind,
        id: principal.id,
        name: principal.name,
        role: principal.role,
        permissions: [...principal.permissions],
        ...(principal.rateLimit
          ? { rate_limit: { per_minute: principal.rateLimit.perMinute, burst: principal.rateLimit.burst } }
          : {}),
      };
    },
  );
}
