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
  // booking: seat maps, bookings and seat holds (docs/booking.md)
  BOOKING_HOLD_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86400,
    default: 300,
    description: 'How long PATCH /api/seats/select holds a seat; an expired hold is a free seat at once.',
  }),
  BOOKING_MAX_SEATS_PER_USER: Type.Integer({
    minimum: 1,
    maximum: 100000,
    default: 10,
    description: 'Most seats one user may hold or buy per event (live holds, pending payments and sales).',
  }),
  BOOKING_RESET_ENABLED: Type.Union([Type.Literal('auto'), Type.Literal('true'), Type.Literal('false')], {
    default: 'auto',
    description:
      'POST /api/reset (removes every booking and hold): auto = enabled unless NODE_ENV=production; true | false.',
  }),
  BOOKING_LOCK_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    maximum: 60000,
    default: 3000,
    description: 'Longest wait for a booking or seat lock before the request is answered 503 BOOKING_BUSY.',
  }),
  BOOKING_BATCH_MAX_ROWS: Type.Integer({
    minimum: 1,
    maximum: 10000,
    default: 500,
    description: 'Most seat holds (or new bookings) group-committed in one transaction.',
  }),
  BOOKING_BATCH_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 16,
    default: 2,
    description: 'Hold (and booking) batches being committed at once, each on its own connection.',
  }),
  BOOKING_TAKEN_CACHE_MS: Type.Integer({
    minimum: 0,
    maximum: 60000,
    default: 2000,
    description:
      'How long a seat seen taken is refused from the shared cache without asking PostgreSQL (never past its hold). 0 = off.',
  }),
  BOOKING_ANALYTICS_CACHE_MS: Type.Integer({
    minimum: 0,
    maximum: 60000,
    default: 1000,
    description: 'How long GET /api/analytics answers are cached (0 = computed on every request).',
  }),
  // payments
  PAYMENT_ENDPOINT: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'Base URL of the payment gateway API, e.g. https://gateway.example/api/v1. Unset: the built-in gateway simulator is started in-process on SIM_GATEWAY_HOST:SIM_GATEWAY_PORT and used.',
    }),
  ),
  MERCHANT_ID: Type.String({
    minLength: 1,
    default: 'boxoffice',
    description:
      'Our merchant id at the gateway (teamSlug, the team slug). The simulator accepts it with MERCHANT_PASSWORD.',
  }),
  MERCHANT_PASSWORD: Type.String({
    minLength: 1,
    default: 'boxoffice-dev-password',
    description:
      'Merchant password that signs gateway requests (SHA-256 tokens). The default is for the simulator only.',
  }),
  PAYMENT_WEBHOOK_SECRET: Type.String({
    minLength: 1,
    default: 'boxoffice-dev-webhook-secret',
    description:
      'Key of the HMAC-SHA256 signature on gateway webhooks (X-Webhook-Signature). The default is for the simulator only.',
  }),
  PAYMENT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 120000,
    default: 10000,
    description: 'Deadline of each gateway call attempt: connect, send and the whole answer.',
  }),
  PAYMENT_RETRY_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 10,
    default: 3,
    description:
      'Attempts, the first included, of a gateway call that is safe to repeat (init per orderId, check); confirm and cancel check the payment before repeating.',
  }),
  PAYMENT_CURRENCY: Type.Union(
    [Type.Literal('KZT'), Type.Literal('RUB'), Type.Literal('USD'), Type.Literal('EUR')],
    {
      default: 'KZT',
      description: 'Currency of zone prices and payments (the gateway takes minor units: 1 KZT = 100).',
    },
  ),
  PAYMENT_EXPIRY_MINUTES: Type.Integer({
    minimum: 1,
    maximum: 10080,
    default: 15,
    description:
      'How long a buyer has to pay (the gateway expires the payment then). The booking’s seats stay held that long plus PAYMENT_HOLD_GRACE_SECONDS.',
  }),
  PAYMENT_HOLD_GRACE_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 3600,
    default: 120,
    description:
      'Seats of a booking pending payment stay held this long past the payment’s expiry, so a payment authorized at the last moment still finds them.',
  }),
  PAYMENT_RECONCILE_AFTER_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86400,
    default: 60,
    description:
      'A payment not settled and unchanged this long is checked with the gateway by the reconciliation job (lost webhooks, lost answers).',
  }),
  PAYMENT_WEBHOOK_RETENTION_DAYS: Type.Integer({
    minimum: 1,
    maximum: 3650,
    default: 30,
    description:
      'Webhook deliveries older than this are deleted by a daily job. They only deduplicate repeats (gateways retry for hours, not weeks); the ledger keeps every transition with its delivery id.',
  }),
  PAYMENT_CALLBACK_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'Public base URL of this API, where the gateway posts webhooks (/api/payments/notifications) and sends buyers back (/api/payments/success|fail). Unset: the address the API listens on.',
    }),
  ),
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 5,
    description:
      'Consecutive gateway failures (timeouts, connection errors, 5xx) that open the circuit breaker; declines and other 4xx answers do not count.',
  }),
  CIRCUIT_BREAKER_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 60,
    description:
      'How long an open breaker fails payment calls fast (503) before it lets one trial call through.',
  }),
  SIM_GATEWAY_HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description:
      'Interface the gateway simulator binds to (`boxoffice sim gateway`, or in-process when PAYMENT_ENDPOINT is unset).',
  }),
  SIM_GATEWAY_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 8090,
    description: 'Port of the gateway simulator (0 = any free port).',
  }),
  SIM_GATEWAY_PUBLIC_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        "Where buyers' browsers reach the simulator (the origin of its paymentURL links). Unset: its own address.",
    }),
  ),
  SIM_LOST_ANSWER_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 0,
    description:
      'Simulator failure mode 1: % of init calls that are registered but whose answer is lost (a stall, then the connection is cut; or cut at once).',
  }),
  SIM_FORM_FAILURE_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 0,
    description:
      'Simulator failure mode 2: % of card form submits that are processed but whose answer is lost the same way.',
  }),
  SIM_STALL_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 50,
    description:
      'Of the lost answers, % that stall for SIM_STALL_MS before the cut; the rest are cut at once.',
  }),
  SIM_STALL_MS: Type.Integer({
    minimum: 0,
    maximum: 600000,
    default: 60000,
    description: 'How long a stalled answer hangs before the simulator cuts the connection.',
  }),
  SIM_BANK_FAILURE_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 0,
    description:
      'Simulator failure mode 3: % of card payments the acquiring bank fails (network or bank auth error: FAILED; fraud block, online payments disabled, no 3-D Secure: REJECTED).',
  }),
  SIM_WEBHOOK_DELAY_MIN_MS: Type.Integer({
    minimum: 0,
    maximum: 600000,
    default: 0,
    description:
      'Simulator failure mode 4: least delay before a webhook is first sent (a random delay in [MIN, MAX]).',
  }),
  SIM_WEBHOOK_DELAY_MAX_MS: Type.Integer({
    minimum: 0,
    maximum: 600000,
    default: 0,
    description:
      'Simulator failure mode 4: greatest delay before a webhook is first sent (raised to MIN if below it).',
  }),
  SIM_WEBHOOK_LOSS_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 0,
    description: 'Simulator failure mode 4: % of webhooks never sent.',
  }),
  SIM_WEBHOOK_DUPLICATE_PERCENT: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 0,
    description:
      '% of webhooks the simulator delivers twice (same X-Webhook-Delivery), as at-least-once delivery may.',
  }),
  SIM_WEBHOOK_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 20,
    default: 3,
    description:
      'Further attempts of a webhook the receiver did not take (no 2xx answer), with exponential backoff.',
  }),
  SIM_WEBHOOK_RETRY_BASE_MS: Type.Integer({
    minimum: 1,
    maximum: 600000,
    default: 1000,
    description: 'Delay before the first webhook retry; doubled for each next one.',
  }),
  SIM_WEBHOOK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 120000,
    default: 30000,
    description: 'How long the simulator waits for the receiver to answer one webhook attempt.',
  }),
  SIM_AUTO_PAY_DELAY_MS: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 3600000,
      description:
        'When set, the simulator pays each new payment itself this long after init, with SIM_AUTO_PAY_CARD (load tests without a browser); the merchant still confirms.',
    }),
  ),
  SIM_AUTO_PAY_CARD: Type.String({
    pattern: '^[0-9]{12,19}$',
    default: '4111111111111111',
    description:
      'Card number the simulator auto-pays with (a declined test card makes every auto-payment fail).',
  }),
  // catalog
  CATALOG_CACHE_ENABLED: Bool(
    true,
    'Cache event listings and searches (the shared cache, plus an in-process copy); every event change drops them. false: every request queries PostgreSQL (to measure uncached search).',
  ),
  CATALOG_CACHE_TTL_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86400,
    default: 60,
    description:
      'Longest a cached event page lives; changes invalidate at once, the TTL bounds how long the "current events" window lags the clock.',
  }),
  CATALOG_LOCAL_CACHE_ENTRIES: Type.Integer({
    minimum: 0,
    maximum: 1000000,
    default: 10000,
    description: 'Event pages each API process keeps in memory in front of the shared cache (0: none).',
  }),
  CATALOG_SEARCH_CANDIDATES: Type.Integer({
    minimum: 20,
    maximum: 100000,
    default: 300,
    description:
      'Matches ranked together per block, newest first: bounds the cost of frequent words (see docs/catalog.md, Ranking).',
  }),
  CATALOG_SEARCH_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600000,
    default: 5000,
    description:
      'Statement timeout of an event search; beyond it the API answers 503 CATALOG_SEARCH_TIMEOUT.',
  }),
  CATALOG_DB_POOL_MAX: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 4,
    description: 'Connections of the event search pool per API process (apart from DB_POOL_MAX).',
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
