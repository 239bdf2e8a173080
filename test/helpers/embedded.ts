import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { runningPostmaster, stopServer } from '../../src/platform/db/embedded/server-process.ts';
import { removeEmbeddedData } from '../../src/platform/db/embedded.ts';
import type { Spawned } from './process.ts';

/**
 * A DATA_DIR of its own in a `mktemp -d` directory: 0700, as a private clone would be, unless
 * `open` (then 0755, so a test of something else does not depend on private directories working).
 */
export async function tempDataDir(
  options: { open?: boolean } = {},
): Promise<{ dataDir: string; remove(): Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'boxoffice-data-'));
  if (options.open) await chmod(parent, 0o755);
  const dataDir = join(parent, 'data');
  return {
    dataDir,
    async remove() {
      // A server a failed test left behind (its process killed): stop it before removing its files.
      const left = runningPostmaster(join(dataDir, 'pg'));
      if (left) await stopServer(left.pid);
      await removeEmbeddedData(dataDir);
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** Whether a server answers at `url` (false when nothing listens there any more). */
export async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Resolves with the line once the process prints one matching `pattern`; rejects if it exits first. */
export async function lineMatching(spawned: Spawned, pattern: RegExp, deadlineMs = 60_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  let exited = false;
  void spawned.exited.then(() => {
    exited = true;
  });
  for (;;) {
    const line = spawned
      .output()
      .split('\n')
      .find((l) => pattern.test(l));
    if (line) return line;
    if (exited) throw new Error(`exited without printing ${pattern}:\n${spawned.output()}`);
    if (Date.now() > until) throw new Error(`no ${pattern} within ${deadlineMs} ms:\n${spawned.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
