import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Every environment variable the platform reads, with its default and meaning.
 * This one schema validates the environment at boot and documents it: `.env.example`
 * and the README table are checked against it by a test.
 */
const Bool = (defaultValue: boolean, description: string) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], {
    default: String(defaultValue),
    description,
    flag: true,
  });

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: 'development | production | test. Production disables demo-only endpoints.',
  }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Interface the HTTP API binds to.' }),
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
    description: 'Where embedded PostgreSQL keeps its files.',
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
  // identity
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
  DROPS_ENABLED: Bool(
    true,
    'Run the drops module: hourly flash sales, the contest API and the storefront routes.',
  ),
  DROPS_CONTEST_ENABLED: Bool(
    true,
    'Also serve the contest API (POST /checkout, POST /purchase) on its own lean port (DROPS_CONTEST_PORT).',
  ),
  DROPS_CONTEST_HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'Interface the contest API binds to.',
  }),
  DROPS_CONTEST_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 8080,
    description: 'Port of the contest API (0 = any free port).',
  }),
  DROPS_EPOCH_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 32503680000,
    default: 0,
    description:
      'Unix time (s) when sale 0 started; sale n runs from EPOCH + n x PERIOD. 0 aligns sales to the UTC hour. A restart with another epoch or period on a database that has the current sale is refused.',
  }),
  DROPS_PERIOD_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86400,
    default: 3600,
    description: 'Length of a sale: a new one opens (and the previous one closes) every period.',
  }),
  DROPS_ITEMS_PER_SALE: Type.Integer({
    minimum: 1,
    maximum: 1000000,
    default: 10000,
    description: 'Items on sale in each sale (ids 0 to N-1).',
  }),
  DROPS_PER_USER_LIMIT: Type.Integer({
    minimum: 1,
    maximum: 1000000,
    default: 10,
    description: 'Most items one user may hold or buy per sale (purchases plus live reservations).',
  }),
  DROPS_RESERVATION_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 60,
    description:
      'How long a checkout holds its item for the purchase (capped at the end of the sale); see docs/drops.md.',
  }),
  DROPS_BATCH_MAX_ROWS: Type.Integer({
    minimum: 1,
    maximum: 100000,
    default: 2000,
    description: 'Most writes (attempts, reservations, purchases) group-committed in one transaction.',
  }),
  DROPS_BATCH_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 16,
    default: 2,
    description: 'Batches being committed at once (each uses one database connection).',
  }),
  DROPS_ATTEMPT_BACKLOG_MAX: Type.Integer({
    minimum: 1,
    maximum: 10000000,
    default: 100000,
    description:
      'Unwritten attempt records beyond which even 409 answers wait for their batch to commit (back-pressure).',
  }),
  DROPS_REDIS_PREFIX: Type.String({
    minLength: 1,
    default: 'boxoffice:drops:',
    description: 'Prefix of the drops keys in Redis (with REDIS_URL), so deployments can share one Redis.',
  }),
});

type Raw = Static<typeof ConfigSchema>;
/** Flags arrive as 'true' | 'false' and are handed out as booleans. */
export type Config = Readonly<{ [K in keyof Raw]: [Raw[K]] extends ['true' | 'false'] ? boolean : Raw[K] }>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Reads `.env` (if present) under the real environment: variables already set win. */
export function readEnv(env: Env = process.env, dotenvPath = '.env'): Env {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}

/** Validates and freezes the configuration; throws one ConfigError naming every bad variable. */
export function loadConfig(env: Env = readEnv()): Config {
  const keys = Object.keys(ConfigSchema.properties) as (keyof typeof ConfigSchema.properties)[];
  const raw: Record<string, string> = {};
  for (const key of keys) {
    const value = env[key];
    // An empty value means "not set", as shells and .env files often leave it.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const candidate = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  if (!Value.Check(ConfigSchema, candidate)) {
    const bad = new Map<string, string>();
    for (const error of Value.Errors(ConfigSchema, candidate)) {
      const key = error.instancePath.slice(1);
      if (!key || bad.has(key)) continue;
      const schema = ConfigSchema.properties[key as keyof typeof ConfigSchema.properties];
      bad.set(key, `${key}=${JSON.stringify(env[key])} is invalid: expected ${describe(schema)}`);
    }
    throw new ConfigError(`Invalid configuration: ${[...bad.values()].join('; ')}`);
  }
  const config: Record<string, unknown> = { ...(candidate as Raw) };
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    if ((schema as unknown as { flag?: boolean }).flag) config[key] = config[key] === 'true';
  }
  return Object.freeze(config) as Config;
}

function describe(schema: TSchema): string {
  const s = schema as unknown as Record<string, unknown>;
  if (Array.isArray(s.anyOf)) return `one of ${s.anyOf.map((option) => option.const).join(', ')}`;
  if (s.type === 'integer') return `an integer from ${s.minimum} to ${s.maximum}`;
  if (typeof s.pattern === 'string') return `a value matching ${s.pattern}`;
  return 'a non-empty string';
}

/** The README's configuration table (Markdown), generated from the schema. */
export function configTable(): string {
  const rows = ['| variable | default | meaning |', '| --- | --- | --- |'];
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const s = schema as unknown as Record<string, unknown>;
    const fallback = s.default === undefined ? 'unset' : `\`${s.default}\``;
    rows.push(`| \`${key}\` | ${fallback} | ${String(s.description).replaceAll('|', '\\|')} |`);
  }
  return rows.join('\n');
}

/** The `.env.example` text, generated from the schema so the two cannot drift. */
export function envExample(): string {
  const lines = [
    '# boxoffice configuration. Every variable is optional; the value shown is the default.',
    '',
  ];
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const s = schema as unknown as Record<string, unknown>;
    lines.push(`# ${s.description}`);
    lines.push(s.default === undefined ? `# ${key}=` : `${key}=${s.default}`);
    lines.push('');
  }
  return lines.join('\n');
}
