import { Type } from 'typebox';
import { Bool, defineConfigSection } from './section.ts';

/** The platform section of the configuration (see docs/architecture.md). */
export const platformConfig = defineConfigSection({
  name: 'platform',
  title: 'Platform: process, HTTP, database, Redis, logs, jobs and outbox',
  variables: {
    NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
      default: 'development',
      description: 'development | production | test. Production disables demo-only endpoints.',
    }),
    HOST: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description: 'Interface the HTTP API binds to.',
    }),
    PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8000,
      description: 'HTTP API port (0 = any free port).',
    }),
    DATABASE_URL: Type.Optional(
      Type.String({
        pattern: '^postgres(ql)?://',
        description: 'PostgreSQL URL. Unset: an embedded PostgreSQL is started with its data in DATA_DIR.',
      }),
    ),
    DATA_DIR: Type.String({
      minLength: 1,
      default: './.data',
      description:
        'Local state: the embedded PostgreSQL (pg/), the default file store element (files/se-1) and, outside production, master.key.',
    }),
    EMBEDDED_PG_PORT: Type.Integer({
      minimum: 1024,
      maximum: 65535,
      default: 54329,
      description: 'Port of the embedded PostgreSQL (never 5432, to leave a system server alone).',
    }),
    DB_POOL_MAX: Type.Integer({
      minimum: 1,
      maximum: 500,
      default: 10,
      description: 'Connections per process.',
    }),
    DB_CONNECT_TIMEOUT_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 60,
      default: 5,
      description: 'How long to wait for the database at boot before giving up.',
    }),
    MIGRATE_ON_START: Bool(true, 'Apply pending migrations when `start` or `api` boots.'),
    SEED_DEMO_ON_START: Bool(
      true,
      'On an empty database, `start` and `api` seed the demo data first (event 1 in full, a smaller archive and user set).',
    ),
    MASTER_KEY: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9+/]{43}=$',
        description:
          'Base64 of 32 random bytes (`openssl rand -base64 32`): encrypts signing keys at rest, keys secret hashes, signs audit checkpoints. Required in production; unset elsewhere: generated once into DATA_DIR/master.key (0600).',
      }),
    ),
    REDIS_URL: Type.Optional(
      Type.String({
        pattern: '^rediss?://',
        description: 'Redis URL for shared hot state and caches. Unset: in-process.',
      }),
    ),
    LOG_LEVEL: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: 'info', description: 'fatal | error | warn | info | debug | trace | silent' },
    ),
    LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], {
      default: 'json',
      description: 'json (one object a line) or pretty (human-readable).',
    }),
    BODY_LIMIT_BYTES: Type.Integer({
      minimum: 1024,
      maximum: 1073741824,
      default: 1048576,
      description: 'Largest request body accepted (413 beyond).',
    }),
    TRUST_PROXY: Type.String({
      pattern: '^[0-9A-Za-z.:/, ]*$',
      default: '',
      description:
        "Load balancers whose X-Forwarded-For / X-Forwarded-Proto are believed: empty = none (the client is the TCP peer); a hop count (`1`); or addresses and CIDRs, comma-separated (`10.0.0.0/8`, `loopback`, `uniquelocal` = private networks). Behind nginx set it, or every client has the balancer's address (per-address sign-in throttling counts them all as one).",
    }),
    CORS_ORIGINS: Type.String({
      default: '*',
      description: 'Allowed browser origins: `*` or a comma-separated list.',
    }),
    SHUTDOWN_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 60000,
      default: 9000,
      description: 'Longest graceful drain on SIGTERM before the process exits anyway.',
    }),
    WORKER_CONCURRENCY: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 4,
      description: 'Jobs run at once.',
    }),
    JOB_MAX_ATTEMPTS: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 8,
      description: 'Attempts before a failing job moves to the dead letters.',
    }),
    OUTBOX_POLL_MS: Type.Integer({
      minimum: 5,
      maximum: 60000,
      default: 200,
      description: 'How often the outbox sequencer and consumers look for new events when not woken.',
    }),
  },
});
