import { Type } from 'typebox';
import { Bool, defineConfigSection } from '../platform/config/section.ts';

/** The drops section of the configuration (see docs/drops.md). */
export const dropsConfig = defineConfigSection({
  name: 'drops',
  title: 'Drops: hourly flash sales and the contest API',
  variables: {
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
  },
});
