import { Type } from 'typebox';
import { Bool, defineConfigSection } from '../platform/config/section.ts';

/** The identity section of the configuration (see docs/identity.md). */
export const identityConfig = defineConfigSection({
  name: 'identity',
  title: "Identity: buyers' sign-in (HTTP Basic), service accounts, tokens, staff and audit",
  variables: {
    AUTH_CACHE_TTL_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 300,
      description: 'How long a verified email:password stays trusted without re-hashing (0 = always verify).',
    }),
    AUTH_CACHE_MAX_ENTRIES: Type.Integer({
      minimum: 1,
      maximum: 10000000,
      default: 200000,
      description: 'Verified credentials remembered per process (least recently used are dropped).',
    }),
    AUTH_MAX_FAILURES_PER_ACCOUNT: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 10,
      description: 'Failed sign-ins for one email within the window before it is throttled (429).',
    }),
    AUTH_MAX_FAILURES_PER_ADDRESS: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 100,
      description: 'Failed sign-ins from one client address within the window before it is throttled (429).',
    }),
    AUTH_FAILURE_WINDOW_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 900,
      description: 'The window failed sign-ins are counted in; also the Retry-After of a 429.',
    }),
    IDENTITY_ISSUER: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'The `iss` of access tokens and the RFC 8414 issuer: the public base URL of the API. Unset: the address the API listens on.',
      }),
    ),
    IDENTITY_AUDIENCE: Type.String({
      minLength: 1,
      default: 'boxoffice',
      description: 'The `aud` of access tokens; verifiers refuse tokens for another audience.',
    }),
    IDENTITY_TOKEN_TTL_SECONDS: Type.Integer({
      minimum: 60,
      maximum: 86400,
      default: 1800,
      description: 'Lifetime of an access token (`expires_in`).',
    }),
    IDENTITY_CLOCK_TOLERANCE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 300,
      default: 30,
      description: 'Clock skew allowed when checking `exp` and `nbf`.',
    }),
    IDENTITY_KEY_ROTATION_HOURS: Type.Integer({
      minimum: 1,
      maximum: 8760,
      default: 24,
      description: 'How often the signing key rotates (a scheduled job; one process does it).',
    }),
    IDENTITY_KEY_GRACE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 604800,
      default: 3600,
      description: 'How long a retired key stays in the JWKS after the last token it signed expired.',
    }),
    IDENTITY_JWKS_MAX_AGE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 300,
      description:
        'Cache-Control max-age of the JWKS; the next key is published at least this long before it signs.',
    }),
    IDENTITY_TOKEN_MAX_FAILURES_PER_CLIENT: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 10,
      description:
        'Failed token requests for one client_id within AUTH_FAILURE_WINDOW_SECONDS before it is throttled (429).',
    }),
    IDENTITY_TOKEN_MAX_FAILURES_PER_ADDRESS: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      default: 100,
      description:
        'Failed token requests from one client address within AUTH_FAILURE_WINDOW_SECONDS before it is throttled (429).',
    }),
    RATE_LIMIT_PER_MINUTE: Type.Integer({
      minimum: 1,
      maximum: 10000000,
      default: 100,
      description:
        'Requests a minute each service account may make (token bucket refill); per-account overrides win.',
    }),
    RATE_LIMIT_BURST: Type.Integer({
      minimum: 1,
      maximum: 10000000,
      default: 150,
      description: 'Bucket size of the service account rate limit: how many requests may come at once.',
    }),
    STAFF_SESSION_IDLE_MINUTES: Type.Integer({
      minimum: 1,
      maximum: 10080,
      default: 30,
      description: 'An admin panel session unused this long ends.',
    }),
    STAFF_SESSION_ABSOLUTE_HOURS: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 12,
      description: 'An admin panel session ends this long after sign-in, however active.',
    }),
    STAFF_COOKIE_SECURE: Bool(
      false,
      'Mark the admin panel session cookie `Secure` (set true behind HTTPS; then its name gets the `__Host-` prefix).',
    ),
    STAFF_TRUSTED_ORIGINS: Type.String({
      default: '',
      pattern: '^(\\s*https?://[^,\\s/]+\\s*(,|$))*$',
      description:
        'Other origins (comma-separated, e.g. `https://admin.example.com`) whose pages may send mutating admin requests with the session cookie; the origin of the API itself always may.',
    }),
    STAFF_DEMO_ADMIN_EMAIL: Type.String({
      minLength: 3,
      default: 'admin@boxoffice.local',
      description:
        'Email of the demo admin created (with a generated password, printed once) at the first start.',
    }),
    AUDIT_CHECKPOINT_MINUTES: Type.Integer({
      minimum: 1,
      maximum: 1440,
      default: 15,
      description: 'How often a signed checkpoint of the audit chain head is written (when the chain grew).',
    }),
  },
});
