import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import {
  changeStaffMember,
  createStaffMember,
  findStaffByEmail,
  generatePassword,
  listStaff,
  type StaffRow,
} from '../identity/staff/index.ts';
import { STAFF_ROLES, type StaffRole } from '../platform/auth/permissions.ts';
import { AppError } from '../platform/http/errors.ts';
import { createLogger } from '../platform/logger.ts';
import { migrateDatabase } from '../platform/migrations.ts';
import { withDatabase } from './migrate.ts';
import { UsageError } from './seed.ts';

export const STAFF_HELP = `boxoffice staff create --email E --role admin|manager|analyst [--password-stdin] [--json]
  Adds a staff member of the admin panel. Without --password-stdin a password is generated and
  printed this once (it is stored only as a scrypt hash). --json prints exactly one JSON object
  {id, email, role, password} on stdout and nothing else there (logs go to stderr).
boxoffice staff list [--json]
  Every staff member: id, email, role, status (--json: one JSON object per line).
boxoffice staff disable <email>      Disables the member and ends their sessions at once.
boxoffice staff enable <email>       Lets a disabled member sign in again.
boxoffice staff reset-password <email> [--password-stdin] [--json]
  A new password (generated unless --password-stdin), printed once; ends the member's sessions.
  Works while the platform runs (it uses the same database). The last active admin cannot be
  disabled. Every change is written to the audit log (actor: system, cli).
`;

/** Audit actor of every change made from the command line. */
const CLI = { actorType: 'system', actorId: 'cli' } as const;

export async function runStaffCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseStaffArgs(args);
  const [action, ...rest] = positionals;
  // stdout is the command's answer alone: logs always go to stderr.
  const logger = createLogger(config, 2);
  const open = <T>(use: Parameters<typeof withDatabase<T>>[2]) =>
    withDatabase(config, logger, async (db, url) => {
      await migrateDatabase(db, url, logger);
      return use(db, url);
    });
  const out = (text: string) => process.stdout.write(text);

  if (action === 'create') {
    if (rest.length > 0)
      throw new UsageError(`boxoffice staff create takes no positional arguments (${rest[0]})`);
    if (!values.email) throw new UsageError('boxoffice staff create needs --email');
    const role = parseRole(values.role);
    const given = values['password-stdin'] ? await readPassword() : undefined;
    const created = await open((db) =>
      createStaffMember(db, CLI, { email: values.email!, role, password: given }).catch(asCliError),
    );
    const answer = { id: Number(created.staff.id), email: created.staff.email, role: created.staff.role };
    if (values.json)
      out(`${JSON.stringify(created.password ? { ...answer, password: created.password } : answer)}\n`);
    else out(describeCreated(created.staff, created.password));
    return 0;
  }

  if (action === 'list') {
    const staff = await open((db) => listStaff(db));
    if (values.json) for (const member of staff) out(`${JSON.stringify(listItem(member))}\n`);
    else out(staff.map((m) => `${m.id}\t${m.email}\t${m.role}\t${m.status}\n`).join(''));
    return 0;
  }

  if (action === 'disable' || action === 'enable' || action === 'reset-password') {
    const [email, ...extra] = rest;
    if (!email || extra.length > 0) throw new UsageError(`boxoffice staff ${action} takes one email`);
    const given = action === 'reset-password' && values['password-stdin'] ? await readPassword() : undefined;
    const password = action === 'reset-password' ? (given ?? generatePassword()) : undefined;
    const result = await open(async (db) => {
      const member = await findStaffByEmail(db, email);
      if (!member) throw new Error(`no staff member with the email ${email}`);
      const change =
        action === 'reset-password' ? { password } : { status: action === 'disable' ? 'disabled' : 'active' };
      return changeStaffMember(db, CLI, member.id, change as { password?: string }, { at: new Date() }).catch(
        asCliError,
      );
    });
    const { staff, sessionsRevoked } = result;
    if (action === 'reset-password' && values.json) {
      const answer = { id: Number(staff.id), email: staff.email, role: staff.role };
      out(`${JSON.stringify(given ? answer : { ...answer, password })}\n`);
    } else if (action === 'reset-password') {
      out(`${staff.email}: password changed${given ? '' : `; the new one (shown once): ${password}`}\n`);
    } else {
      out(
        `${staff.email}: ${staff.status}${sessionsRevoked ? `, ${sessionsRevoked} session(s) ended` : ''}\n`,
      );
    }
    if (action === 'reset-password' && sessionsRevoked) logger.info({ sessionsRevoked }, 'sessions ended');
    return 0;
  }

  throw new UsageError(`usage:\n${STAFF_HELP}`);
}

function parseStaffArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        email: { type: 'string' },
        role: { type: 'string' },
        json: { type: 'boolean', default: false },
        'password-stdin': { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${STAFF_HELP}`);
  }
}

function parseRole(role: string | undefined): StaffRole {
  if (!role || !(STAFF_ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${STAFF_ROLES.join(', ')}`);
  }
  return role as StaffRole;
}

/** The password from stdin: everything up to EOF, without the trailing newline `echo` adds. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Refusals of the service (taken email, last admin, short password) become one clear line and exit 1. */
function asCliError(error: unknown): never {
  if (error instanceof AppError) throw new Error(`${error.message} (${error.code})`);
  throw error;
}

function listItem(member: StaffRow) {
  return {
    id: Number(member.id),
    email: member.email,
    role: member.role,
    status: member.status,
    created_at: member.createdAt.toISOString(),
    password_changed_at: member.passwordChangedAt.toISOString(),
  };
}

function describeCreated(staff: StaffRow, password: string | undefined): string {
  return `staff member ${staff.id} created: ${staff.email} (${staff.role})${
    password ? `\npassword (shown once, stored only hashed): ${password}` : ''
  }\n`;
}
