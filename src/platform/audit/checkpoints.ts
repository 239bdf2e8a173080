import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { Queryable, Sql } from '../db/client.ts';
import { deriveKey } from '../secrets/master-key.ts';
import { canonicalJson } from './canonical-json.ts';

/** What a checkpoint vouches for: "the chain had `head_hash` at `head_id`" as of `at`. */
export interface Checkpoint {
  head_id: string;
  head_hash: string;
  /** ISO 8601 with milliseconds, UTC: exactly the text that was signed. */
  at: string;
  /** Ed25519 over checkpointMessage(), base64url. */
  signature: string;
}

export interface CheckpointKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** For whoever checks checkpoints outside the platform. */
  published: { alg: 'Ed25519'; jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string }; message: string };
}

/** PKCS#8 DER of an Ed25519 private key, up to the 32-byte seed (RFC 8410): how node imports a raw seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Serializes checkpoint writers (the cron job and `boxoffice audit checkpoint`). */
const CHECKPOINT_LOCK_KEY = 0x61_75_64_69_75;

const keys = new WeakMap<Buffer, CheckpointKey>();

/**
 * The checkpoint signing key: an Ed25519 key whose seed is deriveKey(master, 'audit-checkpoints').
 * Nothing about it is in the database, so an attacker there cannot sign a checkpoint.
 */
export function checkpointKey(masterKey: Buffer): CheckpointKey {
  let key = keys.get(masterKey);
  if (!key) {
    const seed = deriveKey(masterKey, 'audit-checkpoints', 32);
    const privateKey = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const publicKey = createPublicKey(privateKey);
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
    key = {
      privateKey,
      publicKey,
      published: {
        alg: 'Ed25519',
        jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
        message: 'RFC 8785 canonical JSON of {"at","head_hash","head_id"} (head_id as a string), UTF-8',
      },
    };
    keys.set(masterKey, key);
  }
  return key;
}

/** The bytes a checkpoint's signature covers. */
export function checkpointMessage(checkpoint: Pick<Checkpoint, 'head_id' | 'head_hash' | 'at'>): Buffer {
  return Buffer.from(
    canonicalJson({ head_id: checkpoint.head_id, head_hash: checkpoint.head_hash, at: checkpoint.at }),
    'utf8',
  );
}

export function signCheckpoint(key: CheckpointKey, checkpoint: Omit<Checkpoint, 'signature'>): string {
  return sign(null, checkpointMessage(checkpoint), key.privateKey).toString('base64url');
}

export function checkpointSignatureValid(key: CheckpointKey, checkpoint: Checkpoint): boolean {
  try {
    return verify(
      null,
      checkpointMessage(checkpoint),
      key.publicKey,
      Buffer.from(checkpoint.signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

export type CheckpointOutcome =
  | { written: true; checkpoint: Checkpoint }
  | { written: false; reason: 'empty' | 'unchanged' | 'too-soon' | 'busy'; last?: Checkpoint | undefined };

/**
 * Signs the current head into audit_checkpoints when the chain grew since the last checkpoint
 * (and, with `minIntervalMinutes`, when that checkpoint is at least that old). One writer at a
 * time: a second one at the same moment finds the lock taken and does nothing.
 */
export async function writeCheckpoint(
  sql: Sql,
  masterKey: Buffer,
  options: { minIntervalMinutes?: number } = {},
): Promise<CheckpointOutcome> {
  const key = checkpointKey(masterKey);
  return sql.begin(async (tx) => {
    const [lock] = await tx<
      { locked: boolean }[]
    >`select pg_try_advisory_xact_lock(${CHECKPOINT_LOCK_KEY}) as locked`;
    if (!lock?.locked) return { written: false, reason: 'busy' } as const;
    const last = await lastCheckpoint(tx);
    const [head] = await tx<{ id: string; hash: string; now: Date }[]>`
      select id, hash, date_trunc('milliseconds', clock_timestamp()) as now
      from audit_log order by id desc limit 1`;
    if (!head) return { written: false, reason: 'empty', last } as const;
    if (last && BigInt(last.head_id) >= BigInt(head.id))
      return { written: false, reason: 'unchanged', last } as const;
    if (
      last &&
      options.minIntervalMinutes !== undefined &&
      head.now.getTime() - Date.parse(last.at) < options.minIntervalMinutes * 60_000
    ) {
      return { written: false, reason: 'too-soon', last } as const;
    }
    const unsigned = { head_id: String(head.id), head_hash: head.hash, at: head.now.toISOString() };
    const checkpoint: Checkpoint = { ...unsigned, signature: signCheckpoint(key, unsigned) };
    await tx`
      insert into audit_checkpoints (head_id, head_hash, at, signature)
      values (${checkpoint.head_id}, ${checkpoint.head_hash}, ${checkpoint.at}, ${checkpoint.signature})`;
    return { written: true, checkpoint } as const;
  });
}

interface CheckpointRow {
  head_id: string;
  head_hash: string;
  at: Date;
  signature: string;
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    head_id: String(row.head_id),
    head_hash: row.head_hash,
    at: row.at.toISOString(),
    signature: row.signature,
  };
}

export async function lastCheckpoint(sql: Queryable): Promise<Checkpoint | undefined> {
  const [row] = await sql<CheckpointRow[]>`
    select head_id, head_hash, at, signature from audit_checkpoints order by head_id desc limit 1`;
  return row ? toCheckpoint(row) : undefined;
}

/** Checkpoints in head_id order, a page at a time (for verify and for GET /api/audit/checkpoints). */
export async function checkpointsAfter(
  sql: Queryable,
  afterHeadId: string,
  limit: number,
): Promise<Checkpoint[]> {
  const rows = await sql<CheckpointRow[]>`
    select head_id, head_hash, at, signature from audit_checkpoints
    where head_id > ${afterHeadId} order by head_id limit ${limit}`;
  return rows.map(toCheckpoint);
}
