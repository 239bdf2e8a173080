import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { filesModule } from '../../src/files/index.ts';
import { type FilesService, filesService } from '../../src/files/service.ts';
import { identityModule } from '../../src/identity/index.ts';
import type { Platform } from '../../src/platform/context.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { testConfig } from '../helpers/config.ts';
import {
  createAccount,
  createTestDatabase,
  type TestDatabase,
  tokenFor,
} from '../identity/tokens/harness.ts';

export interface FilesServer {
  running: Running;
  platform: Platform;
  app: FastifyInstance;
  service: FilesService;
  stop(): Promise<void>;
}

/** The API role with identity and files, its storage elements under `dataDir`. */
export async function startFilesServer(
  db: TestDatabase,
  dataDir: string,
  overrides: Record<string, string> = {},
): Promise<FilesServer> {
  const running = await runRole(
    'api',
    testConfig({ DATABASE_URL: db.url, DATA_DIR: dataDir, ...overrides }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    [identityModule, filesModule],
  );
  const service = await filesService(running.platform);
  return { running, platform: running.platform, app: running.app!, service, stop: () => running.stop() };
}

export async function tempDir(label: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `boxoffice-files-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function bearer(
  db: TestDatabase,
  app: FastifyInstance,
  role: 'ADMIN' | 'USER' | 'AUDITOR' | 'READONLY',
) {
  // A generous rate limit: these tests send more than the default burst with one token.
  const account = await createAccount(db, role, { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  return `Bearer ${await tokenFor(app, account)}`;
}

export const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
export const sha256b64 = (data: Buffer | string) => createHash('sha256').update(data).digest('base64');

/** A multipart/form-data body by hand: the parts in the order given. */
export function multipartBody(
  parts: (
    | { name: string; value: string }
    | { name: string; filename: string; contentType: string; data: Buffer }
  )[],
): { body: Buffer; contentType: string } {
  const boundary = `----boxoffice${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    if ('filename' in part) {
      chunks.push(
        Buffer.from(
          `Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.contentType}\r\n\r\n`,
        ),
      );
      chunks.push(part.data, Buffer.from('\r\n'));
    } else {
      chunks.push(
        Buffer.from(`Content-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`),
      );
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A raw upload through inject. */
export function rawUpload(
  app: FastifyInstance,
  authorization: string,
  data: Buffer,
  options: { filename?: string; contentType?: string; headers?: Record<string, string> } = {},
) {
  return app.inject({
    method: 'POST',
    url: '/api/files',
    headers: {
      authorization,
      'content-type': options.contentType ?? 'application/octet-stream',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(options.filename ?? 'file.bin')}`,
      ...options.headers,
    },
    payload: data,
  });
}

export { createTestDatabase, type TestDatabase };
