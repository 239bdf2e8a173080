import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateUser } from '../../src/identity/generated-users.ts';
import { identityModule, seededUserCredentials } from '../../src/identity/index.ts';
import { sha256Hex, verifyPassword } from '../../src/identity/passwords.ts';
import type { SeedContext } from '../../src/platform/seeding.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const profile = (users: number, seed = 7) => ({
  name: 'custom' as const,
  seed,
  users,
  currentEvents: 0,
  archiveEvents: 0,
});

/** What the import reports for a file of `read` rows. */
const report = (file: string, read: number, inserted: number) => ({
  file,
  read,
  inserted,
  skipped: read - inserted,
  skippedBy: read > inserted ? { 'already present': read - inserted } : {},
  ignored: [],
});

const USERS_SQL = `CREATE TABLE users (user_id INT PRIMARY KEY, email TEXT, password_hash TEXT, password_plain TEXT, first_name TEXT, surname TEXT, birthday DATE, registered_at TIMESTAMP, is_active BOOLEAN, last_logged_in TIMESTAMP);
INSERT INTO users (user_id, email, password_hash, password_plain, first_name, surname, birthday, registered_at, is_active, last_logged_in) VALUES
(2, 'sultan_sultanov_2@show.go', '${sha256Hex('*IVSf?kh)xa')}', '*IVSf?kh)xa', 'Sultan', 'Sultanov', NULL, '2020-01-01 00:00:00', TRUE, NULL),
(3, 'ayaulym_bazarbaeva_3@quick.pass', '${sha256Hex('LDb60_%]4')}', 'LDb60_%]4', 'Ayaulym', 'Bazarbaeva', '1999-09-09', '2020-01-02 00:00:00', TRUE, '2024-02-02 02:02:02');`;

