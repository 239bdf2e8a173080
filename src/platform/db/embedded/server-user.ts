import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from './errors.ts';

const run = promisify(execFile);

/** The account the server processes run as when we are root; undefined: as ourselves. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

const NAME = 'postgres';

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user, created
 * (as a system user without a home) when the machine has none. Not root: undefined, as before.
 */
export async function serverUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const found = await lookUp();
  if (found) return found;
  try {
    await run('groupadd', ['--system', NAME]).catch(() => undefined); // may exist without the user
    await run('useradd', ['--system', '--gid', NAME, '--no-create-home', '--shell', '/bin/false', NAME]);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL must run as a "${NAME}" user when boxoffice runs as root, and creating one failed (${(error as Error).message.split('\n')[0]}); create it, run as another user, or set DATABASE_URL`,
    );
  }
  const created = await lookUp();
  if (!created)
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: the "${NAME}" user was created but cannot be found`,
    );
  return created;
}

async function lookUp(): Promise<ServerUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', NAME]), run('id', ['-g', NAME])]);
    return { name: NAME, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Whether `user` can search (directories) or execute (files) `path`, every directory above it
 * included. Asked of the system as that user, so ACLs and group rules count as they will for the
 * server; spawned the way the server is (uid and gid, no supplementary groups).
 */
export function canReach(user: ServerUser | undefined, path: string): boolean {
  const probe = spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', path], {
    stdio: 'ignore',
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  return probe.status === 0;
}
