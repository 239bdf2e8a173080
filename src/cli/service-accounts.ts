import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import {
  type Actor,
  changeServiceAccount,
  createServiceAccount,
  listServiceAccounts,
  rotateServiceAccountSecret,
} from '../identity/service-accounts/service.ts';
import type { ServiceAccountRow } from '../identity/service-accounts/store.ts';
import { AppError } from '../platform/http/errors.ts';
import { createLogger } from '../platform/logger.ts';
import { withDatabase } from './migrate.ts';

export const SERVICE_ACCOUNTS_HELP = `boxoffice service-accounts create --name NAME --role ADMIN|USER|AUDITOR|READONLY
    [--description TEXT] [--per-minute N --burst N] [--json]
  Creates a service account and prints its client_id and client_secret (shown this once).
  With --json: exactly one JSON object {id, client_id, client_secret, role} on stdout.
boxoffice service-accounts list [--json]
  One line per account (with --json: one JSON object per line); never a secret.
boxoffice service-accounts rotate-secret <id> [--json]
  A new secret (printed; with --json {id, client_secret}); the old one stops working at once.
boxoffice service-accounts disable <id>
boxoffice service-accounts enable <id>

Works beside a running platform (it needs only the database); every change is in the audit log
as actor system/cli. Logs go to stderr.
`;

/** The audit log's actor for everything done from this command. */
const CLI_ACTOR: Actor = { actorType: 'system', actorId: 'cli' };

class Usage extends Error {}

/** `boxoffice service-accounts …`: the way to the first ADMIN account, and back in if every ADMIN is lost. */
export async function runServiceAccountsCommand(config: Config, argv: string[]): Promise<number> {
  // stdout is the answer (a secret, JSON for scripts): logs must not mix into it.
  const logger = createLogger(config, 2);
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(
      `boxoffice service-accounts: ${(error as Error).message}\n\n${SERVICE_ACCOUNTS_HELP}`,
    );
    return 2;
  }
  const { action, id, values } = args;
  const context = (db: Parameters<Parameters<typeof withDatabase>[2]>[0]) => ({ db, config });
  try {
    if (action === 'create') {
      if (!values.name || !values.role) throw new Usage('create needs --name and --role');
      const rateLimit = rateLimitOf(values['per-minute'], values.burst);
      const { account, clientSecret } = await withDatabase(config, logger, (db) =>
        createServiceAccount(
          context(db),
          { name: values.name!, role: values.role!, description: values.description ?? null, rateLimit },
          CLI_ACTOR,
        ),
      );
      if (values.json) {
        print({
          id: account.id,
          client_id: account.clientId,
          client_secret: clientSecret,
          role: account.role,
        });
      } else {
        process.stdout.write(
          `service account ${account.id} "${account.name}" (${account.role})\n` +
            `client_id:     ${account.clientId}\nclient_secret: ${clientSecret}\n` +
            'The secret is shown only now: store it safely.\n',
        );
      }
      return 0;
    }
    if (action === 'list') {
      const rows = await withDatabase(config, logger, async (db) => {
        const all: ServiceAccountRow[] = [];
        for (let page = 1; ; page++) {
          const { rows } = await listServiceAccounts(context(db), { page, pageSize: 500 });
          all.push(...rows);
          if (rows.length < 500) return all;
        }
      });
      for (const row of rows) {
        if (values.json) print(describe(row));
        else process.stdout.write(`${row.id}\t${row.clientId}\t${row.role}\t${row.status}\t${row.name}\n`);
      }
      return 0;
    }
    if (action === 'rotate-secret' && id) {
      const { clientSecret } = await withDatabase(config, logger, (db) =>
        rotateServiceAccountSecret(context(db), id, CLI_ACTOR),
      );
      if (values.json) print({ id, client_secret: clientSecret });
      else process.stdout.write(`client_secret: ${clientSecret}\nThe old secret no longer works.\n`);
      return 0;
    }
    if ((action === 'disable' || action === 'enable') && id) {
      const status = action === 'disable' ? 'disabled' : 'active';
      const row = await withDatabase(config, logger, (db) =>
        changeServiceAccount(context(db), id, { status }, CLI_ACTOR),
      );
      process.stderr.write(`service account ${row.id} "${row.name}" is ${row.status}\n`);
      return 0;
    }
    throw new Usage(action ? `unknown action or missing id: ${action}` : 'an action is required');
  } catch (error) {
    if (error instanceof Usage) {
      process.stderr.write(`boxoffice service-accounts: ${error.message}\n\n${SERVICE_ACCOUNTS_HELP}`);
      return 2;
    }
    if (error instanceof AppError) {
      process.stderr.write(`boxoffice service-accounts: ${error.message}\n`);
      return error.statusCode === 400 ? 2 : 1;
    }
    throw error;
  }
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      description: { type: 'string' },
      'per-minute': { type: 'string' },
      burst: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, id, ...extra] = positionals;
  if (extra.length > 0) throw new Error(`unexpected arguments: ${extra.join(' ')}`);
  return { action, id, values };
}

function rateLimitOf(perMinute: string | undefined, burst: string | undefined) {
  if (perMinute === undefined && burst === undefined) return null;
  if (perMinute === undefined || burst === undefined) throw new Usage('--per-minute and --burst go together');
  if (!/^\d+$/.test(perMinute) || !/^\d+$/.test(burst))
    throw new Usage('--per-minute and --burst are whole numbers');
  return { perMinute: Number(perMinute), burst: Number(burst) };
}

function describe(row: ServiceAccountRow) {
  return {
    id: row.id,
    client_id: row.clientId,
    name: row.name,
    role: row.role,
    status: row.status,
    rate_limit:
      row.rateLimitPerMinute === null
        ? null
        : { per_minute: row.rateLimitPerMinute, burst: row.rateLimitBurst },
    version: row.version,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
  };
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
