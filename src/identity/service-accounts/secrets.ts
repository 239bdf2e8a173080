import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config.ts';
import { deriveKey, loadMasterKey } from '../../platform/secrets/master-key.ts';

/**
 * Client ids and secrets. A secret is 32 random bytes (base64url) behind a recognizable prefix, so
 * secret scanners and people can tell one in a log or a commit. Being random and long, it needs no
 * slow password hash: the database keeps HMAC-SHA256(secret) under a key derived from the master key,
 * so a copy of the table alone is useless for finding or checking a secret.
 */
export const CLIENT_ID_PREFIX = 'sa_';
export const SECRET_PREFIX = 'bxs_';
const SECRET_BYTES = 32;
/** Longer input is no secret of ours; refusing it early keeps the hash cheap. */
const MAX_SECRET_LENGTH = 256;

export function newClientId(): string {
  return CLIENT_ID_PREFIX + randomBytes(16).toString('base64url');
}

export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

const keys = new WeakMap<object, Promise<Buffer>>();

/** The HMAC key, derived once per configuration. */
export function secretHashKey(config: Pick<Config, 'MASTER_KEY' | 'NODE_ENV' | 'DATA_DIR'>): Promise<Buffer> {
  let key = keys.get(config);
  if (!key) {
    key = loadMasterKey(config).then((master) => deriveKey(master, 'service-account-secrets'));
    keys.set(config, key);
    key.catch(() => keys.delete(config));
  }
  return key;
}

export function hashSecret(key: Buffer, secret: string): Buffer {
  return createHmac('sha256', key).update(secret, 'utf8').digest();
}

// Compared when the client_id is unknown, so that case costs what a wrong secret costs.
const NO_HASH = Buffer.alloc(32);

/** Constant time in the secret: the keyed hashes are compared with timingSafeEqual. */
export async function matchesSecret(
  config: Pick<Config, 'MASTER_KEY' | 'NODE_ENV' | 'DATA_DIR'>,
  secret: string,
  stored: Buffer | undefined,
): Promise<boolean> {
  const key = await secretHashKey(config);
  const candidate = hashSecret(key, secret.length <= MAX_SECRET_LENGTH ? secret : '');
  const expected = stored && stored.length === candidate.length ? stored : NO_HASH;
  const equal = timingSafeEqual(candidate, expected);
  return equal && expected !== NO_HASH && secret.length <= MAX_SECRET_LENGTH;
}
