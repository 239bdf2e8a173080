import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { packagedBinaries, reachableBinaries } from '../../src/platform/db/embedded/binaries.ts';
import { runningPostmaster } from '../../src/platform/db/embedded/server-process.ts';
import { serverUser } from '../../src/platform/db/embedded/server-user.ts';
import { startEmbeddedPostgres } from '../../src/platform/db/embedded.ts';
import { answers, lineMatching, tempDataDir } from '../helpers/embedded.ts';
import { freePort, spawnNode } from '../helpers/process.ts';

const EMBEDDED_USER = new URL('../fixtures/embedded-user.ts', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const logger = pino({ level: 'silent' });

describe('embedded PostgreSQL', () => {
  if (!isRoot)
    console.warn(
      'embedded PostgreSQL as root: skipped, these tests need root (the server then runs as postgres)',
    );

  it.skipIf(!isRoot)(
    'as root, runs from a DATA_DIR under a 0700 directory without opening it up',
    async () => {
      const data = await tempDataDir();
      try {
        const run = spawnNode(['migrate'], {
          DATA_DIR: data.dataDir,
          EMBEDDED_PG_PORT: String(await freePort()),
          LOG_LEVEL: 'warn',
        });
        expect(await run.exited, run.output()).toEqual({ code: 0, signal: null });
        // The cluster lives where the postgres user reaches it, linked from DATA_DIR; ours stays 0700.
        expect(lstatSync(join(data.dataDir, 'pg')).isSymbolicLink()).toBe(true);
        const user = (await serverUser())!;
        expect(statSync(join(data.dataDir, 'pg')).uid).toBe(user.uid);
        expect(statSync(resolve(data.dataDir, '..')).mode & 0o777).toBe(0o700);
        expect(runningPostmaster(join(data.dataDir, 'pg'))).toBeUndefined();
      } finally {
        await data.remove();
      }
    },
  );

  it.skipIf(!isRoot)('as root, runs binaries the postgres user cannot reach from a copy it can', async () => {
    const user = (await serverUser())!;
    const packaged = packagedBinaries();
    const hidden = mkdtempSync(join(tmpdir(), 'boxoffice-node-modules-')); // 0700
    const cache = mkdtempSync(join(tmpdir(), 'boxoffice-binary-cache-'));
    chmodSync(cache, 0o755); // standing for /var/cache
    try {
      const dir = join(hidden, 'native');
      await cp(packaged.dir, dir, { recursive: true, verbatimSymlinks: true });
      const own = {
        ...packaged,
        dir,
        postgres: join(dir, 'bin', 'postgres'),
        initdb: join(dir, 'bin', 'initdb'),
      };
      const asPostgres = (file: string) =>
        spawnSync(file, ['--version'], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
      expect(asPostgres(own.postgres).error).toMatchObject({ code: 'EACCES' }); // the control

      const reachable = await reachableBinaries(user, own, join(cache, 'boxoffice'));
      expect(reachable.dir.startsWith(join(cache, 'boxoffice'))).toBe(true);
      expect(asPostgres(reachable.postgres).stdout).toMatch(/^postgres \(PostgreSQL\) 17/);
      expect(asPostgres(reachable.initdb).stdout).toMatch(/^initdb \(PostgreSQL\) 17/);
      expect(statSync(hidden).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(hidden, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('is shared by the processes using one DATA_DIR: the last one to leave stops it', async () => {
    const data = await tempDataDir();
    const port = await freePort();
    try {
      const first = await startEmbeddedPostgres({ dataDir: data.dataDir, port, logger });
      const second = await startEmbeddedPostgres({ dataDir: data.dataDir, port, logger });
      expect(second.adminUrl).toBe(first.adminUrl);
      await first.stop();
      expect(await answers(second.adminUrl)).toBe(true);
      await second.stop();
      expect(await answers(second.adminUrl)).toBe(false);
    } finally {
      await data.remove();
    }
  });

  it('adopts, and then stops, a server whose only user was killed with -9', async () => {
    const data = await tempDataDir();
    const port = String(await freePort());
    try {
      const holder = spawnNode([], { DATA_DIR: data.dataDir, EMBEDDED_PG_PORT: port }, EMBEDDED_USER);
      await lineMatching(holder, /^ready /);
      holder.child.kill('SIGKILL');
      await holder.exited;
      const postmaster = runningPostmaster(join(data.dataDir, 'pg'));
      expect(postmaster).toBeDefined();

      const adopter = await startEmbeddedPostgres({ dataDir: data.dataDir, port: Number(port), logger });
      expect(runningPostmaster(join(data.dataDir, 'pg'))?.pid).toBe(postmaster!.pid);
      await adopter.stop();
      expect(runningPostmaster(join(data.dataDir, 'pg'))).toBeUndefined();
    } finally {
      await data.remove();
    }
  });

  it('says in one line what failed and what to set when its port is taken', async () => {
    const data = await tempDataDir();
    const other = await tempDataDir();
    const port = await freePort();
    try {
      const holder = await startEmbeddedPostgres({ dataDir: other.dataDir, port, logger });
      try {
        const run = spawnNode(['migrate'], {
          DATA_DIR: data.dataDir,
          EMBEDDED_PG_PORT: String(port),
          LOG_LEVEL: 'warn',
        });
        expect((await run.exited).code, run.output()).toBe(1);
        const lines = run.output().trim().split('\n');
        expect(lines.at(-1)).toMatch(
          /^boxoffice: embedded PostgreSQL did not start on port \d+ .*EMBEDDED_PG_PORT/,
        );
        expect(run.output()).not.toMatch(/\n\s+at /); // no stack
      } finally {
        await holder.stop();
      }
    } finally {
      await data.remove();
      await other.remove();
    }
  });
});
