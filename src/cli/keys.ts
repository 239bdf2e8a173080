import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { keyEncryption } from '../identity/tokens/key-crypto.ts';
import {
  describeSigningKeys,
  RotationTooEarlyError,
  rotateSigningKeys,
} from '../identity/tokens/rotation.ts';
import { createLogger } from '../platform/logger.ts';
import { withDatabase } from './migrate.ts';

export const KEYS_HELP = `boxoffice keys list
  One JSON object per line for each stored signing key: kid, state (next, current, retired),
  published_at, activated_at, retired_at, published_until, in_jwks. Never a private key.
boxoffice keys rotate [--immediate] [--reason TEXT]
  Rotates now (incidents): the current key retires, the next one signs, a new next one is
  published; prints {current, next, retired, removed, immediate}; audited as actor system/cli.
  Refused (exit 1) while the next key has been published for less than
  IDENTITY_JWKS_MAX_AGE_SECONDS, unless --immediate: then verifiers that cached the JWKS meet
  an unknown kid until they fetch it again (docs/identity.md). Tokens signed by the retired key
  stay valid until they expire.

Works beside a running platform (it needs only the database and MASTER_KEY); running processes
pick up a rotation at once (NOTIFY). Logs go to stderr.
`;

/** `boxoffice keys …`: the signing keys of access tokens. */
export async function runKeysCommand(config: Config, argv: string[]): Promise<number> {
  const logger = createLogger(config, 2);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`boxoffice keys: ${(error as Error).message}\n\n${KEYS_HELP}`);
    return 2;
  }
  const [action, ...extra] = parsed.positionals;
  if (extra.length > 0 || (action !== 'list' && action !== 'rotate')) {
    process.stderr.write(`boxoffice keys: expected list or rotate\n\n${KEYS_HELP}`);
    return 2;
  }
  if (action === 'list') {
    const keys = await withDatabase(config, logger, (db) =>
      describeSigningKeys({ db, settings: config, now: Date.now() }),
    );
    for (const key of keys) process.stdout.write(`${JSON.stringify(key)}\n`);
    return 0;
  }
  try {
    const result = await withDatabase(config, logger, async (db) =>
      rotateSigningKeys(
        { db, settings: config, encryption: await keyEncryption(config), now: Date.now() },
        {
          actor: { actorType: 'system', actorId: 'cli' },
          trigger: 'manual',
          immediate: parsed.values.immediate === true,
          ...(parsed.values.reason ? { reason: parsed.values.reason } : {}),
        },
      ),
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof RotationTooEarlyError)) throw error;
    process.stderr.write(`boxoffice keys: ${error.message.replace('immediate: true', '--immediate')}\n`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { immediate: { type: 'boolean' }, reason: { type: 'string' } },
  });
}
