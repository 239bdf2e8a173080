import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogModule } from '../../src/catalog/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { spawnNode } from '../helpers/process.ts';
import { seedContext } from './harness.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Row {
  id: number;
  title: string;
  description: string | null;
  type: string;
  provider: string;
  datetime_start: Date;
}

/** What the import reports for a file of `read` rows. */
const report = (file: string, read: number, inserted: number, ignored: string[] = []) => ({
  file,
  read,
  inserted,
  skipped: read - inserted,
  skippedBy: read > inserted ? { 'already present': read - inserted } : {},
  ignored,
});

/** A temporary release directory holding `files` (name → content). */
async function releaseDir(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'catalog-release-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

const fixture = (release: string, name: string) => readFile(join(FIXTURES, release, name));

const rowsOf = (db: TestDatabase) =>
  db.sql<Row[]>`
    select id::int, title, description, type, provider, datetime_start from catalog_events order by id`;

/** `boxoffice import DIR` with the release's file formats (test/catalog/fixtures/release-json, -sql). */
describe('boxoffice import (catalog)', () => {
  let json: TestDatabase;
  let sql: TestDatabase;
  let gz: TestDatabase;
  beforeAll(async () => {
    [json, sql, gz] = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([json?.drop(), sql?.drop(), gz?.drop()]);
  });

  it('loads events.json and events_archive.json unchanged', async () => {
    expect(await catalogModule.import!(seedContext(json), join(FIXTURES, 'release-json'))).toEqual([
      report('events.json', 6, 6),
      report('events_archive.json', 6, 6),
    ]);
    const rows = await rowsOf(json);
    expect(rows.map((row) => row.id)).toEqual([
      1, 2, 3, 4, 5, 6, 100_000, 100_001, 100_002, 100_003, 100_004, 100_005,
    ]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(byId.get(1)).toEqual({
      id: 1,
      title: 'Сольный концерт Анна Петров',
      description: 'Большой концерт на стадионе: "хиты" разных лет.\nНачало в 19:00.',
      type: 'stage',
      provider: 'TicketRu',
      // No offset in the release: taken as UTC.
      datetime_start: new Date('2025-10-01T19:00:00Z'),
    });
    expect(byId.get(2)!.description).toBe(
      'Вечер, полный азарта; табуляция:\tздесь, обратная косая: \\ и юникод Ж.',
    );
    expect(byId.get(3)).toMatchObject({
      description: null,
      datetime_start: new Date('2025-10-03T09:00:00Z'),
    });
    expect(byId.get(4)!.description).toBeNull();
    expect(byId.get(6)!.title).toBe("It's a 'quoted' title");
    expect(byId.get(100_003)!.datetime_start).toEqual(new Date('2016-02-29T18:00:00Z'));
  });

  it('loads events.sql and events_archive.sql into exactly the same rows', async () => {
    expect(await catalogModule.import!(seedContext(sql), join(FIXTURES, 'release-sql'))).toEqual([
      report('events.sql', 6, 6),
      report('events_archive.sql', 6, 6),
    ]);
    expect(await rowsOf(sql)).toEqual(await rowsOf(json));
  });

  it('makes imported events searchable, current and archive alike', async () => {
    const [found] = await sql.sql<{ ids: number[] }[]>`
      select array_agg(id::int order by id) as ids from catalog_events
      where search @@ websearch_to_tsquery('russian', 'чемпионата')`;
    expect(found!.ids).toEqual([2, 100_001]);
  });

  it('skips rows that are there already when run again', async () => {
    expect(await catalogModule.import!(seedContext(sql), join(FIXTURES, 'release-json'))).toEqual([
      report('events.json', 6, 0),
      report('events_archive.json', 6, 0),
    ]);
    expect(await catalogModule.import!(seedContext(sql), join(FIXTURES, 'release-sql'))).toEqual([
      report('events.sql', 6, 0),
      report('events_archive.sql', 6, 0),
    ]);
    expect(await rowsOf(sql)).toHaveLength(12);
  });

  it('loads nothing from a directory without catalog files', async () => {
    expect(await catalogModule.import!(seedContext(sql), FIXTURES)).toEqual([]);
  });

  it('loads events.json.gz and events_archive.sql.gz into the same rows as the plain files', async () => {
    const dir = await releaseDir({
      'events.json.gz': gzipSync(await fixture('release-json', 'events.json')),
      'events_archive.sql.gz': gzipSync(await fixture('release-sql', 'events_archive.sql')),
    });
    try {
      expect(await catalogModule.import!(seedContext(gz), dir)).toEqual([
        report('events.json.gz', 6, 6),
        report('events_archive.sql.gz', 6, 6),
      ]);
      expect(await rowsOf(gz)).toEqual(await rowsOf(json));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads one file per data set: the plain file before its .gz, .json before .sql, and says so', async () => {
    const dir = await releaseDir({
      'events.sql.gz': gzipSync(await fixture('release-sql', 'events.sql')),
      'events.sql': await fixture('release-sql', 'events.sql'),
      // Would fail to read: proves it is left alone.
      'events_archive.json.gz': Buffer.from('not gzip'),
      'events_archive.json': await fixture('release-json', 'events_archive.json'),
      'events_archive.sql': 'not SQL either',
    });
    try {
      expect(await catalogModule.import!(seedContext(gz), dir)).toEqual([
        report('events.sql', 6, 0, ['events.sql.gz']),
        report('events_archive.json', 6, 0, ['events_archive.json.gz', 'events_archive.sql']),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a corrupt or truncated .gz, naming the file', async () => {
    const whole = gzipSync(
      Buffer.concat([await fixture('release-json', 'events.json'), Buffer.alloc(1 << 16, ' ')]),
    );
    const cases: [string, Buffer, RegExp][] = [
      [
        'events.json.gz',
        Buffer.from('[{"id": 1}]'),
        /^events\.json\.gz is not valid gzip data: incorrect header check/,
      ],
      ['events.json.gz', whole.subarray(0, whole.length - 12), /^events\.json\.gz is truncated/],
      [
        'events_archive.sql.gz',
        Buffer.concat([whole.subarray(0, 20), Buffer.alloc(64, 0xab)]),
        /^events_archive\.sql\.gz is not valid gzip data/,
      ],
    ];
    for (const [name, content, message] of cases) {
      const dir = await releaseDir({ [name]: content });
      try {
        await expect(catalogModule.import!(seedContext(gz), dir), name).rejects.toThrow(message);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    expect(await rowsOf(gz)).toHaveLength(12);
  });

  it('refuses a bad row or statement, naming it, and keeps the database as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'catalog-import-'));
    try {
      const cases: [string, string, RegExp][] = [
        [
          'events.json',
          '[{"id": 7, "title": "", "type": "film", "datetime_start": "2025-01-01", "provider": "x"}]',
          /event 7: title/,
        ],
        [
          'events.json',
          '[{"id": 7, "title": "A", "type": "film", "datetime_start": "2025-02-30T10:00:00", "provider": "x"}]',
          /event 7: datetime_start/,
        ],
        ['events.json', '[{"id": 7, "title": "A"} {"id": 8}]', /expected , or \]/],
        ['events.json', '[{"id": 7, "title": "A",', /ends inside an element/],
        [
          'events.sql',
          "INSERT INTO events (id, title, description, type, datetime_start, provider) VALUES (7, 'A', NULL, 'film', now(), 'x');",
          /statement 1: only literal values are accepted, found "now"/,
        ],
        ['events.sql', 'SELECT 1;\nINSERT INTO users (id) VALUES (1);', /INSERT into users, expected events/],
        ['events.sql', 'COPY events (id, title) FROM stdin;\n7\tA\n\\.\n', /COPY blocks are not supported/],
        ['events.sql', "INSERT INTO events VALUES (7, 'unterminated", /ends inside a quoted string/],
      ];
      for (const [file, content, message] of cases) {
        await rm(join(dir, 'events.json'), { force: true });
        await rm(join(dir, 'events.sql'), { force: true });
        await writeFile(join(dir, file), content);
        await expect(catalogModule.import!(seedContext(sql), dir), `${file}: ${content}`).rejects.toThrow(
          message,
        );
      }
      expect(await rowsOf(sql)).toHaveLength(12);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs as `boxoffice import DIR` from the command line', async () => {
    const cli = await createTestDatabase();
    try {
      const run = spawnNode(['import', join(FIXTURES, 'release-sql')], {
        DATABASE_URL: cli.url,
        LOG_LEVEL: 'info',
      });
      expect(await run.exited, run.output()).toMatchObject({ code: 0 });
      expect(await rowsOf(cli)).toHaveLength(12);
      expect(run.output()).toContain('events.sql: 6 read, 6 inserted, 0 skipped\n');
    } finally {
      await cli.drop();
    }
  });
});
