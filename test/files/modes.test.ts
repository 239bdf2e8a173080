import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestDatabase,
  type FilesServer,
  rawUpload,
  startFilesServer,
  type TestDatabase,
  tempDir,
} from './harness.ts';

/**
 * Storage element modes: rw → ro → ar by the API only, persisted over a restart; ro and ar refuse
 * uploads and metadata changes (409), delete only in edit; edit → rw and leaving ar by configuration.
 */
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: FilesServer;
let admin: string;
const elements = (a: string, b: string) => `a:${join('el', 'a')}:${a},b:${join('el', 'b')}:${b}:1M`;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('modes');
  server = await startFilesServer(db, dir.path, { FILES_ELEMENTS: elements('edit', 'rw') });
  admin = await bearer(db, server.app, 'ADMIN');
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await dir?.remove();
});

const patchMode = (id: string, mode: unknown) =>
  server.app.inject({
    method: 'PATCH',
    url: `/api/storage-elements/${id}`,
    headers: { authorization: admin },
    payload: { mode },
  });
const listElements = async () =>
  (
    await server.app.inject({
      method: 'GET',
      url: '/api/storage-elements',
      headers: { authorization: admin },
    })
  ).json() as {
    id: string;
    mode: string;
    capacity_bytes: number;
    used_bytes: number;
    free_bytes: number;
    files: number;
  }[];

describe('storage element modes', () => {
  it('lists the configured elements with mode, capacity, space used and free, files', async () => {
    const list = await listElements();
    expect(list.map((e) => [e.id, e.mode])).toEqual([
      ['a', 'edit'],
      ['b', 'rw'],
    ]);
    const b = list.find((e) => e.id === 'b')!;
    expect(b.capacity_bytes).toBe(1024 * 1024);
    expect(b.used_bytes).toBe(0);
    expect(b.free_bytes).toBe(1024 * 1024);
    expect(b.files).toBe(0);
  });

  it('refuses every transition but rw → ro and ro → ar with 409 naming the ones that exist', async () => {
    for (const [id, to] of [
      ['a', 'rw'],
      ['a', 'ro'],
      ['b', 'edit'],
      ['b', 'ar'],
      ['b', 'rw'],
    ] as const) {
      const response = await patchMode(id, to);
      expect(response.statusCode, `${id} → ${to}`).toBe(409);
      expect(response.json().code).toBe('STORAGE_MODE_TRANSITION_NOT_ALLOWED');
      expect(response.json().message).toContain('rw → ro, ro → ar');
    }
    expect((await patchMode('b', 'nonsense')).statusCode).toBe(400);
    expect((await patchMode('b', 5)).statusCode).toBe(400);
    expect((await patchMode('zzz', 'ro')).statusCode).toBe(404);
  });

  it('puts an upload on the writable element with the most free space', async () => {
    // a (the whole disk) has more room than b (1 MiB): uploads land on a.
    const first = await rawUpload(server.app, admin, Buffer.from('on a'));
    expect(first.json().storage_element_id).toBe('a');
  });

  it('rw → ro: uploads go elsewhere, metadata changes are 409; ro → ar; the mode survives a restart', async () => {
    // b only, to see its refusals.
    await server.stop();
    server = await startFilesServer(db, dir.path, { FILES_ELEMENTS: `b:${join('el', 'b')}:rw:1M` });
    admin = await bearer(db, server.app, 'ADMIN');
    const stored = await rawUpload(server.app, admin, Buffer.alloc(1000, 1));
    expect(stored.statusCode).toBe(201);
    expect(stored.json().storage_element_id).toBe('b');
    const id = stored.json().file_id;
    // rw: no delete
    const del = await server.app.inject({
      method: 'DELETE',
      url: `/api/files/${id}`,
      headers: { authorization: admin },
    });
    expect(del.statusCode).toBe(409);
    expect(del.json().code).toBe('FILE_DELETE_NOT_ALLOWED');
    // 507: larger than what is left of 1 MiB
    const full = await rawUpload(server.app, admin, Buffer.alloc(1024 * 1024));
    expect(full.statusCode).toBe(507);
    expect(full.json().code).toBe('STORAGE_FULL');

    const ro = await patchMode('b', 'ro');
    expect(ro.statusCode).toBe(200);
    expect(ro.json()).toMatchObject({ id: 'b', mode: 'ro', used_bytes: 1000, files: 1 });
    const refused = await rawUpload(server.app, admin, Buffer.from('x'));
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('STORAGE_READ_ONLY');
    const meta = await server.app.inject({
      method: 'PATCH',
      url: `/api/files/${id}/metadata`,
      headers: { authorization: admin },
      payload: { description: 'x' },
    });
    expect(meta.statusCode).toBe(409);
    // Reads still work.
    expect(
      (await server.app.inject({ method: 'GET', url: `/api/files/${id}`, headers: { authorization: admin } }))
        .statusCode,
    ).toBe(200);

    // A restart with the same configuration keeps ro.
    await server.stop();
    server = await startFilesServer(db, dir.path, { FILES_ELEMENTS: `b:${join('el', 'b')}:rw:1M` });
    admin = await bearer(db, server.app, 'ADMIN');
    expect((await listElements())[0]!.mode).toBe('ro');
    expect((await patchMode('b', 'ar')).statusCode).toBe(200);
    expect((await rawUpload(server.app, admin, Buffer.from('x'))).statusCode).toBe(409);
    expect((await patchMode('b', 'ro')).statusCode).toBe(409); // ar is left only by configuration

    const audit = await db.sql<{ metadata: { from: string; to: string } }[]>`
      select metadata from audit_log where action = 'storage_element.mode_change' order by id`;
    expect(audit.map((a) => `${a.metadata.from}->${a.metadata.to}`)).toEqual(['rw->ro', 'ro->ar']);
  });

  it('leaving ar and edit → rw are configuration changes with a restart; delete works only in edit', async () => {
    await server.stop();
    server = await startFilesServer(db, dir.path, { FILES_ELEMENTS: `b:${join('el', 'b')}:edit:1M` });
    admin = await bearer(db, server.app, 'ADMIN');
    expect((await listElements())[0]!.mode).toBe('edit');
    const [row] = await db.sql<
      { file_id: string }[]
    >`select file_id::text from files where storage_element_id = 'b'`;
    const del = await server.app.inject({
      method: 'DELETE',
      url: `/api/files/${row!.file_id}`,
      headers: { authorization: admin },
    });
    expect(del.statusCode).toBe(204);
    expect(
      (
        await server.app.inject({
          method: 'GET',
          url: `/api/files/${row!.file_id}`,
          headers: { authorization: admin },
        })
      ).statusCode,
    ).toBe(404);
    expect((await listElements())[0]).toMatchObject({ used_bytes: 0, files: 0 });
    await server.stop();
    server = await startFilesServer(db, dir.path, { FILES_ELEMENTS: `b:${join('el', 'b')}:rw:1M` });
    admin = await bearer(db, server.app, 'ADMIN');
    expect((await listElements())[0]!.mode).toBe('rw');
    const configured = await db.sql`select 1 from audit_log where action = 'storage_element.mode_configured'`;
    expect(configured.length).toBe(2); // ar → edit, edit → rw
  });
});
