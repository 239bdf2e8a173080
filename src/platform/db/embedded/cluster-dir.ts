import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readlink,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EmbeddedPostgresError } from './errors.ts';
import { canReach, type ServerUser } from './server-user.ts';

/** Where clusters go whose DATA_DIR the server's user cannot reach; root-owned, 0755. */
export const CLUSTER_ROOT = '/var/lib/boxoffice';

/**
 * The directory that holds (or will hold) the cluster of `dataDir`: `DATA_DIR/pg` as always, or,
 * when the server's user cannot reach DATA_DIR (a 0700 home or temp dir, as root), a directory of
 * its own under `clusterRoot`, which `DATA_DIR/pg` then links to. Found again through that link.
 * Our own directories keep their permissions either way.
 */
export async function clusterDir(
  dataDir: string,
  user: ServerUser | undefined,
  clusterRoot = CLUSTER_ROOT,
): Promise<string> {
  const link = resolve(dataDir, 'pg');
  const found = await lstat(link).catch(() => undefined);
  if (found?.isSymbolicLink()) {
    const target = await realpath(link).catch(() => undefined);
    if (!target)
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: ${link} links to ${await readlink(link)}, which is gone; remove the link to start with an empty database`,
      );
    return target;
  }
  if (found || !user || canReach(user, dataDir)) return link;
  return relocate(dataDir, link, user, clusterRoot);
}

/** Makes the cluster's own directory, owned by the server's user, chown'd as initdb needs it. */
export async function prepareClusterDir(pgDir: string, user: ServerUser | undefined): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (user) await chown(pgDir, user.uid, user.gid);
}

/** Removes a cluster's files: the linked directory under CLUSTER_ROOT too, then DATA_DIR. */
export async function removeClusterFiles(dataDir: string): Promise<void> {
  const link = resolve(dataDir, 'pg');
  if ((await lstat(link).catch(() => undefined))?.isSymbolicLink()) {
    const target = await realpath(link).catch(() => undefined);
    // The cluster's home is `<root>/cluster-XXXX/pg`: remove the whole home.
    if (target) await rm(resolve(target, '..'), { recursive: true, force: true });
  }
  await rm(dataDir, { recursive: true, force: true });
}

async function relocate(
  dataDir: string,
  link: string,
  user: ServerUser,
  clusterRoot: string,
): Promise<string> {
  try {
    await mkdir(clusterRoot, { recursive: true, mode: 0o755 });
    const home = await mkdtemp(join(clusterRoot, 'cluster-'));
    await chmod(home, 0o755);
    // Which DATA_DIR a cluster belongs to, for whoever finds one whose DATA_DIR was deleted.
    await writeFile(join(home, 'data-dir'), `${await realpath(dataDir)}\n`);
    const pgDir = join(home, 'pg');
    await prepareClusterDir(pgDir, user);
    await symlink(pgDir, link);
    return pgDir;
  } catch (error) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL runs as the ${user.name} user, which cannot reach DATA_DIR=${dataDir}, and making it a cluster directory under ${clusterRoot} failed (${(error as Error).message}); set DATA_DIR to a directory that user can reach, or DATABASE_URL`,
    );
  }
}

export function hasCluster(pgDir: string): boolean {
  return existsSync(join(pgDir, 'PG_VERSION'));
}
