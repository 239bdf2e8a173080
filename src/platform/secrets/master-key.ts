import { hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../../config.ts';
import { ConfigError } from '../config/load.ts';

const KEY_BYTES = 32;
const FILE_NAME = 'master.key';

/**
 * The one secret the platform's other secrets hang from: it encrypts the token signing keys at
 * rest, keys the hashes of service account secrets and signs audit checkpoints, each through its
 * own derived key (`deriveKey`), so no two uses share key material.
 *
 * MASTER_KEY (base64 of 32 bytes) in production. In development and tests without it, a key is
 * generated once into DATA_DIR/master.key (mode 0600) and reused; production refuses to start
 * without one, since a generated key would differ per machine and lose every encrypted key.
 */
export async function loadMasterKey(
  config: Pick<Config, 'MASTER_KEY' | 'NODE_ENV' | 'DATA_DIR'>,
): Promise<Buffer> {
  if (config.MASTER_KEY) return decodeMasterKey(config.MASTER_KEY);
  if (config.NODE_ENV === 'production') {
    throw new ConfigError(
      'MASTER_KEY is required in production (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)',
    );
  }
  const path = resolve(config.DATA_DIR, FILE_NAME);
  try {
    return decodeMasterKey((await readFile(path, 'utf8')).trim(), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(config.DATA_DIR, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx': two processes starting at once must not each write their own key.
    await writeFile(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(config);
    throw error;
  }
  await chmod(path, 0o600);
  return key;
}

function decodeMasterKey(text: string, source = 'MASTER_KEY'): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text.replace(/\s/g, '')) {
    throw new ConfigError(`${source} must be the base64 of exactly ${KEY_BYTES} bytes`);
  }
  return key;
}

/** A key for one purpose (HKDF-SHA256 over the master key), e.g. deriveKey(master, 'audit-checkpoints'). */
export function deriveKey(master: Buffer, purpose: string, length = KEY_BYTES): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `boxoffice:${purpose}`, length));
}
