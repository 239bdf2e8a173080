import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFiles } from '../../src/files/check.ts';
import { testConfig } from '../helpers/config.ts';
import { spawnNode } from '../helpers/process.ts';
import { createAccount } from '../identity/tokens/harness.ts';
import {
  bearer,
  createTestDatabase,
  sha256hex,
  startFilesServer,
  type TestDatabase,
  tempDir,
} from './harness.ts';

/**
 * kill -9 of a real API process in the middle of uploads, then a restart: the write-ahead log is
 * replayed, `files check --full` is clean, every upload answered 201 reads back with its checksum,
 * an upload killed before its bytes and attr.json were durable is gone, one killed after is complete.
 */
const SCRIPT = fileURLToPath(new URL('./fixtures/crash-server.ts', import.meta.url));
let db: TestDatabase;
let dir: Awaited<ReturnType<typeof tempDir>>;
let env: Record<string, string>;
let account: Awaited<ReturnType<typeof createAccount>>;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await tempDir('crash');
  account = await createAccount(db, 'USER', { rateLimit: { perMinute: 1_000_000, burst: 1_000_000 } });
  env = {
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    DATA_DIR: dir.path,
    PORT: '0',
    SEED_DEMO_ON_START: 'false',
    LOG_LEVEL: 'silent',
    MASTER_KEY: testConfig().MASTER_KEY!,
  };
});
afterAll(async () => {
  await db?.drop();
  await dir?.remove();
});

async function startChild(killAt?: string) {
  const spawned = spawnNode([], { ...env, ...(killAt ? { FILES_TEST_KILL_AT: killAt } : {}) }, SCRIPT);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = spawned
        .output()
        .split('\n')
        .find((l) => l.startsWith('{"url"'));
      if (line) {
        clearInterval(timer);
        resolve(JSON.parse(line).url);
      }
    }, 50);
    void spawned.exited.then(({ code, signal }) => {
      clearInterval(timer);
      reject(new Error(`server exited (${code ?? signal}) before it listened: ${spawned.output()}`));
    });
  });
  const token = await fetch(`${url}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: account.clientId, client_secret: account.clientSecret }),
  }).then(async (r) => `Bearer ${((await r.json()) as { access_token: string }).access_token}`);
  return { ...spawned, url, token };
}

const upload = (url: string, token: string, body: RequestInit['body'], filename: string) =>
  fetch(`${url}/api/files`, {
    method: 'POST',
    headers: {
      authorization: token,
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${filename}"`,
    },
    body,
    duplex: 'half',
  } as RequestInit);

const answered = new Map<string, string>();
const elementRoot = () => join(dir.path, 'files', 'se-1');

describe('kill -9 mid-upload, then restart', () => {
  it('a process killed while the body streams in: the partial upload is gone after replay', async () => {
    const child = await startChild();
    const data = Buffer.from('answered before the kill');
    const ok = await upload(child.url, child.token, data, 'first.txt');
    expect(ok.status).toBe(201);
    answered.set(((await ok.json()) as { file_id: string }).file_id, `sha256:${sha256hex(data)}`);
    // A body that never ends: kill once its temporary file is on disk.
    let stop = false;
    const slow = new ReadableStream({
      async pull(controller) {
        if (stop) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024).fill(1));
        await new Promise((resolve) => setTimeout(resolve, 10));
      },
    });
    const pending = upload(child.url, child.token, slow, 'killed.bin').catch((error: Error) => error);
    for (let i = 0; i < 500 && (await readdir(join(elementRoot(), '.tmp'))).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await readdir(join(elementRoot(), '.tmp'))).length).toBe(1);
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    stop = true;
    expect(await pending).toBeInstanceOf(Error);
  });

  // Killed before the step named: the bytes and attr.json are whole from dir-fsync on.
  it.each([
    ['attr-json', false],
    ['dir-fsync', true],
    ['wal-commit', true],
  ] as const)('killed just before %s: the upload is complete after replay: %s', async (step, complete) => {
    const child = await startChild(step);
    const control = Buffer.from(`control before ${step}`);
    const ok = await upload(child.url, child.token, control, 'control.txt');
    expect(ok.status).toBe(201);
    answered.set(((await ok.json()) as { file_id: string }).file_id, `sha256:${sha256hex(control)}`);
    const data = Buffer.alloc(300_000, step.length);
    const killed = await upload(child.url, child.token, data, `${step}.bin`).catch((error: Error) => error);
    expect(killed).toBeInstanceOf(Error);
    expect((await child.exited).signal).toBe('SIGKILL');
    // The next boot replays the dead process's journal.
    const server = await startFilesServer(db, dir.path);
    try {
      const token = await bearer(db, server.app, 'READONLY');
      const found = await server.app.inject({
        method: 'GET',
        url: `/api/files?filename=${step}.bin`,
        headers: { authorization: token },
      });
      const items = found.json().items as { file_id: string; checksum: string }[];
      expect(items.length).toBe(complete ? 1 : 0);
      if (complete) {
        expect(items[0]!.checksum).toBe(`sha256:${sha256hex(data)}`);
        answered.set(items[0]!.file_id, items[0]!.checksum);
      }
      expect(await readdir(join(elementRoot(), '.tmp'))).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('after the last restart: files check --full is clean, and every answered upload reads back', async () => {
    const server = await startFilesServer(db, dir.path);
    try {
      const report = await checkFiles({ db: db.sql, config: server.platform.config }, { full: true });
      expect(report.findings).toEqual([]);
      expect(report.filesChecked).toBe(answered.size);
      const token = await bearer(db, server.app, 'READONLY');
      for (const [id, checksum] of answered) {
        const response = await server.app.inject({
          method: 'GET',
          url: `/api/files/${id}`,
          headers: { authorization: token },
        });
        expect(response.statusCode).toBe(200);
        expect(`sha256:${sha256hex(response.rawPayload)}`).toBe(checksum);
      }
      expect(await readdir(join(elementRoot(), '.wal'))).toHaveLength(1); // this process's own journal only
    } finally {
      await server.stop();
    }
  });
});
