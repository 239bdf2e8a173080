import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { findReleaseFile, readReleaseChunks } from '../../src/platform/import/release-file.ts';

const silent = pino({ level: 'silent' });

function releaseDir(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'release-file-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe('release files', () => {
  it('picks one file per data set: formats in order, a plain file before its .gz', () => {
    const dir = releaseDir({ 'users.sql.gz': '', 'users.sql': '', 'users.csv.gz': '' });
    expect(findReleaseFile(dir, 'users', ['csv', 'sql'], silent)).toEqual({
      file: { name: 'users.csv.gz', path: join(dir, 'users.csv.gz'), format: 'csv', gzip: true, bytes: 0 },
      ignored: ['users.sql', 'users.sql.gz'],
    });
    expect(findReleaseFile(dir, 'events', ['json', 'sql'], silent)).toBeUndefined();
  });

  it('decompresses a .gz in chunks, never the whole file at once, counting the bytes on disk', async () => {
    // 4 MB of text that compresses well: a whole-file read would come back as one chunk.
    const text = 'a release row, more or less;\n'.repeat(150_000);
    const packed = gzipSync(text);
    const dir = releaseDir({ 'events.json.gz': packed });
    const { file } = findReleaseFile(dir, 'events', ['json'], silent)!;
    let bytes = 0;
    let chunks = 0;
    let largest = 0;
    const parts: Buffer[] = [];
    for await (const chunk of readReleaseChunks(file, (n) => {
      bytes += n;
    })) {
      chunks++;
      largest = Math.max(largest, chunk.length);
      parts.push(chunk);
    }
    expect(Buffer.concat(parts).toString()).toBe(text);
    expect(chunks).toBeGreaterThan(10);
    expect(largest).toBeLessThan(text.length / 10);
    expect(bytes).toBe(packed.length);
  });

  it('names the file when its gzip data is corrupt or truncated', async () => {
    const packed = gzipSync('x'.repeat(1 << 20) + Math.random().toString().repeat(50_000));
    const read = async (content: Buffer) => {
      const dir = releaseDir({ 'users.csv.gz': content });
      for await (const _ of readReleaseChunks(findReleaseFile(dir, 'users', ['csv'], silent)!.file)) {
        // drain
      }
    };
    await expect(read(Buffer.from('plain text'))).rejects.toThrow(
      /^users\.csv\.gz is not valid gzip data: incorrect header check$/,
    );
    await expect(read(packed.subarray(0, packed.length - 100))).rejects.toThrow(
      /^users\.csv\.gz is truncated \(the gzip data ends early\)/,
    );
  });
});
