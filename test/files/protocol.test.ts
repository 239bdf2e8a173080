import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFiles } from '../../src/files/check.ts';
import { WRITE_STEPS } from '../../src/files/protocol.ts';
import {
  bearer,
  createTestDatabase,
  type FilesServer,
  rawUpload,
  sha256b64,
  sha256hex,
  startFilesServer,
  type TestDatabase,
  tempDir,
} from './harness.ts';

/**
 * The write protocol with a failure injected before each of its steps: the upload is refused, and
 * nothing of it stays (no bytes, no attr.json, no temporary file, no row, no `file.stored` event);
 * after a restart `files check` is clean and every upload answered 201 reads back with its checksum.
 */
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: FilesServer;
let user: string;
const elementRoot = () => join(dir.path, 'files', 'se-1');

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('protocol');
  server = await startFilesServer(db, dir.path, { FILES_MAX_UPLOAD_BYTES: String(1024 * 1024) });
  user = await bearer(db, server.app, 'USER');
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await dir?.remove();
});

async function fileDirs(): Promise<string[]> {
  const found: string[] = [];
  for (const outer of await readdir(elementRoot())) {
    if (!/^[0-9a-f]{2}$/.test(outer)) continue;
    for (const inner of await readdir(join(elementRoot(), outer)))
      for (const id of await readdir(join(elementRoot(), outer, inner))) found.push(id);
  }
  return found.sort();
}
const tempFiles = () => readdir(join(elementRoot(), '.tmp'));
const storedEvents = async () =>
  (
    await db.sql<{ n: number }[]>`select count(*)::int as n from outbox_events where topic = 'file.stored'`
  )[0]!.n;
const uploadAudits = async () =>
  (
    await db.sql<
      { n: number }[]
    >`select count(*)::int as n from audit_log where action = 'file.upload' and result = 'success'`
  )[0]!.n;

describe('the write protocol under injected faults', () => {
  const answered = new Map<string, string>();

  it('stores a file when no step fails (the control)', async () => {
    const data = Buffer.from('the control upload');
    const response = await rawUpload(server.app, user, data);
    expect(response.statusCode, response.body).toBe(201);
    answered.set(response.json().file_id, `sha256:${sha256hex(data)}`);
    expect(await fileDirs()).toEqual([...answered.keys()].sort());
  });

  it.each(WRITE_STEPS)('a failure at step %s leaves nothing behind', async (failAt) => {
    const before = { dirs: await fileDirs(), events: await storedEvents(), audits: await uploadAudits() };
    let seen: string | undefined;
    server.service.hooks = {
      beforeStep(step, fileId) {
        if (step === failAt) {
          seen = fileId;
          throw new Error(`injected failure at ${step}`);
        }
      },
    };
    try {
      const response = await rawUpload(server.app, user, Buffer.alloc(200_000, failAt.length));
      expect(response.statusCode).toBe(500);
    } finally {
      server.service.hooks = {};
    }
    expect(seen).toBeDefined();
    expect(await fileDirs()).toEqual(before.dirs);
    expect(await tempFiles()).toEqual([]);
    expect((await db.sql`select 1 from files where file_id = ${seen!}`).length).toBe(0);
    // The outbox event and the audit entry went with the rolled-back row (or were never written).
    const events = await storedEvents();
    const removed = (
      await db.sql<{ n: number }[]>`
      select count(*)::int as n from outbox_events where topic = 'file.deleted' and key = ${seen!}`
    )[0]!.n;
    expect(events - before.events).toBe(removed);
    expect(await uploadAudits()).toBe(before.audits + removed);
    // And the next upload works.
    const data = Buffer.from(`after ${failAt}`);
    const next = await rawUpload(server.app, user, data);
    expect(next.statusCode, next.body).toBe(201);
    answered.set(next.json().file_id, `sha256:${sha256hex(data)}`);
  });

  it('refuses a Content-Digest mismatch with 400 and keeps nothing', async () => {
    const before = await fileDirs();
    const response = await rawUpload(server.app, user, Buffer.from('these bytes'), {
      headers: { 'content-digest': `sha-256=:${sha256b64('other bytes')}:` },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('FILE_DIGEST_MISMATCH');
    expect(await fileDirs()).toEqual(before);
    expect(await tempFiles()).toEqual([]);
    const good = await rawUpload(server.app, user, Buffer.from('these bytes'), {
      headers: { 'content-digest': `sha-256=:${sha256b64('these bytes')}:` },
    });
    expect(good.statusCode, good.body).toBe(201);
    answered.set(good.json().file_id, `sha256:${sha256hex('these bytes')}`);
    const malformed = await rawUpload(server.app, user, Buffer.from('x'), {
      headers: { 'content-digest': 'sha-256=:nope:' },
    });
    expect(malformed.statusCode).toBe(400);
  });

  it('refuses a body over the size limit with 413 and keeps nothing ', async () => {
    const before = await fileDirs();
    const response = await rawUpload(server.app, user, Buffer.alloc(1024 * 1024 + 1));
    expect(response.statusCode).toBe(413);
    expect(await fileDirs()).toEqual(before);
    expect(await tempFiles()).toEqual([]);
  });

  it('after a restart: files check is clean and every answered upload reads back with its checksum', async () => {
    await server.stop();
    server = await startFilesServer(db, dir.path);
    user = await bearer(db, server.app, 'USER');
    const report = await checkFiles({ db: db.sql, config: server.platform.config }, { full: true });
    expect(report.findings).toEqual([]);
    expect(report.filesChecked).toBe(answered.size);
    for (const [id, checksum] of answered) {
      const response = await server.app.inject({
        method: 'GET',
        url: `/api/files/${id}`,
        headers: { authorization: user },
      });
      expect(response.statusCode).toBe(200);
      expect(`sha256:${sha256hex(response.rawPayload)}`).toBe(checksum);
      expect(response.headers.etag).toBe(`"${checksum}"`);
    }
    const listed = await server.app.inject({
      method: 'GET',
      url: '/api/files?pageSize=500',
      headers: { authorization: user },
    });
    expect(
      listed
        .json()
        .items.map((f: { file_id: string }) => f.file_id)
        .sort(),
    ).toEqual([...answered.keys()].sort());
  });
});
