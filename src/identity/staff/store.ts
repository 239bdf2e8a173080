import type { StaffRole } from '../../platform/auth/permissions.ts';
import type { Queryable } from '../../platform/db/client.ts';

export type StaffStatus = 'active' | 'disabled';

export interface StaffRow {
  id: string;
  email: string;
  role: StaffRole;
  status: StaffStatus;
  createdAt: Date;
  updatedAt: Date;
  passwordChangedAt: Date;
}

export interface StaffCredentialsRow extends StaffRow {
  passwordHash: string;
}

const STAFF_COLUMNS = `id::text, email, role, status, created_at as "createdAt", updated_at as "updatedAt",
  password_changed_at as "passwordChangedAt"`;

export async function findStaffByEmail(
  db: Queryable,
  email: string,
): Promise<StaffCredentialsRow | undefined> {
  const [row] = await db.unsafe<StaffCredentialsRow[]>(
    `select ${STAFF_COLUMNS}, password_hash as "passwordHash" from staff where lower(email) = lower($1)`,
    [email],
  );
  return row;
}

export async function findStaff(db: Queryable, id: string): Promise<StaffRow | undefined> {
  const [row] = await db.unsafe<StaffRow[]>(`select ${STAFF_COLUMNS} from staff where id = $1`, [id]);
  return row;
}

export async function listStaff(db: Queryable): Promise<StaffRow[]> {
  return db.unsafe<StaffRow[]>(`select ${STAFF_COLUMNS} from staff order by id`);
}

export async function countStaff(db: Queryable): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from staff`;
  return row!.n;
}

/** undefined when the email is taken (by any case of it). */
export async function insertStaff(
  db: Queryable,
  staff: { email: string; role: StaffRole; passwordHash: string },
): Promise<StaffRow | undefined> {
  const [row] = await db.unsafe<StaffRow[]>(
    `insert into staff (email, role, password_hash) values ($1, $2, $3)
     on conflict do nothing returning ${STAFF_COLUMNS}`,
    [staff.email, staff.role, staff.passwordHash],
  );
  return row;
}

export async function updateStaff(
  db: Queryable,
  id: string,
  change: { role?: StaffRole; status?: StaffStatus; passwordHash?: string },
): Promise<StaffRow | undefined> {
  const [row] = await db.unsafe<StaffRow[]>(
    `update staff set
       role = coalesce($2, role),
       status = coalesce($3, status),
       password_hash = coalesce($4, password_hash),
       password_changed_at = case when $4::text is null then password_changed_at else now() end,
       updated_at = now()
     where id = $1 returning ${STAFF_COLUMNS}`,
    [id, change.role ?? null, change.status ?? null, change.passwordHash ?? null],
  );
  return row;
}

export async function deleteStaff(db: Queryable, id: string): Promise<boolean> {
  const result = await db`delete from staff where id = ${id}`;
  return result.count > 0;
}

/**
 * The ids of the active admins, their rows locked until the transaction ends: two admins demoting,
 * disabling or deleting each other at once queue here, so the second sees the first's change.
 */
export async function lockActiveAdmins(tx: Queryable): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    select id::text from staff where role = 'admin' and status = 'active' order by id for update`;
  return rows.map((r) => r.id);
}

// --- sessions -------------------------------------------------------------------------------------

export interface NewSession {
  id: Buffer;
  staffId: string;
  csrfToken: Buffer;
  at: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

export async function insertSession(db: Queryable, session: NewSession): Promise<string> {
  const [row] = await db<{ handle: string }[]>`
    insert into staff_sessions (id, staff_id, csrf_token, created_at, last_seen_at, expires_at, user_agent, ip)
    values (${session.id}, ${session.staffId}, ${session.csrfToken}, ${session.at}, ${session.at},
            ${session.expiresAt}, ${session.userAgent}, ${session.ip})
    returning handle::text`;
  return row!.handle;
}

/** A session with its staff member, as the authenticator checks it on every request. */
export interface SessionRow {
  handle: string;
  staffId: string;
  csrfToken: Buffer;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  email: string;
  role: StaffRole;
  status: StaffStatus;
}

export async function findSession(db: Queryable, id: Buffer): Promise<SessionRow | undefined> {
  const [row] = await db<SessionRow[]>`
    select s.handle::text, s.staff_id::text as "staffId", s.csrf_token as "csrfToken",
           s.last_seen_at as "lastSeenAt", s.expires_at as "expiresAt", s.revoked_at as "revokedAt",
           st.email, st.role, st.status
    from staff_sessions s join staff st on st.id = s.staff_id
    where s.id = ${id}`;
  return row;
}

/** Slides the idle expiry; a no-op when another request (any process) touched it since `staleBefore`. */
export async function touchSession(db: Queryable, id: Buffer, at: Date, staleBefore: Date): Promise<void> {
  await db`update staff_sessions set last_seen_at = ${at}
           where id = ${id} and last_seen_at <= ${staleBefore} and revoked_at is null`;
}

export async function revokeSession(db: Queryable, id: Buffer, at: Date): Promise<boolean> {
  const result =
    await db`update staff_sessions set revoked_at = ${at} where id = ${id} and revoked_at is null`;
  return result.count > 0;
}

/** The staff member the session belonged to, when it was live and is now revoked. */
export async function revokeSessionByHandle(
  db: Queryable,
  handle: string,
  at: Date,
): Promise<{ staffId: string } | undefined> {
  const [row] = await db<{ staffId: string }[]>`
    update staff_sessions set revoked_at = ${at} where handle = ${handle} and revoked_at is null
    returning staff_id::text as "staffId"`;
  return row;
}

/** Every live session of a staff member except `keep` (the caller's own, on a password change). */
export async function revokeSessionsOf(
  db: Queryable,
  staffId: string,
  at: Date,
  keep?: Buffer,
): Promise<number> {
  const result = keep
    ? await db`update staff_sessions set revoked_at = ${at}
               where staff_id = ${staffId} and revoked_at is null and id <> ${keep}`
    : await db`update staff_sessions set revoked_at = ${at} where staff_id = ${staffId} and revoked_at is null`;
  return result.count;
}

export interface SessionListRow {
  id: string;
  staffId: string;
  email: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/** Sessions neither revoked nor past their absolute end (an idle one may still be listed until `idleBefore`). */
export async function listLiveSessions(
  db: Queryable,
  at: Date,
  idleBefore: Date,
  staffId?: string,
): Promise<SessionListRow[]> {
  return db<SessionListRow[]>`
    select s.handle::text as id, s.staff_id::text as "staffId", st.email, s.created_at as "createdAt",
           s.last_seen_at as "lastSeenAt", s.expires_at as "expiresAt", s.user_agent as "userAgent", s.ip
    from staff_sessions s join staff st on st.id = s.staff_id
    where s.revoked_at is null and s.expires_at > ${at} and s.last_seen_at > ${idleBefore}
      ${staffId ? db`and s.staff_id = ${staffId}` : db``}
    order by s.created_at desc, s.handle desc`;
}

/** Housekeeping: sessions that ended (revoked or expired) before `before`. */
export async function deleteEndedSessions(db: Queryable, before: Date, idleBefore: Date): Promise<number> {
  const result = await db`
    delete from staff_sessions
    where expires_at < ${before} or revoked_at < ${before} or last_seen_at < ${idleBefore}`;
  return result.count;
}
