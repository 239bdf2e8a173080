import type { BoxofficeModule } from '../platform/context.ts';
import type { Sql } from '../platform/db/client.ts';
import { importUsers } from './import-users.ts';
import { hashPassword } from './passwords.ts';
import { seedUsers } from './seed-users.ts';
import { countUsers, insertUser } from './store.ts';

export { type AuthenticatedUser, basicAuth, parseBasicAuthorization } from './basic-auth.ts';
export { seededUserCredentials } from './generated-users.ts';

/** Identity: the buyers who sign in with HTTP Basic (service accounts and admins come later). */
export const identityModule: BoxofficeModule = {
  name: 'identity',
  seed: seedUsers,
  import: importUsers,
  hasData: async (db) => (await countUsers(db)) > 0,
};

/** Creates a user with a salted hash; returns its id. For tests, tools and admin flows. */
export async function createUser(
  db: Sql,
  user: { email: string; password: string; active?: boolean },
): Promise<number> {
  return insertUser(db, {
    email: user.email,
    passwordHash: await hashPassword(user.password),
    active: user.active ?? true,
  });
}
