import { type AuditEntryInput, appendAudit } from '../../platform/audit/index.ts';
import type { Sql, Tx } from '../../platform/db/client.ts';
import { AppError } from '../../platform/http/errors.ts';
import { encryptPrivateKey, type KeyEncryption, newKeyPair } from './key-crypto.ts';
import {
  activateSigningKey,
  deleteSigningKeys,
  insertSigningKey,
  listSigningKeys,
  lockSigningKeys,
  notifyKeysChanged,
  retireSigningKey,
  type SigningKeyRow,
} from './key-store.ts';

/**
 * The life of a signing key (docs/identity.md, "Tokens, keys and rotation"):
 *
 *   next (published, not signing) ──rotation──▶ current (signing) ──rotation──▶ retired ──grace──▶ deleted
 *
 * A rotation promotes `next` only once it has been in the JWKS for a verifier's cache age
 * (IDENTITY_JWKS_MAX_AGE_SECONDS), so no verifier meets a kid it has not had the chance to fetch; the old
 * current key stays published until the last token it signed has expired plus IDENTITY_KEY_GRACE_SECONDS.
 * Every change runs in one transaction under an advisory lock, so any number of processes (the cron job,
 * a manual rotation, first use) never make two current keys or lose one.
 */

export interface KeySettings {
  IDENTITY_TOKEN_TTL_SECONDS: number;
  IDENTITY_KEY_GRACE_SECONDS: number;
  IDENTITY_JWKS_MAX_AGE_SECONDS: number;
  IDENTITY_KEY_ROTATION_HOURS: number;
}

/** Until when a key must stay in the JWKS: retired_at + the lifetime of its last token + the grace period. */
export function publishedUntil(key: Pick<SigningKeyRow, 'retiredAt'>, settings: KeySettings): number {
  if (!key.retiredAt) return Number.POSITIVE_INFINITY;
  return (
    key.retiredAt.getTime() +
    (settings.IDENTITY_TOKEN_TTL_SECONDS + settings.IDENTITY_KEY_GRACE_SECONDS) * 1000
  );
}

export function isPublished(key: SigningKeyRow, settings: KeySettings, now: number): boolean {
  return now < publishedUntil(key, settings);
}

export class RotationTooEarlyError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      'KEY_ROTATION_TOO_EARLY',
      409,
      `The next signing key has not been published for IDENTITY_JWKS_MAX_AGE_SECONDS yet: verifiers may not ` +
        `have fetched it. Retry in ${retryAfterSeconds} s, or rotate with immediate: true (docs/identity.md).`,
      { retry_after_seconds: retryAfterSeconds },
    );
  }
}

export interface KeyContext {
  db: Sql;
  settings: KeySettings;
  encryption: KeyEncryption;
  /** The clock's now, in ms. */
  now: number;
}

export interface RotationResult {
  current: string;
  next: string;
  retired: { kid: string; publishedUntil: string } | null;
  /** Retired keys whose grace period had passed, deleted by this change. */
  removed: string[];
  immediate: boolean;
}

async function newKey(tx: Tx, context: KeyContext, state: 'next' | 'current', at: Date): Promise<string> {
  const pair = await newKeyPair();
  await insertSigningKey(tx, {
    kid: pair.kid,
    state,
    publicJwk: pair.publicJwk,
    privateKeyEncrypted: encryptPrivateKey(context.encryption, pair.kid, pair.pkcs8),
    encryptionKeyCheck: context.encryption.check,
    at,
  });
  return pair.kid;
}

/**
 * First use: a current and a next key, made by exactly one process (the others wait on the lock and find
 * them). Cheap when they exist: one read, no lock.
 */
export async function ensureSigningKeys(context: KeyContext): Promise<SigningKeyRow[]> {
  const rows = await listSigningKeys(context.db);
  if (rows.some((k) => k.state === 'current') && rows.some((k) => k.state === 'next')) return rows;
  return context.db.begin(async (tx) => {
    await lockSigningKeys(tx);
    const locked = await listSigningKeys(tx);
    const at = new Date(context.now);
    let current = locked.find((k) => k.state === 'current')?.kid;
    const hadCurrent = current !== undefined;
    if (!current) current = await newKey(tx, context, 'current', at);
    const next = locked.find((k) => k.state === 'next')?.kid ?? (await newKey(tx, context, 'next', at));
    await notifyKeysChanged(tx, current);
    await appendAudit(tx, {
      actorType: 'system',
      actorId: null,
      action: 'keys.create',
      resource: `signing_key:${current}`,
      result: 'success',
      metadata: { current, next, created: hadCurrent ? ['next'] : ['current', 'next'] },
    });
    return listSigningKeys(tx);
  });
}

type Actor = Pick<AuditEntryInput, 'actorType' | 'actorId'>;

export interface RotateOptions {
  actor: Actor;
  trigger: 'scheduled' | 'manual';
  /** Promote a next key however recently published (incidents); verifiers with a cached JWKS meet an unknown kid. */
  immediate: boolean;
  reason?: string;
}

/** Retire current, promote next, publish a new next, delete keys whose grace passed; audited. */
export async function rotateSigningKeys(
  context: KeyContext,
  options: RotateOptions,
): Promise<RotationResult> {
  return context.db.begin(async (tx) => {
    await lockSigningKeys(tx);
    return rotateLocked(tx, context, options);
  });
}

