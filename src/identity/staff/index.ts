import type { BoxofficeModule, Platform } from '../../platform/context.ts';
import { staffSettings } from './authenticator.ts';
import { ensureDemoAdmin } from './demo-admin.ts';
import { staffRoutes } from './routes.ts';
import { deleteEndedSessions } from './store.ts';

export { currentSession, registerStaffAuthenticator } from './authenticator.ts';
export { type Clock, setStaffClock } from './clock.ts';
export { sessionCookie } from './cookie.ts';
export { ensureDemoAdmin } from './demo-admin.ts';
export { changeStaffMember, createStaffMember, deleteStaffMember, generatePassword } from './service.ts';
export { findStaffByEmail, listStaff, type StaffRow } from './store.ts';

const PRUNE_SESSIONS_TASK = 'identity:prune-staff-sessions';
/** Ended sessions stay this long (who was signed in from where, for an investigation), then go. */
const ENDED_SESSION_RETENTION_MS = 30 * 86_400_000;

/** Part 4 of identity: staff of the admin panel, their sessions, CSRF, the demo admin. */
export const staffPart = {
  routes: staffRoutes satisfies NonNullable<BoxofficeModule['routes']>,
  tasks: ((platform: Platform) => ({
    [PRUNE_SESSIONS_TASK]: async () => {
      const before = new Date(Date.now() - ENDED_SESSION_RETENTION_MS);
      const idleBefore = new Date(before.getTime() - staffSettings(platform).life.idleMs);
      const deleted = await deleteEndedSessions(platform.db, before, idleBefore);
      platform.logger.info({ module: 'identity', deleted }, 'staff: ended sessions deleted');
    },
  })) satisfies NonNullable<BoxofficeModule['tasks']>,
  cron: { pattern: '43 4 * * *', task: PRUNE_SESSIONS_TASK, identifier: 'identity-staff-prune-sessions' },
  start: (async (platform: Platform) => {
    await ensureDemoAdmin(platform);
    return { async stop() {} };
  }) satisfies NonNullable<BoxofficeModule['start']>,
};
