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

/** Downloads: ranges (a-b, a-, -n, beyond the end, several), 416, ETag and If-None-Match, HEAD, empty files, names. */
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: FilesServer;
let user: string;
const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
let id: string;
let emptyId: string;
let etag: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('download');
  server = await startFilesServer(db, dir.path);
  user = await bearer(db, server.app, 'USER');
  const stored = await rawUpload(server.app, user, data, {
    filename: 'Билет на концерт «Весна».pdf',
    contentType: 'application/pdf',
  });
  id = stored.json().file_id;
  etag = `"${stored.json().checksum}"`;
  emptyId = (
    await rawUpload(server.app, user, Buffer.alloc(0), { filename: 'empty.txt', contentType: 'text/plain' })
  ).json().file_id;
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  await dir?.remove();
});

const get = (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') =>
  server.app.inject({ method, url, headers: { authorization: user, ...headers } });

describe('GET /api/files/{id}', () => {
  it('answers the whole file with ETag, Accept-Ranges and a Content-Disposition that carries the Russian name', async () => {
    const response = await get(`/api/files/${id}`);
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(data)).toBe(true);
    expect(response.headers.etag).toBe(etag);
    expect(response.headers['accept-ranges']).toBe('bytes');
    expect(response.headers['content-type']).toBe('application/pdf');
    expect(response.headers['content-length']).toBe('1000');
    const disposition = String(response.headers['content-disposition']);
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
    const encoded = /filename\*=UTF-8''(.+)$/.exec(disposition)![1]!;
    expect(decodeURIComponent(encoded)).toBe('Билет на концерт «Весна».pdf');
    expect(/filename="([^"]*)"/.exec(disposition)![1]).toBe('_____ __ _______ _______.pdf');
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=990-', 990, 999],
    ['bytes=-10', 990, 999],
    ['bytes=500-5000', 500, 999], // an end beyond the file is cut at its end
    ['bytes=-5000', 0, 999], // a suffix longer than the file is the whole file
    ['bytes=999-999', 999, 999],
    ['bytes=0-0', 0, 0],
    ['BYTES = 10-19', 10, 19],
  ])('Range %s → 206 with bytes %i-%i', async (range, start, end) => {
    const response = await get(`/api/files/${id}`, { range });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes ${start}-${end}/1000`);
    expect(response.headers['content-length']).toBe(String(end - start + 1));
    expect(response.rawPayload.equals(data.subarray(start, end + 1))).toBe(true);
  });

  it.each(['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=1000-1000,2000-'])(
    'an unsatisfiable Range %s → 416 with Content-Range: bytes */size',
    async (range) => {
      const response = await get(`/api/files/${id}`, { range });
      expect(response.statusCode).toBe(416);
      expect(response.headers['content-range']).toBe('bytes */1000');
      expect(response.json().code).toBe('RANGE_NOT_SATISFIABLE');
    },
  );

  it('several ranges, a malformed one or another unit: the whole file (200)', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=abc', 'items=0-5', 'bytes=9-5', 'bytes=1-2-3']) {
      const response = await get(`/api/files/${id}`, { range });
      expect(response.statusCode, range).toBe(200);
      expect(response.rawPayload.length).toBe(1000);
    }
    // Overlapping ranges are one range.
    const merged = await get(`/api/files/${id}`, { range: 'bytes=0-9,5-19' });
    expect(merged.statusCode).toBe(206);
    expect(merged.headers['content-range']).toBe('bytes 0-19/1000');
  });

  it('If-Range with another ETag: the whole file; with this one: the range', async () => {
    expect((await get(`/api/files/${id}`, { range: 'bytes=0-9', 'if-range': '"other"' })).statusCode).toBe(
      200,
    );
    expect((await get(`/api/files/${id}`, { range: 'bytes=0-9', 'if-range': etag })).statusCode).toBe(206);
  });

  it('If-None-Match with the ETag (alone, in a list, weak, or *) → 304 without a body; another → 200', async () => {
    for (const header of [etag, `"x", ${etag}`, `W/${etag}`, '*']) {
      const response = await get(`/api/files/${id}`, { 'if-none-match': header });
      expect(response.statusCode, header).toBe(304);
      expect(response.rawPayload.length).toBe(0);
      expect(response.headers.etag).toBe(etag);
    }
    expect((await get(`/api/files/${id}`, { 'if-none-match': '"sha256:other"' })).statusCode).toBe(200);
  });

  it('HEAD answers the headers only', async () => {
    const response = await get(`/api/files/${id}`, {}, 'HEAD');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe('1000');
    expect(response.headers.etag).toBe(etag);
    expect(response.rawPayload.length).toBe(0);
    const ranged = await get(`/api/files/${id}`, { range: 'bytes=0-9' }, 'HEAD');
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-length']).toBe('10');
  });

  it('an empty file: 200 with no bytes; any range is unsatisfiable (416 bytes */0)', async () => {
    const whole = await get(`/api/files/${emptyId}`);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-length']).toBe('0');
    expect(whole.rawPayload.length).toBe(0);
    for (const range of ['bytes=0-', 'bytes=-1', 'bytes=0-0']) {
      const response = await get(`/api/files/${emptyId}`, { range });
      expect(response.statusCode, range).toBe(416);
      expect(response.headers['content-range']).toBe('bytes */0');
    }
  });

  it('an unknown or malformed id → 404', async () => {
    expect((await get('/api/files/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await get('/api/files/not-a-uuid')).statusCode).toBe(404);
  });
});
