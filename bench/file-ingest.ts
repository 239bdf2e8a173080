import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { Pool } from 'undici';
import { accessToken, createBenchAccount, untilReady } from './lib/platform-process.ts';
import { freePort } from './lib/server.ts';

// `npx tsx bench/file-ingest.ts [--seconds 5] [--concurrency 8] [--dir DIR] [--large]` (docs/files.md):
// parallel uploads of 64 KiB and 8 MiB files through POST /api/files (the full write protocol: WAL,
// temp file, fsync, rename, attr.json, directory fsync, database row, outbox, audit) and downloads,
// against a ceiling measured in the same run on the same disk: a bare Node loop doing write + fsync +
// rename + directory fsync per file, at the same concurrency. --large also streams one 1 GiB file up and
// down and reports the server's RSS growth. Needs DATABASE_URL (a database is created and dropped).

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    dir: { type: 'string' },
    large: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ADMIN_URL = process.env.DATABASE_URL;
if (!ADMIN_URL) {
  console.error('file-ingest: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}
const base = resolve(values.dir ?? '.data');
mkdirSync(base, { recursive: true });
const work = await mkdtemp(join(base, 'bench-files-'));

const sizes = { small: 64 * 1024, large: 8 * 1024 * 1024 };

/** Runs `task` from `concurrency` loops for `seconds`; returns completed count. */
async function forDuration(seconds: number, concurrency: number, task: (i: number) => Promise<void>) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await task(next++);
        done += 1;
      }
    }),
  );
  return done;
}

async function ceiling(size: number) {
  const dir = join(work, `ceiling-${size}`);
  const data = randomBytes(size);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  for (let i = 0; i < 256; i++) await mkdir(join(dir, i.toString(16).padStart(2, '0')), { recursive: true });
  const started = performance.now();
  const files = await forDuration(SECONDS, CONCURRENCY, async (i) => {
    const temp = join(dir, 'tmp', `${i}`);
    const handle = await open(temp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    const target = join(dir, (i % 256).toString(16).padStart(2, '0'));
    await rename(temp, join(target, `${i}`));
    const dirHandle = await open(target, 'r');
    await dirHandle.sync();
    await dirHandle.close();
  });
  const seconds = (performance.now() - started) / 1000;
  await rm(dir, { recursive: true, force: true });
  return { files, seconds, filesPerSecond: files / seconds, mbPerSecond: (files * size) / seconds / 1e6 };
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

// The platform: a database of its own, an API process with its element in `work`.
const dbName = `boxoffice_bench_files_${randomBytes(4).toString('hex')}`;
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const dbUrl = new URL(ADMIN_URL);
dbUrl.pathname = `/${dbName}`;
const port = await freePort();
const env = {
  ...process.env,
  DATABASE_URL: dbUrl.toString(),
  DATA_DIR: work,
  PORT: String(port),
  LOG_LEVEL: 'warn',
  SEED_DEMO_ON_START: 'false',
  DROPS_ENABLED: 'false',
  NODE_ENV: 'development',
};
execFileSync(process.execPath, ['bin/boxoffice.js', 'migrate'], {
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const account = createBenchAccount(env, 'bench-files');
const server = spawn(process.execPath, ['--max-semi-space-size=8', 'bin/boxoffice.js', 'api'], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const baseUrl = `http://127.0.0.1:${port}`;
await untilReady(baseUrl);
const token = await accessToken(baseUrl, account);
const pool = new Pool(baseUrl, { connections: CONCURRENCY * 2, pipelining: 1 });
const auth = { authorization: `Bearer ${token}` };

async function uploads(size: number) {
  const data = randomBytes(size);
  const ids: string[] = [];
  const rssBefore = rssOf(server.pid!);
  let rssMax = rssBefore;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssOf(server.pid!));
  }, 100);
  const started = performance.now();
  const files = await forDuration(SECONDS, CONCURRENCY, async () => {
    const response = await pool.request({
      method: 'POST',
      path: '/api/files',
      headers: {
        ...auth,
        'content-type': 'application/octet-stream',
        'content-disposition': 'attachment; filename="bench.bin"',
      },
      body: data,
    });
    const body = (await response.body.json()) as { file_id: string };
    if (response.statusCode !== 201)
      throw new Error(`upload answered ${response.statusCode}: ${JSON.stringify(body)}`);
    ids.push(body.file_id);
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  return {
    files,
    seconds,
    filesPerSecond: files / seconds,
    mbPerSecond: (files * size) / seconds / 1e6,
    ids,
    rssGrowthMb: (rssMax - rssBefore) / 1e6,
  };
}

async function downloads(size: number, ids: string[]) {
  const started = performance.now();
  const files = await forDuration(SECONDS, CONCURRENCY, async (i) => {
    const response = await pool.request({
      method: 'GET',
      path: `/api/files/${ids[i % ids.length]}`,
      headers: auth,
    });
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    if (response.statusCode !== 200 || bytes !== size)
      throw new Error(`download answered ${response.statusCode}, ${bytes} bytes`);
  });
  const seconds = (performance.now() - started) / 1000;
  return { files, filesPerSecond: files / seconds, mbPerSecond: (files * size) / seconds / 1e6 };
}

async function oneGiB() {
  const size = 1024 ** 3;
  const chunk = randomBytes(1 << 20);
  const rssBefore = rssOf(server.pid!);
  let rssMax = rssBefore;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssOf(server.pid!));
  }, 100);
  const started = performance.now();
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < 1024; i++) yield chunk;
    })(),
  );
  const response = await pool.request({
    method: 'POST',
    path: '/api/files',
    headers: {
      ...auth,
      'content-type': 'application/octet-stream',
      'content-disposition': 'attachment; filename="1GiB.bin"',
      'content-length': String(size),
    },
    body,
  });
  const stored = (await response.body.json()) as { file_id: string; size_bytes: number };
  const uploadSeconds = (performance.now() - started) / 1000;
  const down = await pool.request({ method: 'GET', path: `/api/files/${stored.file_id}`, headers: auth });
  let bytes = 0;
  for await (const part of down.body) bytes += (part as Buffer).length;
  clearInterval(sampler);
  return {
    status: response.statusCode,
    size: stored.size_bytes,
    downloaded: bytes,
    uploadSeconds,
    totalSeconds: (performance.now() - started) / 1000,
    rssGrowthMb: (rssMax - rssBefore) / 1e6,
  };
}

