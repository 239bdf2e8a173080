import type { Config } from '../../config.ts';
import { type AuditEntryInput, appendAudit } from '../../platform/audit/index.ts';
import { SERVICE_ROLES, type ServiceRole } from '../../platform/auth/permissions.ts';
import type { Sql, Tx } from '../../platform/db/client.ts';
import { textProblem } from '../../platform/storable-text.ts';
import { evictLocally, isAccountId, notifyChanged } from './directory.ts';
import { ServiceAccountErrors } from './errors.ts';
import { hashSecret, newClientId, newSecret, secretHashKey } from './secrets.ts';
import type { ServiceAccountRow } from './store.ts';
import * as store from './store.ts';

/**
 * The use cases of service accounts, shared by the API and the CLI: each change runs in one
 * transaction with its audit entry and its NOTIFY (so every process's directory drops its copy
 * when, and only if, the change commits).
 */

/** What the API (a Platform) and the CLI (a bare database) both have. */
export interface ServiceAccountsContext {
  db: Sql;
  config: Pick<Config, 'MASTER_KEY' | 'NODE_ENV' | 'DATA_DIR'>;
}

export type Actor = Pick<AuditEntryInput, 'actorType' | 'actorId'>;
export type RateLimitInput = { perMinute: number; burst: number };

export interface CreateInput {
  name: string;
  role: string;
  description?: string | null;
  rateLimit?: RateLimitInput | null;
}

export interface ChangeInput {
  role?: string;
  status?: string;
  description?: string | null;
  /** null: back to the configured default. */
  rateLimit?: RateLimitInput | null;
}

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._ -]*$';
export const NAME_MAX = 100;
export const DESCRIPTION_MAX = 500;
export const RATE_MAX = 10_000_000;

const resource = (id: string) => `service_account:${id}`;

export async function createServiceAccount(
  context: ServiceAccountsContext,
  input: CreateInput,
  actor: Actor,
): Promise<{ account: ServiceAccountRow; clientSecret: string }> {
  const name = checkName(input.name);
  const role = checkRole(input.role);
  const description = checkDescription(input.description ?? null);
  const rateLimit = input.rateLimit ? checkRateLimit(input.rateLimit) : null;
  const key = await secretHashKey(context.config);
  const clientSecret = newSecret();
  const account = await context.db.begin(async (tx) => {
    const created = await store.insertAccount(tx, {
      clientId: newClientId(),
      name,
      description,
      role,
      secretHash: hashSecret(key, clientSecret),
      rateLimit,
    });
    if (!created) throw ServiceAccountErrors.nameTaken(name);
    await notifyChanged(tx, created.id);
    await appendAudit(tx, {
      ...actor,
      action: 'service_account.create',
      resource: resource(created.id),
      result: 'success',
      metadata: { name, role, client_id: created.clientId, rate_limit: rateLimit },
    });
    return created;
  });
  evictLocally(context, account.id);
  return { account, clientSecret };
}

export async function getServiceAccount(
  context: ServiceAccountsContext,
  id: string,
): Promise<ServiceAccountRow> {
  const account = isAccountId(id) ? await store.getAccount(context.db, id) : undefined;
  if (!account) throw ServiceAccountErrors.notFound(id);
  return account;
}

export async function listServiceAccounts(
  context: ServiceAccountsContext,
  page: { page: number; pageSize: number },
): Promise<{ rows: ServiceAccountRow[]; total: number }> {
  return store.listAccounts(context.db, { limit: page.pageSize, offset: (page.page - 1) * page.pageSize });
}

export async function changeServiceAccount(
  context: ServiceAccountsContext,
  id: string,
  input: ChangeInput,
  actor: Actor,
): Promise<ServiceAccountRow> {
  const role = input.role === undefined ? undefined : checkRole(input.role);
  const status = input.status === undefined ? undefined : checkStatus(input.status);
  const description = input.description === undefined ? undefined : checkDescription(input.description);
  const rateLimit =
    input.rateLimit === undefined ? undefined : input.rateLimit && checkRateLimit(input.rateLimit);
  if (role === undefined && status === undefined && description === undefined && rateLimit === undefined) {
    throw ServiceAccountErrors.invalid('nothing to change: give role, status, description or rate_limit');
  }
  return inAccountTransaction(context, id, async (tx, before) => {
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (role !== undefined && role !== before.role) changes.role = { from: before.role, to: role };
    if (status !== undefined && status !== before.status)
      changes.status = { from: before.status, to: status };
    const beforeLimit = limitOf(before);
    if (rateLimit !== undefined && !sameLimit(beforeLimit, rateLimit)) {
      changes.rate_limit = { from: beforeLimit, to: rateLimit };
    }
    const describedAnew = description !== undefined && description !== before.description;
    if (changes.role || changes.status) {
      const stillAdmin = (role ?? before.role) === 'ADMIN' && (status ?? before.status) === 'active';
      if (isActiveAdmin(before) && !stillAdmin) {
        await assertNotLastAdmin(tx, id, changes.role ? 'demoting' : 'disabling');
      }
    }
    const bumpVersion = Object.keys(changes).length > 0;
    const after = await store.updateAccount(tx, id, {
      ...(changes.role ? { role } : {}),
      ...(changes.status ? { status } : {}),
      ...(changes.rate_limit ? { rateLimit } : {}),
      ...(describedAnew ? { description } : {}),
      bumpVersion,
    });
    if (bumpVersion) await notifyChanged(tx, id);
    await appendAudit(tx, {
      ...actor,
      action: 'service_account.update',
      resource: resource(id),
      result: 'success',
      metadata: { changes, ...(describedAnew ? { description_changed: true } : {}), version: after.version },
    });
    return after;
  });
}

