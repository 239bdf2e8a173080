import { randomBytes } from 'node:crypto';
import { type AuditEntryInput, appendAudit } from '../../platform/audit/index.ts';
import type { StaffRole } from '../../platform/auth/permissions.ts';
import type { Queryable, Sql } from '../../platform/db/client.ts';
import { AppError } from '../../platform/http/errors.ts';
import { hashPassword } from '../passwords.ts';
import {
  deleteStaff,
  findStaff,
  insertStaff,
  lockActiveAdmins,
  revokeSession,
  revokeSessionByHandle,
  revokeSessionsOf,
  type StaffRow,
  type StaffStatus,
  updateStaff,
} from './store.ts';

/** Who does it, as the audit log records it: a principal (auditFromPrincipal) or the CLI ('system'). */
export type Actor = Pick<AuditEntryInput, 'actorType' | 'actorId'>;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** 18 random bytes, base64url: 24 characters, 144 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length < 3 || normalized.length > 254 || !EMAIL.test(normalized)) {
    throw new AppError('VALIDATION_FAILED', 400, 'email must look like name@domain (at most 254 characters)');
  }
  return normalized;
}

export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new AppError(
      'VALIDATION_FAILED',
      400,
      `password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long`,
    );
  }
}

const notFound = (id: string) => new AppError('STAFF_NOT_FOUND', 404, `No staff member ${id}`);

/** `password` is the generated one, present only when none was given: shown this once, stored hashed. */
export async function createStaffMember(
  db: Sql,
  actor: Actor,
  input: { email: string; role: StaffRole; password?: string | undefined },
): Promise<{ staff: StaffRow; password?: string }> {
  const email = normalizeEmail(input.email);
  if (input.password !== undefined) checkPassword(input.password);
  const password = input.password ?? generatePassword();
  const passwordHash = await hashPassword(password);
  const staff = await db.begin(async (tx) => {
    const row = await insertStaff(tx, { email, role: input.role, passwordHash });
    if (!row)
      throw new AppError('STAFF_EXISTS', 409, `A staff member with the email ${email} exists already`);
    await appendAudit(tx, {
      ...actor,
      action: 'staff.create',
      resource: `staff:${row.id}`,
      result: 'success',
      metadata: { email, role: row.role, password: input.password === undefined ? 'generated' : 'given' },
    });
    return row;
  });
  return input.password === undefined ? { staff, password } : { staff };
}

export interface StaffChange {
  role?: StaffRole | undefined;
  status?: StaffStatus | undefined;
  password?: string | undefined;
}

/**
 * Changes role, status or password. Disabling and a new password end the member's sessions in the same
 * transaction (a password changed by the member themselves keeps the session it was changed from,
 * `keepSession`). A role change needs nothing more: the authenticator reads the role at every request.
 * The last active admin can be neither demoted nor disabled (409 LAST_ADMIN).
 */
export async function changeStaffMember(
  db: Sql,
  actor: Actor,
  id: string,
  change: StaffChange,
  options: { at: Date; keepSession?: Buffer | undefined },
): Promise<{ staff: StaffRow; sessionsRevoked: number }> {
  if (change.password !== undefined) checkPassword(change.password);
  const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
  const removesAdmin = (change.role !== undefined && change.role !== 'admin') || change.status === 'disabled';
  return db.begin(async (tx) => {
    if (removesAdmin) await refuseLastAdmin(tx, id);
    const before = await findStaff(tx, id);
    if (!before) throw notFound(id);
    const staff = await updateStaff(tx, id, {
      ...(change.role ? { role: change.role } : {}),
      ...(change.status ? { status: change.status } : {}),
      ...(passwordHash ? { passwordHash } : {}),
    });
    if (!staff) throw notFound(id);
    const endsSessions = passwordHash !== undefined || staff.status === 'disabled';
    const sessionsRevoked = endsSessions
      ? await revokeSessionsOf(tx, id, options.at, passwordHash ? options.keepSession : undefined)
      : 0;
    await appendAudit(tx, {
      ...actor,
      action: 'staff.update',
      resource: `staff:${id}`,
      result: 'success',
      metadata: {
        ...(change.role && change.role !== before.role
          ? { role: { from: before.role, to: change.role } }
          : {}),
        ...(change.status && change.status !== before.status
          ? { status: { from: before.status, to: change.status } }
          : {}),
        ...(passwordHash ? { password_changed: true } : {}),
        sessions_revoked: sessionsRevoked,
      },
    });
    return { staff, sessionsRevoked };
  });
}

/** Deletes a member; their sessions go with the row (ON DELETE CASCADE), so the cookie stops working at once. */
export async function deleteStaffMember(db: Sql, actor: Actor, id: string): Promise<void> {
  await db.begin(async (tx) => {
    await refuseLastAdmin(tx, id);
    const before = await findStaff(tx, id);
    if (!before || !(await deleteStaff(tx, id))) throw notFound(id);
    await appendAudit(tx, {
      ...actor,
      action: 'staff.delete',
      resource: `staff:${id}`,
      result: 'success',
      metadata: { email: before.email, role: before.role },
    });
  });
}

async function refuseLastAdmin(tx: Queryable, id: string): Promise<void> {
  const admins = await lockActiveAdmins(tx);
  if (admins.length === 1 && admins[0] === id) {
    throw new AppError(
      'LAST_ADMIN',
      409,
      'This is the last active admin: make another admin first (the panel would have nobody to manage staff)',
    );
  }
}

export async function signOut(db: Sql, actor: Actor, session: { key: Buffer; handle: string }, at: Date) {
  await db.begin(async (tx) => {
    await revokeSession(tx, session.key, at);
    await appendAudit(tx, {
      ...actor,
      action: 'staff.sign_out',
      resource: `staff:${actor.actorId}`,
      result: 'success',
      metadata: { session: session.handle },
    });
  });
}

/** An admin ends someone's session (GET /api/admin/sessions lists them). */
export async function revokeStaffSession(db: Sql, actor: Actor, handle: string, at: Date): Promise<void> {
  await db.begin(async (tx) => {
    const revoked = await revokeSessionByHandle(tx, handle, at);
    if (!revoked) throw new AppError('SESSION_NOT_FOUND', 404, `No live session ${handle}`);
    await appendAudit(tx, {
      ...actor,
      action: 'staff.session_revoke',
      resource: `staff:${revoked.staffId}`,
      result: 'success',
      metadata: { session: handle },
    });
  });
}
