import { createCipheriv, createDecipheriv, createHmac, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Config } from '../../config.ts';
import { deriveKey, loadMasterKey } from '../../platform/secrets/master-key.ts';

/**
 * The private halves of signing keys at rest: AES-256-GCM under deriveKey(master, 'signing-keys'),
 * a fresh 96-bit nonce per key, the kid as additional authenticated data (a ciphertext moved to
 * another row does not decrypt). Stored as nonce (12) || tag (16) || ciphertext of the PKCS#8 DER.
 */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface KeyEncryption {
  key: Buffer;
  /** Names the derived key (not secret): tells "encrypted under another MASTER_KEY" from corruption. */
  check: string;
}

const encryptions = new WeakMap<object, Promise<KeyEncryption>>();

export function keyEncryption(
  config: Pick<Config, 'MASTER_KEY' | 'NODE_ENV' | 'DATA_DIR'>,
): Promise<KeyEncryption> {
  let found = encryptions.get(config);
  if (!found) {
    found = loadMasterKey(config).then((master) => {
      const key = deriveKey(master, 'signing-keys');
      const check = createHmac('sha256', key)
        .update('boxoffice signing-keys check')
        .digest('hex')
        .slice(0, 16);
      return { key, check };
    });
    encryptions.set(config, found);
    found.catch(() => encryptions.delete(config));
  }
  return found;
}

export class SigningKeyDecryptionError extends Error {
  override name = 'SigningKeyDecryptionError';
}

export function encryptPrivateKey(encryption: KeyEncryption, kid: string, pkcs8: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', encryption.key, nonce);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]);
}

export function decryptPrivateKey(
  encryption: KeyEncryption,
  key: { kid: string; encrypted: Buffer; check: string },
): Buffer {
  if (key.check !== encryption.check) {
    throw new SigningKeyDecryptionError(
      `signing key ${key.kid} in the database was encrypted under another MASTER_KEY ` +
        `(key check ${key.check}, this process has ${encryption.check}): start with the MASTER_KEY ` +
        'the keys were made with, or replace them with `boxoffice keys rotate --immediate` (the old ones stay ' +
        'published, unused, until their tokens expire)',
    );
  }
  try {
    const nonce = key.encrypted.subarray(0, NONCE_BYTES);
    const tag = key.encrypted.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', encryption.key, nonce);
    decipher.setAAD(Buffer.from(key.kid, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([
      decipher.update(key.encrypted.subarray(NONCE_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new SigningKeyDecryptionError(
      `signing key ${key.kid} in the database does not decrypt (tampered or corrupted ciphertext)`,
    );
  }
}

const generateRsa = promisify(generateKeyPair);

export interface NewKeyPair {
  kid: string;
  /** The public JWK as published: kty, kid, use, alg, n, e. */
  publicJwk: PublicJwk;
  pkcs8: Buffer;
}

export interface PublicJwk {
  kty: 'RSA';
  kid: string;
  use: 'sig';
  alg: 'RS256';
  n: string;
  e: string;
}

/** A fresh RSA 2048 key pair (off the event loop: node runs the generation in its thread pool). */
export async function newKeyPair(): Promise<NewKeyPair> {
  const { publicKey, privateKey } = await generateRsa('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
  });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const kid = randomBytes(12).toString('base64url');
  return {
    kid,
    publicJwk: { kty: 'RSA', kid, use: 'sig', alg: 'RS256', n: jwk.n, e: jwk.e },
    pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer,
  };
}
