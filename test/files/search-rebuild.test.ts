import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFiles } from '../../src/files/check.ts';
import { filePaths } from '../../src/files/layout.ts';
import { rebuildCache } from '../../src/files/rebuild.ts';
import { SCRUB_TASK, scrubTasks } from '../../src/files/scrub.ts';
import { runCli } from '../helpers/process.ts';
import {
  bearer,
  createTestDatabase,
  type FilesServer,
  multipartBody,
  startFilesServer,
  type TestDatabase,
  tempDir,
} from './harness.ts';

/** Search (exact, prefix, full text in Russian and English, tags, dates), metadata PATCH, rebuild and check. */
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: FilesServer;
let user: string;
const ids: Record<string, string> = {};
const root = () => join(dir.path, 'files', 'se-1');
const noProgress = () => ({ tick() {}, done() {} });

async function upload(filename: string, contentType: string, metadata: Record<string, unknown>) {
  const mp = multipartBody([
    { name: 'metadata', value: JSON.stringify(metadata) },
    { name: 'file', filename, contentType, data: Buffer.from(`bytes of ${filename}`) },
  ]);
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/files',
    headers: { authorization: user, 'content-type': mp.contentType },
    payload: mp.body,
  });
  expect(response.statusCode, response.body).toBe(201);
  ids[filename] = response.json().file_id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('search');
  server = await startFilesServer(db, dir.path);
  user = await bearer(db, server.app, 'USER');
  await upload('Отчёт о продажах.pdf', 'application/pdf', {
    description: 'Квартальный отчёт по концертам',
    tags: ['report', 'финансы'],
  });
  await upload('report-2024.csv', 'text/csv', {
    description: 'Quarterly sales of the concerts',
    tags: ['report'],
  });
  await upload('билет-42.pdf', 'application/pdf', {
    description: 'Электронный билет',
    tags: ['ticket'],
    booking: '42',
  });
  await upload('photo.jpg', 'image/jpeg', {});
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await dir?.remove();
});

async function search(query: string): Promise<string[]> {
  const response = await server.app.inject({
    method: 'GET',
    url: `/api/files?${query}`,
    headers: { authorization: user },
  });
  expect(response.statusCode, `${query}: ${response.body}`).toBe(200);
  return (response.json().items as { filename: string }[]).map((f) => f.filename).sort();
}

const QUERIES: [string, string[]][] = [
  [`filename=${encodeURIComponent('photo.jpg')}`, ['photo.jpg']],
  ['filename=photo', []],
  [`filename_prefix=${encodeURIComponent('БИЛ')}`, ['билет-42.pdf']],
  ['filename_prefix=rep', ['report-2024.csv']],
  ['filename_prefix=%25', []], // a LIKE wildcard is a character here
  ['content_type=application%2Fpdf', ['Отчёт о продажах.pdf', 'билет-42.pdf'].sort()],
  ['tag=report', ['report-2024.csv', 'Отчёт о продажах.pdf'].sort()],
  [`tag=${encodeURIComponent('финансы')}`, ['Отчёт о продажах.pdf']],
  [`q=${encodeURIComponent('отчеты')}`, ['Отчёт о продажах.pdf']], // Russian stemming, ё folded
  [`q=${encodeURIComponent('концерт')}`, ['Отчёт о продажах.pdf']],
  ['q=concert', ['report-2024.csv']], // English stemming: concerts → concert
  ['q=reports', ['report-2024.csv', 'Отчёт о продажах.pdf'].sort()], // filename words and tags
  [`q=${encodeURIComponent('билет')}`, ['билет-42.pdf']],
  ['q=2024', ['report-2024.csv']],
  [
    'created_from=2000-01-01T00:00:00Z&created_to=2100-01-01T00:00:00Z',
    ['photo.jpg', 'report-2024.csv', 'Отчёт о продажах.pdf', 'билет-42.pdf'].sort(),
  ],
  ['created_to=2000-01-01T00:00:00Z', []],
];

describe('GET /api/files', () => {
  it.each(QUERIES)('%s', async (query, expected) => {
    expect(await search(query)).toEqual(expected);
  });

  it('pages with a total; a bad parameter is 400', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/files?pageSize=3&page=2',
      headers: { authorization: user },
    });
    expect(response.json()).toMatchObject({ total: 4, page: 2, pageSize: 3 });
    expect(response.json().items).toHaveLength(1);
    for (const query of ['created_from=yesterday', 'pageSize=0', 'pageSize=501', 'page=0'])
      expect(
        (
          await server.app.inject({
            method: 'GET',
            url: `/api/files?${query}`,
            headers: { authorization: user },
          })
        ).statusCode,
        query,
      ).toBe(400);
  });
});

