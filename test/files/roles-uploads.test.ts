import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestDatabase,
  type FilesServer,
  multipartBody,
  rawUpload,
  sha256hex,
  startFilesServer,
  type TestDatabase,
  tempDir,
} from './harness.ts';

/** Who may do what (USER writes, READONLY reads, AUDITOR neither), and the edges of the upload formats. */
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: FilesServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('roles');
  server = await startFilesServer(db, dir.path, { FILES_MAX_UPLOAD_BYTES: '100000' });
  for (const role of ['ADMIN', 'USER', 'READONLY', 'AUDITOR'] as const)
    tokens[role] = await bearer(db, server.app, role);
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await dir?.remove();
});

const call = (role: string, method: 'GET' | 'HEAD' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  server.app.inject({
    method,
    url,
    headers: { authorization: tokens[role]! },
    ...(payload ? { payload } : {}),
  });

describe('roles', () => {
  it('USER uploads, reads, changes and deletes; READONLY only reads; AUDITOR does neither; nobody without a token', async () => {
    const stored = await rawUpload(server.app, tokens.USER!, Buffer.from('by USER'));
    expect(stored.statusCode).toBe(201);
    const id = stored.json().file_id;
    expect((await rawUpload(server.app, tokens.READONLY!, Buffer.from('x'))).statusCode).toBe(403);
    expect((await rawUpload(server.app, tokens.AUDITOR!, Buffer.from('x'))).statusCode).toBe(403);
    const anonymous = await server.app.inject({
      method: 'POST',
      url: '/api/files',
      payload: Buffer.from('x'),
    });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);

    for (const role of ['USER', 'READONLY']) {
      expect((await call(role, 'GET', `/api/files/${id}`)).statusCode, role).toBe(200);
      expect((await call(role, 'HEAD', `/api/files/${id}`)).statusCode, role).toBe(200);
      expect((await call(role, 'GET', `/api/files/${id}/metadata`)).statusCode, role).toBe(200);
      expect((await call(role, 'GET', '/api/files')).statusCode, role).toBe(200);
      expect((await call(role, 'GET', '/api/storage-elements')).statusCode, role).toBe(200);
    }
    for (const url of [
      `/api/files/${id}`,
      `/api/files/${id}/metadata`,
      '/api/files',
      '/api/storage-elements',
    ])
      expect((await call('AUDITOR', 'GET', url)).statusCode, url).toBe(403);
    expect(
      (await call('READONLY', 'PATCH', `/api/files/${id}/metadata`, { description: 'x' })).statusCode,
    ).toBe(403);
    expect((await call('READONLY', 'DELETE', `/api/files/${id}`)).statusCode).toBe(403);
    // Only ADMIN manages elements.
    expect((await call('USER', 'PATCH', '/api/storage-elements/se-1', { mode: 'ro' })).statusCode).toBe(403);
    expect((await call('USER', 'PATCH', `/api/files/${id}/metadata`, { description: 'x' })).statusCode).toBe(
      200,
    );
    expect((await call('USER', 'DELETE', `/api/files/${id}`)).statusCode).toBe(204);
    const audit = await db.sql<
      { action: string }[]
    >`select action from audit_log where resource = ${`file:${id}`} order by id`;
    expect(audit.map((a) => a.action)).toEqual(['file.upload', 'file.metadata_update', 'file.delete']);
  });
});

describe('OpenAPI', () => {
  it('lists every files route with its methods', async () => {
    const spec = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = (path: string) => Object.keys(spec.paths[path] ?? {}).sort();
    expect(methods('/api/files')).toEqual(['get', 'post']);
    expect(methods('/api/files/{id}')).toEqual(['delete', 'get', 'head']);
    expect(methods('/api/files/{id}/metadata')).toEqual(['get', 'patch']);
    expect(methods('/api/storage-elements')).toEqual(['get']);
    expect(methods('/api/storage-elements/{id}')).toEqual(['patch']);
  });
});

describe('upload formats', () => {
  const post = (headers: Record<string, string>, payload: Buffer) =>
    server.app.inject({
      method: 'POST',
      url: '/api/files',
      headers: { authorization: tokens.USER!, ...headers },
      payload,
    });

  it('multipart: metadata before or after the file; a plain filename= with UTF-8 bytes', async () => {
    const data = Buffer.from('multipart bytes');
    for (const order of ['before', 'after']) {
      const meta = { name: 'metadata', value: JSON.stringify({ description: order }) };
      const file = { name: 'file', filename: 'схема зала.png', contentType: 'image/png', data };
      const mp = multipartBody(order === 'before' ? [meta, file] : [file, meta]);
      const response = await post({ 'content-type': mp.contentType }, mp.body);
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json()).toMatchObject({
        filename: 'схема зала.png',
        content_type: 'image/png',
        size_bytes: data.length,
        checksum: `sha256:${sha256hex(data)}`,
        metadata: { description: order },
      });
    }
    const raw = await post(
      {
        'content-type': 'text/plain',
        'content-disposition': `attachment; filename="${Buffer.from('план.txt').toString('latin1')}"`,
      },
      Buffer.from('x'),
    );
    expect(raw.json().filename).toBe('план.txt');
  });

  it('refuses bad uploads with a clear 4xx and keeps nothing', async () => {
    const count = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from files`)[0]!.n;
    const before = await count();
    const noFile = multipartBody([{ name: 'metadata', value: '{}' }]);
    const cases: [Record<string, string>, Buffer, number][] = [
      [{ 'content-type': noFile.contentType }, noFile.body, 400],
      [{ 'content-type': 'text/plain' }, Buffer.from('no filename'), 400],
      [{ 'content-type': 'text/plain', 'content-disposition': 'attachment' }, Buffer.from('x'), 400],
      [
        { 'content-type': 'nonsense', 'content-disposition': 'attachment; filename="a"' },
        Buffer.from('x'),
        415,
      ],
      [
        { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="a\\u0000b"' },
        Buffer.from('x'),
        201,
      ],
    ];
    const badMeta = multipartBody([
      { name: 'metadata', value: '{not json' },
      { name: 'file', filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('x') },
    ]);
    cases.push([{ 'content-type': badMeta.contentType }, badMeta.body, 400]);
    const wrongTypes = multipartBody([
      { name: 'metadata', value: JSON.stringify({ tags: [1] }) },
      { name: 'file', filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('x') },
    ]);
    cases.push([{ 'content-type': wrongTypes.contentType }, wrongTypes.body, 400]);
    const late = multipartBody([
      { name: 'file', filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('x') },
      { name: 'metadata', value: JSON.stringify({ n: 5 }) },
    ]);
    cases.push([{ 'content-type': late.contentType }, late.body, 400]);
    const big = multipartBody([
      {
        name: 'file',
        filename: 'big.bin',
        contentType: 'application/octet-stream',
        data: Buffer.alloc(100_001),
      },
    ]);
    cases.push([{ 'content-type': big.contentType }, big.body, 413]);
    const two = multipartBody([
      { name: 'file', filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('x') },
      { name: 'file', filename: 'b.txt', contentType: 'text/plain', data: Buffer.from('y') },
    ]);
    cases.push([{ 'content-type': two.contentType }, two.body, 400]);
    let stored = 0;
    for (const [headers, body, status] of cases) {
      const response = await post(headers, body);
      expect(response.statusCode, `${JSON.stringify(headers)} → ${response.body}`).toBe(status);
      if (status === 201) stored += 1;
      else
        expect(response.json()).toMatchObject({
          code: expect.any(String),
          message: expect.any(String),
          requestId: expect.any(String),
        });
    }
    expect(await count()).toBe(before + stored);
  });
});
