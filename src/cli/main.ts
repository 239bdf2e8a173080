import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { modules } from '../modules.ts';
import { CLUSTER_ROLE_ENV, reportReady, runClusterPrimary } from '../platform/cluster.ts';
import { createLogger } from '../platform/logger.ts';
import { type Role, runRole } from '../platform/runtime.ts';
import { AUDIT_HELP, runAuditCommand } from './audit.ts';
import { FILES_HELP, runFilesCommand } from './files.ts';
import { IMPORT_HELP, runImportCommand } from './import.ts';
import { runJobsCommand } from './jobs.ts';
import { KEYS_HELP, runKeysCommand } from './keys.ts';
import { runMigrateCommand } from './migrate.ts';
import { runSeedCommand, SEED_HELP, UsageError } from './seed.ts';
import { runServiceAccountsCommand, SERVICE_ACCOUNTS_HELP } from './service-accounts.ts';
import { runSimCommand, SIM_HELP } from './sim.ts';
import { runStaffCommand, STAFF_HELP } from './staff.ts';

const HELP = `boxoffice: high-load ticketing platform

Usage: boxoffice <command> [options]

Commands:
  start     Everything in one process: HTTP API on HOST:PORT (default 127.0.0.1:8000),
            job worker, scheduler and outbox consumers. Starts an embedded PostgreSQL in
            DATA_DIR when DATABASE_URL is unset. This is what \`npm start\` runs.
            \`--processes N\`: N HTTP processes sharing the ports (needs REDIS_URL).
  api       Only the HTTP API (run several behind a load balancer; shared hot state then
            needs REDIS_URL).
  worker    Only background work: jobs, cron schedules, the outbox sequencer and consumers.
  migrate   Apply pending database migrations and exit.
  seed      Generate data of the hackload release's shape and scale (deterministic, re-runnable).
  import    Load the public data release files from a directory.
  jobs      Inspect the job queue's dead letters: \`jobs dead-letters [--task T]\`,
            \`jobs retry <id>\`.
  audit     Check the audit log's hash chain and signed checkpoints: \`audit verify [--json]\`,
            \`audit checkpoint\` (signs the current head now).
  staff     Staff of the admin panel: \`staff create --email E --role admin --json\`,
            \`staff list\`, \`staff disable <email>\`, \`staff reset-password <email>\`.
  service-accounts  Machine clients of the API: \`service-accounts create --name N --role ADMIN
            --json\` (the first ADMIN), \`list\`, \`rotate-secret <id>\`, \`disable|enable <id>\`.
  keys      Token signing keys: \`keys list\`, \`keys rotate [--immediate]\` (incidents; it
            also rotates by itself every IDENTITY_KEY_ROTATION_HOURS).
  files     The document store: \`files rebuild\` (the database cache from attr.json),
            \`files check [--full] [--json]\` (missing bytes, orphans, checksums; exit 1 on any).
  sim       Run a simulator of an external peer: \`sim gateway [--port N]\` is the payment
            gateway (API, card form, webhooks, failure modes); \`sim notify\` runs the local
            SMTP server with its inbox, the SMS provider and the Web Push service.
  help      This text. \`boxoffice <command> --help\` explains one command.

Configuration comes from environment variables and an optional .env file; see
.env.example for every variable, its default and meaning. Invalid values stop the process
at once with a message naming the variable.
`;