describe('users: seed and import', () => {
  let db: TestDatabase;
  let context: SeedContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    context = { db: db.sql, logger: pino({ level: 'silent' }), progress: () => ({ tick() {}, done() {} }) };
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.sql`truncate users`;
  });

  it('generates users deterministically in the release format, and a re-run adds nothing', async () => {
    await identityModule.seed!(context, profile(2000));
    await identityModule.seed!(context, profile(2000));
    const rows = await db.sql<
      { id: number; email: string; password_hash: string; is_active: boolean; birthday: string | null }[]
    >`
      select id::int, email, password_hash, is_active, birthday::text from users order by id`;
    expect(rows).toHaveLength(2000);
    expect(rows[41]!.email).toBe(generateUser(7, 42).row.email);
    expect(rows[41]!.email).toMatch(/^[^_@]+_[^_@]+_42@[a-z]+\.[a-z]+$/);
    const active = rows.filter((r) => r.is_active).length / rows.length;
    expect(active).toBeGreaterThan(0.75);
    expect(active).toBeLessThan(0.85);
    const noBirthday = rows.filter((r) => r.birthday === null).length / rows.length;
    expect(noBirthday).toBeGreaterThan(0.25);
    expect(noBirthday).toBeLessThan(0.35);
    // The release's real pairs are users 1–3 whatever the seed.
    expect(rows.slice(0, 3).map((r) => r.email)).toEqual([
      'aysultan_talgat_1@fest.tix',
      'sultan_sultanov_2@show.go',
      'ayaulym_bazarbaeva_3@quick.pass',
    ]);
    const credentials = seededUserCredentials(7, 500);
    expect(credentials.password).toMatch(/^[!-~]{8,16}$/);
    expect(await verifyPassword(credentials.password, rows[499]!.password_hash)).toBe(true);
    // A new user continues after the seeded ids.
    const [next] =
      await db.sql`insert into users (email, password_hash) values ('new@x.y', 'sha256$00') returning id::int`;
    expect(next!.id).toBe(2001);
  });

  it('another seed gives other users', () => {
    expect(generateUser(1, 100).row.email).not.toBe(generateUser(2, 100).row.email);
    expect(generateUser(1, 100)).toEqual(generateUser(1, 100));
  });

  it('imports users.csv as released: quoted passwords, legacy hashes, no plain passwords stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    const tricky = 'a,"b":c\\d';
    writeFileSync(
      join(dir, 'users.csv'),
      [
        'user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in',
        `1,aysultan_talgat_1@fest.tix,${sha256Hex('/8eC$AD>')},/8eC$AD>,Aysultan,Talgat,1990-05-01,2021-03-04 10:00:00,true,2024-01-01 09:00:00`,
        `7,gülnara_omarov_7@live.now,${sha256Hex(tricky)},"a,""b"":c\\d",Gülnara,Omarov,,2022-01-01 00:00:00,false,`,
      ].join('\n'),
    );
    expect(await identityModule.import!(context, dir)).toEqual([report('users.csv', 2, 2)]);
    const rows =
      await db.sql`select id::int, email, password_hash, birthday, is_active from users order by id`;
    expect(rows.map((r) => [r.id, r.email, r.is_active, r.birthday])).toEqual([
      [1, 'aysultan_talgat_1@fest.tix', true, expect.any(Date)],
      [7, 'gülnara_omarov_7@live.now', false, null],
    ]);
    expect(await verifyPassword(tricky, rows[1]!.password_hash)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('/8eC$AD>');
    // Re-importing the same file adds nothing.
    expect(await identityModule.import!(context, dir)).toEqual([report('users.csv', 2, 0)]);

    // The same file gzipped loads the same rows.
    const all = () => db.sql`select * from users order by id`;
    const plain = await all();
    await db.sql`truncate users`;
    const gz = mkdtempSync(join(tmpdir(), 'release-'));
    writeFileSync(join(gz, 'users.csv.gz'), gzipSync(readFileSync(join(dir, 'users.csv'))));
    expect(await identityModule.import!(context, gz)).toEqual([report('users.csv.gz', 2, 2)]);
    expect(await all()).toEqual(plain);
  });

  it('imports users.sql as released, and users.sql.gz into the same rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    writeFileSync(join(dir, 'users.sql'), USERS_SQL);
    expect(await identityModule.import!(context, dir)).toEqual([report('users.sql', 2, 2)]);
    const [row] = await db.sql`select password_hash from users where id = 3`;
    expect(await verifyPassword('LDb60_%]4', row!.password_hash)).toBe(true);

    const all = () => db.sql`select * from users order by id`;
    const plain = await all();
    await db.sql`truncate users`;
    const gz = mkdtempSync(join(tmpdir(), 'release-'));
    writeFileSync(join(gz, 'users.sql.gz'), gzipSync(USERS_SQL));
    expect(await identityModule.import!(context, gz)).toEqual([report('users.sql.gz', 2, 2)]);
    expect(await all()).toEqual(plain);
  });

  it('counts rows of INSERTs into other tables as skipped, with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    writeFileSync(join(dir, 'users.sql'), `${USERS_SQL}\nINSERT INTO audit (id) VALUES (1), (2);`);
    expect(await identityModule.import!(context, dir)).toEqual([
      {
        file: 'users.sql',
        read: 4,
        inserted: 2,
        skipped: 2,
        skippedBy: { 'INSERT into audit': 2 },
        ignored: [],
      },
    ]);
  });

  it('refuses a corrupt users.csv.gz, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    const header =
      'user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in';
    const rows = Array.from(
      { length: 3000 },
      (_, i) => `${i + 1},user_${i + 1}@x.y,${sha256Hex(String(i))},${i},A,B,,2020-01-01 00:00:00,true,`,
    );
    const whole = gzipSync([header, ...rows].join('\n'));
    writeFileSync(join(dir, 'users.csv.gz'), whole.subarray(0, whole.length >> 1));
    await expect(identityModule.import!(context, dir)).rejects.toThrow(/^users\.csv\.gz is truncated/);
    writeFileSync(join(dir, 'users.csv.gz'), 'user_id,email\n');
    await expect(identityModule.import!(context, dir)).rejects.toThrow(
      /^users\.csv\.gz is not valid gzip data: incorrect header check/,
    );
  });

  it('refuses a malformed row with a message naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    writeFileSync(
      join(dir, 'users.csv'),
      'user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in\nx,a@b.c,zz,p,A,B,,,true,\n',
    );
    await expect(identityModule.import!(context, dir)).rejects.toThrow(
      /users row is malformed \(user_id "x"\)/,
    );
  });

  it('finds nothing to import in a folder without release files', async () => {
    expect(await identityModule.import!(context, mkdtempSync(join(tmpdir(), 'empty-')))).toEqual([]);
  });
});