describe('metadata', () => {
  it('GET is the attr.json; PATCH changes fields (null removes), rewrites attr.json atomically and updates search', async () => {
    const id = ids['photo.jpg']!;
    const before = await server.app.inject({
      method: 'GET',
      url: `/api/files/${id}/metadata`,
      headers: { authorization: user },
    });
    expect(before.json()).toEqual(JSON.parse(await readFile(filePaths(root(), id).attr, 'utf8')));
    expect(before.json()).toMatchObject({
      file_id: id,
      filename: 'photo.jpg',
      size_bytes: 'bytes of photo.jpg'.length,
      storage_element_id: 'se-1',
    });
    const patched = await server.app.inject({
      method: 'PATCH',
      url: `/api/files/${id}/metadata`,
      headers: { authorization: user },
      payload: { description: 'Фото со сцены', tags: ['photo', 'сцена'], photographer: 'Анна' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().metadata).toEqual({
      description: 'Фото со сцены',
      tags: ['photo', 'сцена'],
      photographer: 'Анна',
    });
    const removed = await server.app.inject({
      method: 'PATCH',
      url: `/api/files/${id}/metadata`,
      headers: { authorization: user },
      payload: { photographer: null },
    });
    expect(removed.json().metadata).toEqual({ description: 'Фото со сцены', tags: ['photo', 'сцена'] });
    expect(JSON.parse(await readFile(filePaths(root(), id).attr, 'utf8')).metadata).toEqual(
      removed.json().metadata,
    );
    expect(await search(`q=${encodeURIComponent('сцены')}`)).toEqual(['photo.jpg']);
    expect(await search('tag=photo')).toEqual(['photo.jpg']);
    for (const payload of [{ tags: 'x' }, { custom: 5 }, { 'bad key': 'x' }, []]) {
      const bad = await server.app.inject({
        method: 'PATCH',
        url: `/api/files/${id}/metadata`,
        headers: { authorization: user },
        payload,
      });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const audits =
      await db.sql`select 1 from audit_log where action = 'file.metadata_update' and resource = ${`file:${id}`}`;
    expect(audits.length).toBe(2);
  });
});

describe('rebuild and check', () => {
  it('rebuild after the cache is wiped gives the same search answers; a second rebuild changes nothing', async () => {
    const answers = await Promise.all(QUERIES.map(([query]) => search(query)));
    const withMetadata = await search('tag=photo');
    await db.sql`delete from files`;
    expect(await search('')).toEqual([]);
    const first = await rebuildCache({ db: db.sql, config: server.platform.config }, noProgress);
    expect(first).toMatchObject({ scanned: 4, inserted: 4, updated: 0, removed: 0, skipped: [] });
    expect(await Promise.all(QUERIES.map(([query]) => search(query)))).toEqual(answers);
    expect(await search('tag=photo')).toEqual(withMetadata);
    const second = await rebuildCache({ db: db.sql, config: server.platform.config }, noProgress);
    expect(second).toMatchObject({ scanned: 4, inserted: 0, updated: 0, unchanged: 4, removed: 0 });
  });

  it('check finds missing bytes, orphans, unreadable attr.json, size and (full) checksum mismatches; the CLI exits 1', async () => {
    const config = { db: db.sql, config: server.platform.config };
    expect((await checkFiles(config, { full: true })).findings).toEqual([]);
    // Damage: one file's bytes gone, one attr.json truncated, one file the same size but other bytes,
    // one shorter, and a directory the cache does not know.
    await rm(filePaths(root(), ids['photo.jpg']!).data);
    await truncate(filePaths(root(), ids['report-2024.csv']!).attr, 10);
    const flipped = filePaths(root(), ids['билет-42.pdf']!).data;
    const text = await readFile(flipped, 'utf8');
    await writeFile(flipped, text.replace('bytes', 'BYTES'));
    await truncate(filePaths(root(), ids['Отчёт о продажах.pdf']!).data, 3);
    const stray = '0123abcd-0000-4000-8000-000000000000';
    await rebuildCacheless(stray);
    const quick = await checkFiles(config, { full: false });
    const kinds = (report: typeof quick) => report.findings.map((f) => `${f.kind}:${f.fileId ?? ''}`).sort();
    expect(kinds(quick)).toEqual(
      [
        `missing_bytes:${ids['photo.jpg']}`,
        `unreadable_attr:${ids['report-2024.csv']}`,
        `size_mismatch:${ids['Отчёт о продажах.pdf']}`,
        `orphan:${stray}`,
      ].sort(),
    );
    const full = await checkFiles(config, { full: true });
    expect(kinds(full)).toEqual([...kinds(quick), `checksum_mismatch:${ids['билет-42.pdf']}`].sort());

    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      DATA_DIR: dir.path,
      LOG_LEVEL: 'silent',
      MASTER_KEY: server.platform.config.MASTER_KEY!,
    };
    const cli = await runCli(['files', 'check', '--full', '--json'], env);
    expect(cli.code, cli.stderr).toBe(1);
    expect(JSON.parse(cli.stdout).findings).toHaveLength(5);

    // The scheduled scrub reports the same to the audit log and the metrics.
    await scrubTasks(server.platform)[SCRUB_TASK]!(
      { force: true },
      { attempt: 1, maxAttempts: 1, signal: new AbortController().signal },
    );
    const [entry] = await db.sql<{ result: string; metadata: { counts: Record<string, number> } }[]>`
      select result, metadata from audit_log where action = 'files.scrub' order by id desc limit 1`;
    expect(entry!.result).toBe('failure');
    expect(entry!.metadata.counts).toMatchObject({
      missing_bytes: 1,
      orphan: 1,
      unreadable_attr: 1,
      size_mismatch: 1,
    });
    const metrics = await server.platform.metrics.metrics();
    expect(metrics).toMatch(/files_scrub_findings\{kind="missing_bytes"\} 1/);
    expect(metrics).toMatch(/file_operations_total\{operation="scrub",result="failure"\} 1/);
    expect(metrics).toMatch(/file_operations_total\{operation="upload",result="success"\} 4/);
    expect(metrics).toMatch(/storage_space_used_bytes\{element="se-1"\} \d+/);
  });
});

/** A file directory with data and a valid attr.json that the cache has never seen. */
async function rebuildCacheless(id: string) {
  const paths = filePaths(root(), id);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(paths.dir, { recursive: true });
  await writeFile(paths.data, 'x');
  await writeFile(
    paths.attr,
    JSON.stringify({
      file_id: id,
      filename: 'stray',
      content_type: 'text/plain',
      size_bytes: 1,
      checksum: `sha256:${'2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'}`,
      storage_element_id: 'se-1',
      created_at: new Date().toISOString(),
    }),
  );
}