const COMMAND_HELP: Record<string, string> = {
  start:
    'boxoffice start [--processes N]\n  Runs the whole platform in one process (API, worker, scheduler, outbox).\n' +
    '  --processes N: N HTTP processes sharing the ports plus one for the background work (needs REDIS_URL).\n',
  api:
    'boxoffice api [--processes N]\n  Runs the HTTP API only; applies migrations first unless MIGRATE_ON_START=false.\n' +
    '  --processes N: N HTTP processes sharing the ports (Node cluster; needs REDIS_URL).\n',
  worker: 'boxoffice worker\n  Runs jobs, cron schedules and outbox consumers; no HTTP.\n',
  migrate:
    'boxoffice migrate\n  Applies pending migrations (locked: safe to run from several processes) and exits.\n',
  jobs: 'boxoffice jobs dead-letters [--task NAME] [--limit N]\nboxoffice jobs retry <dead-letter id>\n',
  seed: SEED_HELP,
  import: IMPORT_HELP,
  sim: SIM_HELP,
  'service-accounts': SERVICE_ACCOUNTS_HELP,
  audit: AUDIT_HELP,
  staff: STAFF_HELP,
  keys: KEYS_HELP,
  files: FILES_HELP,
};

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  if (!(command in COMMAND_HELP)) {
    process.stderr.write(`boxoffice: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(COMMAND_HELP[command]!);
    return 0;
  }
  const config = loadConfig();
  const logger = createLogger(config);
  if (command === 'migrate') return runMigrateCommand(config, logger);
  if (command === 'seed') return runSeedCommand(config, logger, modules, rest);
  if (command === 'import') return runImportCommand(config, logger, modules, rest);
  if (command === 'sim') return runSimCommand(config, logger, rest);
  if (command === 'service-accounts') return runServiceAccountsCommand(config, rest);
  if (command === 'audit') return runAuditCommand(config, logger, rest);
  if (command === 'staff') return runStaffCommand(config, rest);
  if (command === 'keys') return runKeysCommand(config, rest);
  if (command === 'files') return runFilesCommand(config, logger, rest);
  if (command === 'jobs')
    return runJobsCommand(
      config,
      logger,
      parseArgs({
        args: rest,
        allowPositionals: true,
        options: { task: { type: 'string' }, limit: { type: 'string' } },
      }),
    );

  const processes = processesOption(command, rest);
  if (processes !== undefined && cluster.isPrimary)
    return runClusterPrimary(command as 'start' | 'api', processes, config, logger, modules, import.meta.url);
  // A cluster worker runs the role its primary gave it; the primary forwards the terminal's Ctrl-C.
  const role = (cluster.isWorker ? process.env[CLUSTER_ROLE_ENV] : command) as Role;
  if (cluster.isWorker) process.on('SIGINT', () => {});
  const running = await runRole(role, config, logger, modules);
  reportReady();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: draining in-flight work');
      // A second signal means "now".
      process.once('SIGTERM', () => process.exit(130));
      if (!cluster.isWorker) process.once('SIGINT', () => process.exit(130));
      const deadline = setTimeout(() => {
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'graceful shutdown took too long; exiting');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS);
      deadline.unref();
      running.stop().then(resolve, (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.once('SIGTERM', onSignal);
    if (!cluster.isWorker) process.once('SIGINT', onSignal);
  });
  logger.info('stopped');
  // A cluster worker's channel to its primary would keep it alive: close it so the process can end.
  if (cluster.isWorker) process.disconnect();
  return 0;
}

/** `--processes N` of `start` and `api`: undefined without it (one process, as always). */
function processesOption(command: string, args: string[]): number | undefined {
  const { values } = parseArgs({ args, options: { processes: { type: 'string' } }, strict: false });
  if (values.processes === undefined) return undefined;
  const n = typeof values.processes === 'string' ? Number(values.processes) : Number.NaN;
  if (command !== 'start' && command !== 'api')
    throw new UsageError(`--processes applies to start and api only`);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(
      `--processes must be a whole number from 1 to 64, got ${typeof values.processes === 'string' ? `"${values.processes}"` : 'no value'}`,
    );
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // One clear line for the operator; the stack only when asked for.
    const message =
      error instanceof ConfigError ? error.message : ((error as Error)?.message ?? String(error));
    process.stderr.write(`boxoffice: ${message}\n`);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(error instanceof ConfigError ? 78 : error instanceof UsageError ? 2 : 1);
  },
);