/** A new secret; the old one stops working when this commits (every process reads secrets from the database). */
export async function rotateServiceAccountSecret(
  context: ServiceAccountsContext,
  id: string,
  actor: Actor,
): Promise<{ account: ServiceAccountRow; clientSecret: string }> {
  const key = await secretHashKey(context.config);
  const clientSecret = newSecret();
  const account = await inAccountTransaction(context, id, async (tx) => {
    const after = await store.updateAccount(tx, id, {
      secretHash: hashSecret(key, clientSecret),
      bumpVersion: true,
    });
    await notifyChanged(tx, id);
    await appendAudit(tx, {
      ...actor,
      action: 'service_account.rotate_secret',
      resource: resource(id),
      result: 'success',
      metadata: { version: after.version },
    });
    return after;
  });
  return { account, clientSecret };
}

export async function deleteServiceAccount(
  context: ServiceAccountsContext,
  id: string,
  actor: Actor,
): Promise<void> {
  await inAccountTransaction(context, id, async (tx, before) => {
    if (isActiveAdmin(before)) await assertNotLastAdmin(tx, id, 'deleting');
    await store.markDeleted(tx, id);
    await notifyChanged(tx, id);
    await appendAudit(tx, {
      ...actor,
      action: 'service_account.delete',
      resource: resource(id),
      result: 'success',
      metadata: { name: before.name, client_id: before.clientId, role: before.role },
    });
  });
}

/**
 * Locks the admin set first, then the row: every change that could remove the last active ADMIN
 * queues on the same lock, so two admins disabling each other at once cannot both succeed.
 */
async function inAccountTransaction<T>(
  context: ServiceAccountsContext,
  id: string,
  work: (tx: Tx, before: ServiceAccountRow) => Promise<T>,
): Promise<T> {
  if (!isAccountId(id)) throw ServiceAccountErrors.notFound(id);
  const result = (await context.db.begin(async (tx) => {
    await store.lockAdminSet(tx);
    const before = await store.getAccount(tx, id, true);
    if (!before) throw ServiceAccountErrors.notFound(id);
    return work(tx, before);
  })) as T;
  evictLocally(context, id);
  return result;
}

async function assertNotLastAdmin(tx: Tx, id: string, what: string): Promise<void> {
  if ((await store.countOtherActiveAdmins(tx, id)) === 0) throw ServiceAccountErrors.lastAdmin(id, what);
}

const isActiveAdmin = (row: ServiceAccountRow) => row.role === 'ADMIN' && row.status === 'active';

function limitOf(row: ServiceAccountRow): RateLimitInput | null {
  return row.rateLimitPerMinute !== null && row.rateLimitBurst !== null
    ? { perMinute: row.rateLimitPerMinute, burst: row.rateLimitBurst }
    : null;
}

const sameLimit = (a: RateLimitInput | null, b: RateLimitInput | null) =>
  a === b || (a !== null && b !== null && a.perMinute === b.perMinute && a.burst === b.burst);

function checkName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length < 1 ||
    name.length > NAME_MAX ||
    !new RegExp(NAME_PATTERN).test(name)
  ) {
    throw ServiceAccountErrors.invalid(
      `name must be 1 to ${NAME_MAX} characters: letters, digits, '.', '_', '-' or spaces, starting with a letter or digit`,
    );
  }
  return name;
}

function checkRole(role: unknown): ServiceRole {
  if (!(SERVICE_ROLES as readonly unknown[]).includes(role)) {
    throw ServiceAccountErrors.invalid(`role must be one of ${SERVICE_ROLES.join(', ')}`);
  }
  return role as ServiceRole;
}

function checkStatus(status: unknown): 'active' | 'disabled' {
  if (status !== 'active' && status !== 'disabled') {
    throw ServiceAccountErrors.invalid('status must be "active" or "disabled"');
  }
  return status;
}

function checkDescription(description: unknown): string | null {
  if (description === null) return null;
  if (typeof description !== 'string' || description.length > DESCRIPTION_MAX) {
    throw ServiceAccountErrors.invalid(`description must be text of at most ${DESCRIPTION_MAX} characters`);
  }
  const problem = textProblem(description);
  if (problem) throw ServiceAccountErrors.invalid(`description ${problem}`);
  return description;
}

function checkRateLimit(limit: RateLimitInput): RateLimitInput {
  const whole = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= RATE_MAX;
  if (!whole(limit.perMinute) || !whole(limit.burst)) {
    throw ServiceAccountErrors.invalid(
      `rate_limit needs per_minute and burst, whole numbers from 1 to ${RATE_MAX}`,
    );
  }
  return { perMinute: limit.perMinute, burst: limit.burst };
}
