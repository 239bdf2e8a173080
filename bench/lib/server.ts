import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildServer {
  name: string;
  baseUrl: string;
  /** SIGTERM, then SIGKILL if still alive after the grace period. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Every child is added here as soon as it is spawned (not once ready), so a Ctrl-C during a slow
 * start still stops it; stopping removes it.
 */
export type Children = Set<ChildServer>;

/**
 * The platform as `npm start` runs it, on a free port, with its own database files. With `processes`,
 * as `start --processes N` on a database of its own made fresh (`<DATABASE_URL's database>_p<N>`, or
 * `.data/bench-p<N>`) and, with REDIS_URL, Redis database N emptied, so that every process count
 * starts from the same state.
 */
export async function startPlatform(
  children: Children,
  signal: AbortSignal,
  processes?: number,
): Promise<ChildServer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    // The drops contest API takes any free port unless told otherwise: 8080 may be in use.
    DROPS_CONTEST_PORT: '0',
    SIM_GATEWAY_PORT: '0',
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  if (!process.env.DATABASE_URL) {
    // Its own embedded PostgreSQL, never the dev server's files or port (54329).
    env.DATA_DIR = processes === undefined ? '.data/bench' : `.data/bench-p${processes}`;
    env.EMBEDDED_PG_PORT = processes === undefined ? '54339' : String(54340 + processes);
    if (processes !== undefined) rmSync(join(repoRoot, env.DATA_DIR), { recursive: true, force: true });
  } else if (processes !== undefined) {
    env.DATABASE_URL = await freshDatabase(process.env.DATABASE_URL, `_p${processes}`);
  }
  // Redis too: the drops authority and the caches of an earlier count's sale must not leak into this one.
  if (processes !== undefined && process.env.REDIS_URL)
    env.REDIS_URL = await freshRedisDatabase(process.env.REDIS_URL, processes);
  const ready = { path: '/health/ready', timeoutMs: 90_000 };
  return startChild({
    name: 'server',
    // The same V8 flag as `npm start` (package.json): a 16 MiB young generation instead of 32 MiB.
    // BENCH_SERVER_FLAGS adds Node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a profile of the run.
    args: [
      '--max-semi-space-size=8',
      ...(process.env.BENCH_SERVER_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
      'bin/boxoffice.js',
      'start',
      ...(processes === undefined ? [] : ['--processes', String(processes)]),
    ],
    env,
    port,
    ready,
    children,
    signal,
  });
}

/** The bare Node hello-world server the scenario is compared with. */
export async function startCeiling(children: Children, signal: AbortSignal): Promise<ChildServer> {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  const ready = { path: '/', timeoutMs: 10_000 };
  return startChild({
    name: 'ceiling',
    args: ['bench/ceiling-server.js'],
    env,
    port,
    ready,
    children,
    signal,
  });
}

interface ChildSpec {
  name: string;
  /** Arguments to `node`, relative to the repository root. */
  args: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  ready: { path: string; timeoutMs: number };
  children: Children;
  signal: AbortSignal;
}

async function startChild({
  name,
  args,
  env,
  port,
  ready,
  children,
  signal,
}: ChildSpec): Promise<ChildServer> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = captureOutput(child, name);
  const baseUrl = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const server: ChildServer = {
    name,
    baseUrl,
    stop: () => {
      stopping ??= stopChild(child).finally(() => children.delete(server));
      return stopping;
    },
  };
  children.add(server);
  try {
    await waitUntilReady(child, `${baseUrl}${ready.path}`, ready.timeoutMs, signal);
  } catch (error) {
    await server.stop();
    const output = tail.join('\n');
    throw new Error(`${name}: ${(error as Error).message}${output ? `\nlast output:\n${output}` : ''}`);
  }
  return server;
}

/** Forwards the child's output to stderr (stdout is for results) and keeps the last lines for errors. */
function captureOutput(child: ChildProcess, name: string): string[] {
  const tail: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      process.stderr.write(`[${name}] ${line}\n`);
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return tail;
}

async function waitUntilReady(child: ChildProcess, url: string, timeoutMs: number, signal: AbortSignal) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${url} answered 200`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, 15_000)) return;
  process.stderr.write(`bench: pid ${child.pid} ignored SIGTERM for 15 s; sending SIGKILL\n`);
  child.kill('SIGKILL');
  await waitForExit(child, 5_000);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Asks the OS for a free port; the tiny race until the child binds it is acceptable on a bench box. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `url`'s database with `suffix`, dropped if it exists and created empty: the platform migrates it. */
async function freshDatabase(url: string, suffix: string): Promise<string> {
  const target = new URL(url);
  const name = `${decodeURIComponent(target.pathname.slice(1)) || 'postgres'}${suffix}`;
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`cannot make a bench database named "${name}"`);
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  target.pathname = `/${name}`;
  return target.toString();
}

/** `url` pointing at Redis logical database `index`, emptied (FLUSHDB: that database only). */
async function freshRedisDatabase(url: string, index: number): Promise<string> {
  const target = new URL(url);
  target.pathname = `/${index}`;
  const redis = new Redis(target.toString(), { maxRetriesPerRequest: 1 });
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
  return target.toString();
}