const result: Record<string, unknown> = {
  time: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 1e9) },
  seconds: SECONDS,
  concurrency: CONCURRENCY,
  dir: work,
};
try {
  for (const [label, size] of Object.entries(sizes)) {
    const ceil = await ceiling(size);
    const up = await uploads(size);
    const down = await downloads(size, up.ids);
    result[label] = {
      size,
      ceiling: { filesPerSecond: ceil.filesPerSecond, mbPerSecond: ceil.mbPerSecond },
      upload: {
        filesPerSecond: up.filesPerSecond,
        mbPerSecond: up.mbPerSecond,
        serverRssGrowthMb: up.rssGrowthMb,
      },
      download: { filesPerSecond: down.filesPerSecond, mbPerSecond: down.mbPerSecond },
      ratio: {
        filesPerSecond: up.filesPerSecond / ceil.filesPerSecond,
        mbPerSecond: up.mbPerSecond / ceil.mbPerSecond,
      },
    };
    console.error(`file-ingest ${label}: ${JSON.stringify(result[label])}`);
  }
  if (values.large) result.oneGiB = await oneGiB();
} finally {
  await pool.close();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
  await rm(work, { recursive: true, force: true });
}
const fmt = (n: number) => n.toFixed(1);
for (const label of Object.keys(sizes)) {
  const r = result[label] as {
    ceiling: { filesPerSecond: number; mbPerSecond: number };
    upload: { filesPerSecond: number; mbPerSecond: number; serverRssGrowthMb: number };
    download: { mbPerSecond: number };
    ratio: { filesPerSecond: number; mbPerSecond: number };
  };
  console.log(
    `${label.padEnd(6)} ceiling ${fmt(r.ceiling.filesPerSecond)} files/s ${fmt(r.ceiling.mbPerSecond)} MB/s | upload ${fmt(r.upload.filesPerSecond)} files/s ${fmt(r.upload.mbPerSecond)} MB/s (×${r.ratio.filesPerSecond.toFixed(2)}) RSS +${fmt(r.upload.serverRssGrowthMb)} MB | download ${fmt(r.download.mbPerSecond)} MB/s`,
  );
}
if (result.oneGiB) console.log(`1 GiB: ${JSON.stringify(result.oneGiB)}`);
console.log(`RESULT ${JSON.stringify(result)}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/file-ingest-${Date.now()}.json`, `${JSON.stringify(result, null, 2)}\n`);
