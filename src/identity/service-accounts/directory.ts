import type { ServiceRole } from '../../platform/auth/permissions.ts';
import type { Platform } from '../../platform/context.ts';
import type { Queryable } from '../../platform/db/client.ts';
import { matchesSecret } from './secrets.ts';
import { findAccountById, findCredentialsByClientId, touchLastUsed } from './store.ts';

/** What the rest of identity (the token endpoint, the Bearer authenticator) knows about a service account. */
export interface ServiceAccountState {
  id: string;
  clientId: string;
  name: string;
  role: ServiceRole;
  status: 'active' | 'disabled';
  /** Increases on every change of role, status, rate limit or secret (tokens carry it as `sav`). */
  version: number;
  /** The account's own budget; undefined = RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST. */
  rateLimit?: { perMinute: number; burst: number };
}

/** The channel every mutation notifies (payload: the account id) and every API process listens on. */
export const CHANGES_CHANNEL = 'identity_service_accounts';

/**
 * Even with LISTEN/NOTIFY a copy is reloaded after this long: a safety net for a notification lost
 * while the listener was between a dropped connection and its reconnect.
 */
const SAFETY_TTL_MS = 30_000;

export interface ServiceAccountDirectory {
  get(id: string): Promise<ServiceAccountState | undefined>;
  /** Drops this process's copy now (the NOTIFY does it too, a moment later, on every process). */
  evict(id: string): void;
}

interface Entry {
  state: ServiceAccountState | undefined;
  loadedAt: number;
}

/**
 * Per process, cached; every process drops its copy at once when an account changes (LISTEN/NOTIFY
 * on PostgreSQL). One per platform, so every part of identity shares the same copies.
 */
export function serviceAccountDirectory(platform: Platform): ServiceAccountDirectory {
  let directory = directories.get(platform);
  if (!directory) {
    directory = createDirectory(platform);
    directories.set(platform, directory);
  }
  return directory;
}

const directories = new WeakMap<Platform, ServiceAccountDirectory>();

function createDirectory(platform: Platform): ServiceAccountDirectory {
  const { db, logger } = platform;
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<ServiceAccountState | undefined>>();
  // Bumped by every eviction: a load that started before one must not store what it read.
  let epoch = 0;
  let listening = false;

  const evict = (id: string) => {
    epoch++;
    entries.delete(id);
    loading.delete(id);
  };
  const evictAll = () => {
    epoch++;
    entries.clear();
    loading.clear();
  };

  // postgres.js re-LISTENs after a lost connection and calls onlisten again: whatever was
  // notified meanwhile is lost, so every copy goes.
  const ready = db
    .listen(
      CHANGES_CHANNEL,
      (payload) => (payload ? evict(payload) : evictAll()),
      () => {
        listening = true;
        evictAll();
      },
    )
    .then(
      () => undefined,
      (error: unknown) => {
        // Without the listener nothing may be cached: every get reads the database.
        logger.error({ err: error }, 'service account directory: LISTEN failed; not caching');
      },
    );

  async function load(id: string): Promise<ServiceAccountState | undefined> {
    const startedAt = epoch;
    const state = await findAccountById(db, id);
    if (listening && startedAt === epoch) entries.set(id, { state, loadedAt: Date.now() });
    return state;
  }

  return {
    evict,
    async get(id) {
      if (!isAccountId(id)) return undefined;
      await ready;
      const entry = entries.get(id);
      if (entry && Date.now() - entry.loadedAt < SAFETY_TTL_MS) return entry.state;
      let pending = loading.get(id);
      if (!pending) {
        pending = load(id).finally(() => loading.delete(id));
        loading.set(id, pending);
      }
      return pending;
    },
  };
}

/** Ids are bigints; anything else (a forged `sub`) is unknown without a query that would fail. */
export function isAccountId(id: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= 9223372036854775807n;
}

/**
 * undefined = invalid_client: unknown client_id, wrong secret (constant-time compare of keyed hashes),
 * or disabled. Always reads the database (one indexed row), never a cache, so a secret rotated or an
 * account disabled on another process is refused here at once.
 */
export async function authenticateClient(
  platform: Platform,
  clientId: string,
  clientSecret: string,
): Promise<ServiceAccountState | undefined> {
  const found = await findCredentialsByClientId(platform.db, clientId);
  // An unknown client_id costs the same hash and compare as a known one.
  const matches = await matchesSecret(platform.config, clientSecret, found?.secretHash);
  if (!found || !matches || found.state.status !== 'active') return undefined;
  touchLastUsed(platform.db, found.state.id).catch((error) =>
    platform.logger.warn({ err: error, serviceAccountId: found.state.id }, 'last_used_at update failed'),
  );
  return found.state;
}

/**
 * After a change committed through `owner` (a Platform; the CLI has none): its own directory drops the
 * copy before the change's answer goes out, so the caller's next request already sees it. Other
 * processes follow when the NOTIFY arrives, within milliseconds.
 */
export function evictLocally(owner: object, id: string): void {
  directories.get(owner as Platform)?.evict(id);
}

/** Called in the transaction of every change: delivered to every listener when it commits. */
export async function notifyChanged(tx: Queryable, id: string): Promise<void> {
  await tx`select pg_notify(${CHANGES_CHANNEL}, ${id})`;
}
