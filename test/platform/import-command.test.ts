import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/identity/passwords.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { spawnNode } from '../helpers/process.ts';

const USERS_CSV = [
  'user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in',
  `1,aysultan_talgat_1@fest.tix,${sha256Hex('/8eC$AD>')},/8eC$AD>,Aysultan,Talgat,1990-05-01,2021-03-04 10:00:00,true,`,
  `2,sultan_sultanov_2@show.go,${sha256Hex('*IVSf?kh)xa')},*IVSf?kh)xa,Sultan,Sultanov,,2020-01-01 00:00:00,true,`,
  `3,ayaulym_bazarbaeva_3@quick.pass,${sha256Hex('LDb60_%]4')},LDb60_%]4,Ayaulym,Bazarbaeva,,2020-01-02 00:00:00,false,`,
].join('\n');

/** `boxoffice import DIR` as an operator runs it: the real CLI in a child process. */
describe('boxoffice import: the per-file report and exit status', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'import-command-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI; `stdout` alone, apart from the merged output. */
  async function importDir(path: string, ...flags: string[]) {
    const run = spawnNode(['import', path, ...flags], { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
    let stdout = '';
    run.child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const { code } = await run.exited;
    return { code, stdout, output: run.output() };
  }

  it('reports every user skipped on a second import of the same file, and exits 0', async () => {
    const release = join(dir, 'twice');
    await mkdirAndWrite(release, 'users.csv', USERS_CSV);
    const first = await importDir(release);
    expect(first.code, first.output).toBe(0);
    expect(first.stdout).toContain('users.csv: 3 read, 3 inserted, 0 skipped\n');

    const second = await importDir(release);
    expect(second.code, second.output).toBe(0);
    expect(second.stdout).toContain('users.csv: 3 read, 0 inserted, 3 skipped (3 already present)\n');
    expect(second.output).not.toMatch(/no release files/);
    const [users] = await db.sql<{ n: number }[]>`select count(*)::int as n from users`;
    expect(users!.n).toBe(3);
  });

  it('prints the report as one JSON object on stdout with --json, logs on stderr', async () => {
    const release = join(dir, 'json');
    await mkdirAndWrite(release, 'users.csv.gz', gzipSync(USERS_CSV));
    await writeFile(join(release, 'users.sql'), 'SELECT 1;');
    const run = await importDir(release, '--json');
    expect(run.code, run.output).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      dir: release,
      files: [
        {
          module: 'identity',
          file: 'users.csv.gz',
          read: 3,
          inserted: 0,
          skipped: 3,
          skippedBy: { 'already present': 3 },
          // csv before sql, whatever the compression: the .sql is named, not read.
          ignored: ['users.sql'],
        },
      ],
    });
  });

  it('names a corrupt .gz and exits 1', async () => {
    const release = join(dir, 'corrupt');
    await mkdirAndWrite(release, 'users.csv.gz', Buffer.from('this is not gzip data\n'));
    const run = await importDir(release);
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain('boxoffice: users.csv.gz is not valid gzip data');
  });

  it('exits 1 with "no release files found" only when DIR holds none', async () => {
    const release = join(dir, 'empty');
    await mkdirAndWrite(release, 'README.txt', 'nothing to load');
    const run = await importDir(release);
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(`boxoffice: no release files found in ${release}`);
  });
});

async function mkdirAndWrite(dir: string, name: string, content: string | Buffer): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), content);
}
