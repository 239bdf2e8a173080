import type { Queryable } from '../platform/db/client.ts';

export interface UserCredentialsRow {
  id: number;
  email: string;
  passwordHash: string;
  isActive: boolean;
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserCredentialsRow | undefined> {
  const [row] = await db<UserCredentialsRow[]>`
    select id::int, email, password_hash as "passwordHash", is_active as "isActive"
    from users where lower(email) = lower(${email})`;
  return row;
}

/** Replaces the hash only if it is still the one that was verified, so concurrent upgrades are harmless. */
export async function upgradePasswordHash(
  db: Queryable,
  id: number,
  from: string,
  to: string,
): Promise<void> {
  await db`update users set password_hash = ${to} where id = ${id} and password_hash = ${from}`;
}

export async function insertUser(
  db: Queryable,
  user: { email: string; passwordHash: string; active: boolean },
): Promise<number> {
  const [row] = await db<{ id: number }[]>`
    insert into users (email, password_hash, is_active)
    values (${user.email}, ${user.passwordHash}, ${user.active})
    returning id::int`;
  return row!.id;
}

export interface UserRow {
  id: number;
  email: string;
  passwordHash: string;
  firstName: string | null;
  surname: string | null;
  birthday: string | null;
  registeredAt: string;
  isActive: boolean;
  lastLoggedIn: string | null;
}

/** Inserts a batch with explicit ids; rows whose id or email exist already are skipped. */
export async function insertUsers(db: Queryable, rows: UserRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db`
    insert into users (id, email, password_hash, first_name, surname, birthday, registered_at, is_active, last_logged_in)
    select * from unnest(
      ${rows.map((r) => r.id)}::bigint[],
      ${rows.map((r) => r.email)}::text[],
      ${rows.map((r) => r.passwordHash)}::text[],
      ${rows.map((r) => r.firstName)}::text[],
      ${rows.map((r) => r.surname)}::text[],
      ${rows.map((r) => r.birthday)}::date[],
      ${rows.map((r) => r.registeredAt)}::timestamptz[],
      -- booleans travel as text: the driver types a boolean array parameter as a single boolean
      ${rows.map((r) => (r.isActive ? 't' : 'f'))}::text[]::boolean[],
      ${rows.map((r) => r.lastLoggedIn)}::timestamptz[]
    )
    on conflict do nothing`;
  return result.count;
}

/** After loading explicit ids, new users continue after the highest one. */
export async function advanceUserIds(db: Queryable): Promise<void> {
  await db`select setval('users_id_seq', greatest((select coalesce(max(id), 0) from users), 1))`;
}

export async function countUsers(db: Queryable): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from users`;
  return row!.n;
}
