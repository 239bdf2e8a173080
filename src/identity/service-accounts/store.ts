import type { ServiceRole } from '../../platform/auth/permissions.ts';
import type { Queryable } from '../../platform/db/client.ts';
import type { ServiceAccountState } from './directory.ts';

/** One statement per function; the service owns the transactions. Only this file reads service_accounts. */

export interface ServiceAccountRow {
  id: string;
  clientId: string;
  name: string;
  description: string | null;
  role: ServiceRole;
  status: 'active' | 'disabled';
  version: number;
  rateLimitPerMinute: number | null;
  rateLimitBurst: number | null;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
}

const columns = (db: Queryable) => db`
  id::text, client_id as "clientId", name, description, role, status, version::int,
  rate_limit_per_minute as "rateLimitPerMinute", rate_limit_burst as "rateLimitBurst",
  created_at as "createdAt", updated_at as "updatedAt", last_used_at as "lastUsedAt"`;

export function toState(row: ServiceAccountRow): ServiceAccountState {
  const state: ServiceAccountState = {
    id: row.id,
    clientId: row.clientId,
    name: row.name,
    role: row.role,
    status: row.status,
    version: row.version,
  };
  if (row.rateLimitPerMinute !== null && row.rateLimitBurst !== null) {
    state.rateLimit = { perMinute: row.rateLimitPerMinute, burst: row.rateLimitBurst };
  }
  return state;
}

export async function findAccountById(db: Queryable, id: string): Promise<ServiceAccountState | undefined> {
  const row = await getAccount(db, id);
  return row && toState(row);
}

export async function getAccount(
  db: Queryable,
  id: string,
  lock = false,
): Promise<ServiceAccountRow | undefined> {
  const [row] = await db<ServiceAccountRow[]>`
    select ${columns(db)} from service_accounts
    where id = ${id} and deleted_at is null ${lock ? db`for update` : db``}`;
  return row;
}

export async function findCredentialsByClientId(
  db: Queryable,
  clientId: string,
): Promise<{ state: ServiceAccountState; secretHash: Buffer } | undefined> {
  if (clientId.length > 64) return undefined;
  const [row] = await db<(ServiceAccountRow & { secretHash: Buffer })[]>`
    select ${columns(db)}, secret_hash as "secretHash" from service_accounts
    where client_id = ${clientId} and deleted_at is null`;
  return row && { state: toState(row), secretHash: row.secretHash };
}

export async function listAccounts(
  db: Queryable,
  page: { limit: number; offset: number },
): Promise<{ rows: ServiceAccountRow[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    db<ServiceAccountRow[]>`
      select ${columns(db)} from service_accounts where deleted_at is null
      order by id limit ${page.limit} offset ${page.offset}`,
    db<{ total: number }[]>`select count(*)::int as total from service_accounts where deleted_at is null`,
  ]);
  return { rows, total: count!.total };
}

export interface NewAccount {
  clientId: string;
  name: string;
  description: string | null;
  role: ServiceRole;
  secretHash: Buffer;
  rateLimit: { perMinute: number; burst: number } | null;
}

/** undefined when the name is taken (among accounts not deleted). */
export async function insertAccount(
  db: Queryable,
  account: NewAccount,
): Promise<ServiceAccountRow | undefined> {
  const [row] = await db<ServiceAccountRow[]>`
    insert into service_accounts
      (client_id, name, description, role, secret_hash, rate_limit_per_minute, rate_limit_burst)
    values (${account.clientId}, ${account.name}, ${account.description}, ${account.role},
      ${account.secretHash}, ${account.rateLimit?.perMinute ?? null}, ${account.rateLimit?.burst ?? null})
    on conflict (lower(name)) where deleted_at is null do nothing
    returning ${columns(db)}`;
  return row;
}

export interface AccountChange {
  role?: ServiceRole;
  status?: 'active' | 'disabled';
  rateLimit?: { perMinute: number; burst: number } | null;
  description?: string | null;
  secretHash?: Buffer;
  /** Role, status, rate limit or secret changed: tokens issued before must stop working. */
  bumpVersion: boolean;
}

export async function updateAccount(
  db: Queryable,
  id: string,
  change: AccountChange,
): Promise<ServiceAccountRow> {
  const setLimit = change.rateLimit !== undefined;
  const [row] = await db<ServiceAccountRow[]>`
    update service_accounts set
      role = coalesce(${change.role ?? null}::text, role),
      status = coalesce(${change.status ?? null}::text, status),
      secret_hash = coalesce(${change.secretHash ?? null}::bytea, secret_hash),
      description = case when ${change.description !== undefined}::boolean
        then ${change.description ?? null}::text else description end,
      rate_limit_per_minute = case when ${setLimit}::boolean
        then ${change.rateLimit?.perMinute ?? null}::integer else rate_limit_per_minute end,
      rate_limit_burst = case when ${setLimit}::boolean
        then ${change.rateLimit?.burst ?? null}::integer else rate_limit_burst end,
      version = version + ${change.bumpVersion ? 1 : 0},
      updated_at = now()
    where id = ${id} and deleted_at is null
    returning ${columns(db)}`;
  return row!;
}

/** Soft delete: the row stays for the audit log's references; the secret is gone for good. */
export async function markDeleted(db: Queryable, id: string): Promise<void> {
  await db`
    update service_accounts
    set deleted_at = now(), updated_at = now(), secret_hash = null, status = 'disabled', version = version + 1
    where id = ${id} and deleted_at is null`;
}

/** Active ADMIN accounts other than `id`: the last one may not be disabled, demoted or deleted. */
export async function countOtherActiveAdmins(db: Queryable, id: string): Promise<number> {
  const [row] = await db<{ count: number }[]>`
    select count(*)::int as count from service_accounts
    where role = 'ADMIN' and status = 'active' and deleted_at is null and id <> ${id}`;
  return row!.count;
}

/** Serializes changes that could remove the last active ADMIN (two admins disabling each other at once). */
export async function lockAdminSet(db: Queryable): Promise<void> {
  await db`select pg_advisory_xact_lock(hashtext('identity.service_accounts.admins'))`;
}

/** At most once a minute per account: a token request must not turn into a write each time. */
export async function touchLastUsed(db: Queryable, id: string): Promise<void> {
  await db`
    update service_accounts set last_used_at = now()
    where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`;
}
