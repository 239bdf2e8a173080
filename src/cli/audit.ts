import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { writeCheckpoint } from '../platform/audit/checkpoints.ts';
import { verifyAuditChain } from '../platform/audit/verify.ts';
import { loadMasterKey } from '../platform/secrets/master-key.ts';
import { withDatabase } from './migrate.ts';

export const AUDIT_HELP = `boxoffice audit verify [--json]
  Recomputes the whole audit chain and checks every signed checkpoint. Prints one line (with
  --json: {"valid":true,"entries":N,"head":{...}} or {"valid":false,"first_bad_id":"…","reason":"…"})
  and exits 0 when the chain is intact, 1 when it is not.
boxoffice audit checkpoint [--json]
  Signs the current chain head into audit_checkpoints now (nothing to do when the chain has not
  grown since the last checkpoint). Needs the same MASTER_KEY as the platform.
`;

export async function runAuditCommand(config: Config, logger: Logger, rest: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (error) {
    process.stderr.write(`boxoffice audit: ${(error as Error).message}\n\n${AUDIT_HELP}`);
    return 2;
  }
  const [action, ...extra] = parsed.positionals;
  const json = parsed.values.json === true;
  if ((action !== 'verify' && action !== 'checkpoint') || extra.length > 0) {
    process.stderr.write(AUDIT_HELP);
    return 2;
  }
  const masterKey = await loadMasterKey(config);
  if (action === 'verify') {
    const result = await withDatabase(config, logger, (db) => verifyAuditChain(db, masterKey));
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (result.valid) {
      process.stdout.write(
        `audit log intact: ${result.entries} entries${result.head ? `, head ${result.head.id} ${result.head.hash}` : ''}\n`,
      );
    } else process.stdout.write(`audit log TAMPERED at entry ${result.first_bad_id}: ${result.reason}\n`);
    return result.valid ? 0 : 1;
  }
  const outcome = await withDatabase(config, logger, (db) => writeCheckpoint(db, masterKey));
  if (json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
  else if (outcome.written) {
    process.stdout.write(
      `checkpoint written: entry ${outcome.checkpoint.head_id} ${outcome.checkpoint.head_hash}\n`,
    );
  } else {
    const why = {
      empty: 'the audit log is empty',
      unchanged: `the chain has not grown since the checkpoint of entry ${outcome.last?.head_id}`,
      'too-soon': 'the last checkpoint is recent',
      busy: 'another process is writing a checkpoint right now',
    }[outcome.reason];
    process.stdout.write(`no checkpoint written: ${why}\n`);
  }
  return 0;
}

function parse(args: string[]) {
  return parseArgs({ args, allowPositionals: true, strict: true, options: { json: { type: 'boolean' } } });
}