async function rotateLocked(tx: Tx, context: KeyContext, options: RotateOptions): Promise<RotationResult> {
  const { settings, now } = context;
  const at = new Date(now);
  const keys = await listSigningKeys(tx);
  const current = keys.find((k) => k.state === 'current');
  let next = keys.find((k) => k.state === 'next');
  const removed: string[] = [];

  // A next key this process cannot decrypt (another MASTER_KEY) never signed anything: replace it.
  if (next && next.encryptionKeyCheck !== context.encryption.check) {
    removed.push(next.kid);
    await deleteSigningKeys(tx, [next.kid]);
    next = undefined;
  }
  let nextKid = next?.kid;
  if (!nextKid) {
    if (!options.immediate) throw new RotationTooEarlyError(settings.IDENTITY_JWKS_MAX_AGE_SECONDS);
    nextKid = await newKey(tx, context, 'next', at);
  } else if (!options.immediate) {
    const publishedForMs = now - next!.publishedAt.getTime();
    const neededMs = settings.IDENTITY_JWKS_MAX_AGE_SECONDS * 1000;
    if (publishedForMs < neededMs)
      throw new RotationTooEarlyError(Math.ceil((neededMs - publishedForMs) / 1000));
  }

  if (current) await retireSigningKey(tx, current.kid, at);
  await activateSigningKey(tx, nextKid, at);
  const newNext = await newKey(tx, context, 'next', at);

  const expired = keys
    .filter((k) => k.state === 'retired' && !isPublished(k, settings, now))
    .map((k) => k.kid);
  await deleteSigningKeys(tx, expired);
  removed.push(...expired);

  const result: RotationResult = {
    current: nextKid,
    next: newNext,
    retired: current
      ? {
          kid: current.kid,
          publishedUntil: new Date(publishedUntil({ retiredAt: at }, settings)).toISOString(),
        }
      : null,
    removed,
    immediate: options.immediate,
  };
  await notifyKeysChanged(tx, nextKid);
  await appendAudit(tx, {
    ...options.actor,
    action: 'keys.rotate',
    resource: `signing_key:${nextKid}`,
    result: 'success',
    ...(options.reason ? { reason: options.reason } : {}),
    metadata: {
      trigger: options.trigger,
      immediate: options.immediate,
      current: result.current,
      next: result.next,
      retired: result.retired?.kid ?? null,
      retired_published_until: result.retired?.publishedUntil ?? null,
      removed,
    },
  });
  return result;
}

export type ScheduledOutcome =
  | { outcome: 'rotated'; rotation: RotationResult }
  | { outcome: 'not_due' | 'waiting_for_next'; removed: string[] };

/**
 * The cron job's step: rotate when the current key has signed for IDENTITY_KEY_ROTATION_HOURS (and the next
 * one has been published long enough), and drop retired keys whose grace has passed. Idempotent: the job
 * may run every few minutes on any worker; the lock makes concurrent runs take turns.
 */
export async function rotateIfDue(context: KeyContext): Promise<ScheduledOutcome> {
  await ensureSigningKeys(context);
  return context.db.begin(async (tx): Promise<ScheduledOutcome> => {
    await lockSigningKeys(tx);
    const { settings, now } = context;
    const keys = await listSigningKeys(tx);
    const current = keys.find((k) => k.state === 'current');
    const dueAt = (current?.activatedAt?.getTime() ?? 0) + settings.IDENTITY_KEY_ROTATION_HOURS * 3_600_000;
    if (now >= dueAt) {
      try {
        const rotation = await tx.savepoint((sp) =>
          rotateLocked(sp as unknown as Tx, context, {
            actor: { actorType: 'system', actorId: null },
            trigger: 'scheduled',
            immediate: false,
          }),
        );
        return { outcome: 'rotated', rotation };
      } catch (error) {
        if (!(error instanceof RotationTooEarlyError)) throw error;
      }
    }
    const expired = keys
      .filter((k) => k.state === 'retired' && !isPublished(k, settings, now))
      .map((k) => k.kid);
    if (expired.length > 0) {
      await deleteSigningKeys(tx, expired);
      await notifyKeysChanged(tx, current?.kid ?? '');
      await appendAudit(tx, {
        actorType: 'system',
        actorId: null,
        action: 'keys.remove',
        resource: `signing_key:${expired.join(',')}`,
        result: 'success',
        reason: 'grace period after the last token it signed has passed',
        metadata: { removed: expired },
      });
    }
    return { outcome: now >= dueAt ? 'waiting_for_next' : 'not_due', removed: expired };
  });
}

export interface KeyDescription {
  kid: string;
  state: SigningKeyRow['state'];
  published_at: string;
  activated_at: string | null;
  retired_at: string | null;
  /** null while the key is next or current. */
  published_until: string | null;
  in_jwks: boolean;
}

/** What `boxoffice keys list` shows: every stored key, never a private half. */
export async function describeSigningKeys(
  context: Omit<KeyContext, 'encryption'>,
): Promise<KeyDescription[]> {
  const rows = await listSigningKeys(context.db);
  return rows.map((row) => {
    const until = publishedUntil(row, context.settings);
    return {
      kid: row.kid,
      state: row.state,
      published_at: row.publishedAt.toISOString(),
      activated_at: row.activatedAt?.toISOString() ?? null,
      retired_at: row.retiredAt?.toISOString() ?? null,
      published_until: Number.isFinite(until) ? new Date(until).toISOString() : null,
      in_jwks: isPublished(row, context.settings, context.now),
    };
  });
}
