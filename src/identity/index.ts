import { auditRoutes } from '../platform/audit/routes.ts';
import { auditCron, auditStarter, auditTasks } from '../platform/audit/wiring.ts';
import type { BoxofficeModule } from '../platform/context.ts';
import type { Sql } from '../platform/db/client.ts';
import { importUsers } from './import-users.ts';
import { hashPassword } from './passwords.ts';
import { seedUsers } from './seed-users.ts';
import { serviceAccountsPart } from './service-accounts/index.ts';
import { staffPart } from './staff/index.ts';
import { countUsers, insertUser } from './store.ts';
import { tokensPart } from './tokens/index.ts';

export { type AuthenticatedUser, basicAuth, parseBasicAuthorization } from './basic-auth.ts';
export { seededUserCredentials } from './generated-users.ts';
export { userEmails, userIdByEmail } from './user-directory.ts';

/**
 * The parts of identity, each in its own folder; the module below runs them all. A part adds one
 * line to each list it needs.
 */
const routeGroups: NonNullable<BoxofficeModule['routes']>[] = [
  auditRoutes,
  staffPart.routes,
  serviceAccountsPart,
  tokensPart.routes,
];
const taskGroups: NonNullable<BoxofficeModule['tasks']>[] = [auditTasks, staffPart.tasks, tokensPart.tasks];
const cronSchedules: NonNullable<BoxofficeModule['cron']> = [auditCron, staffPart.cron, tokensPart.cron];
const starters: NonNullable<BoxofficeModule['start']>[] = [auditStarter, staffPart.start, tokensPart.start];

/**
 * Identity: the buyers who sign in with HTTP Basic, service accounts (OAuth2 client credentials,
 * RS256 access tokens), staff of the admin panel, and the audit log (docs/identity.md).
 */
export const identityModule: BoxofficeModule = {
  name: 'identity',
  memoryState: () => 'failed-sign-in throttling, rate limits',
  routes: async (app, platform) => {
    for (const register of routeGroups) await register(app, platform);
  },
  tasks: (platform) => Object.assign({}, ...taskGroups.map((tasks) => tasks(platform))),
  cron: cronSchedules,
  start: async (platform) => {
    const started: { stop(): Promise<void> }[] = [];
    for (const start of starters) started.push(await start(platform));
    return {
      async stop() {
        for (const part of started.reverse()) await part.stop();
      },
    };
  },
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
