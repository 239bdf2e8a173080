import type { Queryable } from '../platform/db/client.ts';

/** Users' emails by id (identity owns `users`): for staff screens that show who a booking belongs to. */
export async function userEmails(db: Queryable, userIds: readonly number[]): Promise<Map<number, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db<{ id: string; email: string }[]>`
    select id, email from users where id = any(${`{${userIds.join(',')}}`}::int8[])`;
  return new Map(rows.map((r) => [Number(r.id), r.email]));
}

/** The user with this email (case-insensitive, as sign-in matches it), or undefined. */
export async function userIdByEmail(db: Queryable, email: string): Promise<number | undefined> {
  const [row] = await db<{ id: string }[]>`select id from users where lower(email) = lower(${email}) limit 1`;
  return row ? Number(row.id) : undefined;
}
