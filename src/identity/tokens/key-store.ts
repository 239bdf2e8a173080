import type { Queryable } from '../../platform/db/client.ts';
import type { PublicJwk } from './key-crypto.ts';

/** One statement per function; rotation owns the transactions. Only this file reads identity_signing_keys. */

export type KeyState = 'next' | 'current' | 'retired';

export interface SigningKeyRow {
  kid: string;
  state: KeyState;
  publicJwk: PublicJwk;
  privateKeyEncrypted: Buffer;
  encryptionKeyCheck: string;
  publishedAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

/** Any stable number: rotation and first-use creation take this transaction lock, in every process. */
export const SIGNING_KEYS_LOCK = 0x626f78_50; // "box" + 0x50

/** Every process reloads its keys when a rotation commits (payload: the new current kid). */
export const KEYS_CHANNEL = 'identity_signing_keys';

export async function lockSigningKeys(tx: Queryable): Promise<void> {
  await tx`select pg_advisory_xact_lock(${SIGNING_KEYS_LOCK})`;
}

export async function listSigningKeys(db: Queryable): Promise<SigningKeyRow[]> {
  return db<SigningKeyRow[]>`
    select kid, state, public_jwk as "publicJwk", private_key_encrypted as "privateKeyEncrypted",
      encryption_key_check as "encryptionKeyCheck", published_at as "publishedAt",
      activated_at as "activatedAt", retired_at as "retiredAt"
    from identity_signing_keys
    order by published_at desc, kid`;
}

export async function insertSigningKey(
  tx: Queryable,
  key: {
    kid: string;
    state: 'next' | 'current';
    publicJwk: PublicJwk;
    privateKeyEncrypted: Buffer;
    encryptionKeyCheck: string;
    at: Date;
  },
): Promise<void> {
  await tx`
    insert into identity_signing_keys
      (kid, state, public_jwk, private_key_encrypted, encryption_key_check, published_at, activated_at)
    values (${key.kid}, ${key.state}, ${tx.json(key.publicJwk as never)}, ${key.privateKeyEncrypted},
      ${key.encryptionKeyCheck}, ${key.at}, ${key.state === 'current' ? key.at : null})`;
}

export async function retireSigningKey(tx: Queryable, kid: string, at: Date): Promise<void> {
  await tx`update identity_signing_keys set state = 'retired', retired_at = ${at} where kid = ${kid}`;
}

export async function activateSigningKey(tx: Queryable, kid: string, at: Date): Promise<void> {
  await tx`update identity_signing_keys set state = 'current', activated_at = ${at} where kid = ${kid}`;
}

export async function deleteSigningKeys(tx: Queryable, kids: readonly string[]): Promise<void> {
  if (kids.length === 0) return;
  await tx`delete from identity_signing_keys where kid = any(${kids as string[]})`;
}

export async function notifyKeysChanged(tx: Queryable, currentKid: string): Promise<void> {
  await tx`select pg_notify(${KEYS_CHANNEL}, ${currentKid})`;
}
