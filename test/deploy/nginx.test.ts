import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformConfig } from '../../src/platform/config/platform.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, type Spawned, spawnNode, waitForOk } from '../helpers/process.ts';
import { findNginx, NGINX_CONF, renderNginxConfig } from './nginx-config.ts';

const nginx = findNginx();
const redisUrl = process.env.REDIS_URL;
if (!nginx) console.warn('skipping the nginx tests: nginx is not installed (apt-get install -y nginx-light)');
else if (!redisUrl)
  console.warn(
    'skipping nginx in front of two api processes: REDIS_URL is not set (two api processes need it)',
  );

const privateDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // nginx workers run as an unprivileged user when the master is root: they must reach the temp paths.
  chmodSync(dir, 0o755);
  return dir;
};

describe.skipIf(!nginx)('deploy/nginx/nginx.conf', () => {
  it('passes `nginx -t` with the compose hostnames replaced by local addresses', () => {
    const dir = privateDir('boxoffice-nginx-t-');
    try {
      const file = renderNginxConfig({
        dir,
        api: ['127.0.0.1:18001', '127.0.0.1:18002'],
        contest: ['127.0.0.1:18081', '127.0.0.1:18082'],
        listen: 18000,
        contestListen: 18080,
      });
      const output = execFileSync(nginx!, ['-t', '-p', dir, '-e', 'stderr', '-c', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(output).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a broken file fails `nginx -t` (the check can fail)', () => {
    const dir = privateDir('boxoffice-nginx-bad-');
    try {
      const file = renderNginxConfig({
        dir,
        api: ['127.0.0.1:18001', '127.0.0.1:18002'],
        contest: ['127.0.0.1:18081', '127.0.0.1:18082'],
        listen: 18000,
        contestListen: 18080,
      });
      const broken = readFileSync(file, 'utf8').replace(
        'proxy_next_upstream error',
        'proxy_next_upstream eror',
      );
      execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: broken });
      expect(() =>
        execFileSync(nginx!, ['-t', '-p', dir, '-e', 'stderr', '-c', file], { stdio: 'pipe' }),
      ).toThrow(/invalid value "eror"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bodies above BODY_LIMIT_BYTES and retries idempotent requests only', () => {
    const text = readFileSync(NGINX_CONF, 'utf8');
    const limit = (platformConfig.variables.BODY_LIMIT_BYTES as unknown as { default: number }).default;
    const mainServer = text.slice(text.indexOf('listen 80;'), text.indexOf('listen 8080;'));
    const size = /client_max_body_size (\d+)([km]?);/.exec(mainServer);
    expect(size).not.toBeNull();
    const bytes =
      Number(size![1]) * ({ '': 1, k: 1024, m: 1024 * 1024 } as const)[size![2] as '' | 'k' | 'm'];
    expect(bytes).toBe(limit);
    const env = readFileSync(new URL('../../deploy/boxoffice.env.example', import.meta.url), 'utf8');
    expect(env).toContain(`BODY_LIMIT_BYTES=${limit}`);
    // A POST that reached a process may have taken effect: never sent to another one.
    expect(text).toMatch(/^\s*proxy_next_upstream error timeout http_502 http_503 http_504;$/m);
    expect(text).not.toMatch(/^\s*proxy_next_upstream .*non_idempotent/m);
  });
});

/** nginx in the foreground (a child of the test, killed in afterAll), its output captured. */
function spawnNginx(dir: string, file: string): Spawned {
  // Its own process group: the workers go with the master even if the master is killed.
  const child = spawn(nginx!, ['-p', dir, '-e', 'stderr', '-c', file, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** nginx's fast shutdown (SIGTERM: the master stops its workers), then SIGKILL to the whole group. */
async function stopGroup(spawned: Spawned): Promise<void> {
  const group = -spawned.child.pid!;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(group, name);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  await Promise.race([spawned.exited, sleep(10_000)]);
  signal('SIGKILL');
  await spawned.exited;
}

interface Api {
  port: number;
  contestPort: number;
  dataDir: string;
  process?: Spawned;
}

/**
 * nginx (a foreground child, the deployed config rendered into a temp dir) in front of two real
 * `boxoffice api` processes sharing a test database and Redis: the operator's rolling restart, one
 * process at a time, loses no request.
 */
describe.skipIf(!nginx || !redisUrl)('nginx in front of two api processes', () => {
  let db: TestDatabase;
  const apis: Api[] = [];
  let lb: Spawned | undefined;
  let dir: string;
  let base: string;
  let contestBase: string;
  let agent: Agent;
  const id = Math.random().toString(36).slice(2, 10);

  const startApi = async (api: Api) => {
    api.process = spawnNode(['api'], {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl!,
      HOST: '127.0.0.1',
      PORT: String(api.port),
      DROPS_CONTEST_PORT: String(api.contestPort),
      DROPS_REDIS_PREFIX: `boxoffice-test-${id}:drops:`,
      SIM_GATEWAY_PORT: '0',
      DATA_DIR: api.dataDir,
      MIGRATE_ON_START: 'false',
      SEED_DEMO_ON_START: 'false',
      MASTER_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
      IDENTITY_ISSUER: 'http://boxoffice.test',
      // nginx is on loopback here (the compose file trusts the private networks: uniquelocal).
      TRUST_PROXY: 'loopback',
      AUTH_MAX_FAILURES_PER_ADDRESS: '3',
      LOG_LEVEL: 'warn',
    });
    await waitForOk(`http://127.0.0.1:${api.port}/health/ready`, 45_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${api.process?.output()}`);
    });
  };

  /** What nginx saw: the first attempt's status of every request it had to send to a second process. */
  const retriesSince = (from: number) =>
    accessLog()
      .slice(from)
      .filter((l) => l.upstream.includes(', '))
      .map((l) => (l as unknown as { upstreamStatus: string }).upstreamStatus.split(', ')[0]);

  /** Access log lines (JSON, deploy/nginx/nginx.conf) nginx has written so far. */
  // Whole lines only: nginx may be half-way through writing the last one as we read.
  const accessLog = () =>
    (existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8') : '')
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map(
        (line) => JSON.parse(line) as { uri: string; status: number; upstream: string; requestId: string },
      );

  /** Whether nginx logs the request with this id: it writes the line after the response, so it is awaited. */
  const logged = async (requestId: string, deadlineMs = 10_000) => {
    for (const until = Date.now() + deadlineMs; Date.now() < until; await sleep(20)) {
      if (accessLog().some((l) => l.requestId === requestId)) return true;
    }
    return false;
  };

  /** Waits until nginx has sent a request to `api` that it answered 200: the process is in rotation. */
  const untilServedBy = async (api: Api, deadlineMs = 30_000) => {
    const until = Date.now() + deadlineMs;
    const address = `127.0.0.1:${api.port}`;
    const before = accessLog().length;
    for (;;) {
      const response = await request(`${base}/health/ready`, { dispatcher: agent });
      await response.body.text();
      if (
        accessLog()
          .slice(before)
          .some((l) => l.upstream.split(', ').at(-1) === address && l.status === 200)
      )
        return;
      if (Date.now() > until) throw new Error(`nginx sent nothing to ${address} within ${deadlineMs} ms`);
      await sleep(50);
    }
  };

  /** GETs through nginx from `concurrency` loops until `stop()`; every answer that is not 200 is a failure. */
  const load = (concurrency: number) => {
    let running = true;
    const failures: string[] = [];
    let answered = 0;
    const loops = Array.from({ length: concurrency }, async () => {
      while (running) {
        try {
          const response = await request(`${base}/health/ready`, { dispatcher: agent });
          const body = await response.body.text();
          if (response.statusCode !== 200) failures.push(`${response.statusCode} ${body.slice(0, 200)}`);
          else answered++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    });
    return {
      answered: () => answered,
      async stop() {
        running = false;
        await Promise.all(loops);
        return { answered, failures };
      },
    };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = privateDir('boxoffice-nginx-run-');
    for (let i = 0; i < 2; i++) {
      apis.push({
        port: await freePort(),
        contestPort: await freePort(),
        dataDir: mkdtempSync(join(tmpdir(), 'boxoffice-nginx-api-')),
      });
    }
    await Promise.all(apis.map(startApi));
    const listen = await freePort();
    const contestListen = await freePort();
    const file = renderNginxConfig({
      dir,
      api: apis.map((a) => `127.0.0.1:${a.port}`),
      contest: apis.map((a) => `127.0.0.1:${a.contestPort}`),
      listen,
      contestListen,
      // The deployed 10 s, shortened: the test waits for a restarted process to be tried again.
      failTimeout: '2s',
    });
    lb = spawnNginx(dir, file);
    base = `http://127.0.0.1:${listen}`;
    contestBase = `http://127.0.0.1:${contestListen}`;
    agent = new Agent({ connections: 32 });
    await waitForOk(`${base}/health/ready`, 15_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${lb?.output()}`);
    });
  }, 90_000);

  afterAll(async () => {
    await agent?.close();
    if (lb?.child.pid) await stopGroup(lb);
    for (const api of apis) api.process?.child.kill('SIGKILL');
    await Promise.all([lb, ...apis.map((a) => a.process)].map((p) => p?.exited));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    for (const api of apis) rmSync(api.dataDir, { recursive: true, force: true });
  });

  it('spreads requests over both processes and passes the request id through', async () => {
    await untilServedBy(apis[0]!);
    await untilServedBy(apis[1]!);

    const given = await request(`${base}/health/live`, { headers: { 'x-request-id': `lb-test-${id}` } });
    await given.body.text();
    expect(given.headers['x-request-id']).toBe(`lb-test-${id}`);
    // No id, or one the api would not keep: nginx's own, which the api then keeps and echoes.
    for (const headers of [{}, { 'x-request-id': 'not a sane id' }]) {
      const response = await request(`${base}/health/live`, { headers });
      await response.body.text();
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
      expect(await logged(String(response.headers['x-request-id']))).toBe(true);
    }
  });

  it('answers 413 itself above the body limit and passes a body below it', async () => {
    const big = await request(`${base}/api/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(1024 * 1024 + 1, 0x20),
    });
    await big.body.text();
    expect(big.statusCode).toBe(413);
    expect(big.headers['x-request-id']).toBeUndefined(); // nginx's answer: no api saw it
    const small = await request(`${base}/api/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await small.body.text();
    expect(small.statusCode).not.toBe(413);
    expect(small.headers['x-request-id']).toBeDefined(); // answered by an api process
  });

  it('sees each client’s own address behind nginx (TRUST_PROXY): throttling one address spares another', async () => {
    // Addresses from the benchmarking range, random per run: no other test counts failures for them.
    const octet = () => 1 + Math.floor(Math.random() * 250);
    const [one, other] = [`198.18.${octet()}.${octet()}`, `198.19.${octet()}.${octet()}`];
    const signIn = async (address: string, n: number) => {
      const credentials = Buffer.from(`nobody-${id}-${n}@lb.test:wrong`).toString('base64');
      const response = await request(`${base}/api/bookings`, {
        headers: { authorization: `Basic ${credentials}`, 'x-forwarded-for': address },
      });
      await response.body.text();
      return response.statusCode;
    };
    expect([await signIn(one, 1), await signIn(one, 2), await signIn(one, 3)]).toEqual([401, 401, 401]);
    expect(await signIn(one, 4)).toBe(429);
    // Without TRUST_PROXY both would be nginx's 127.0.0.1, throttled together.
    expect(await signIn(other, 5)).toBe(401);
  });

  it('routes the contest port to the processes’ contest API', async () => {
    const response = await request(`${contestBase}/checkout`, { method: 'POST' });
    const body = await response.body.text();
    expect(response.statusCode).toBeLessThan(500);
    const direct = await request(`http://127.0.0.1:${apis[0]!.contestPort}/checkout`, { method: 'POST' });
    expect(await direct.body.text()).toBe(body);
    expect(direct.statusCode).toBe(response.statusCode);
  });

  it('a rolling restart, one process at a time (SIGTERM, start, back in rotation), fails no GET', async () => {
    const logFrom = accessLog().length;
    const traffic = load(8);
    try {
      for (const api of apis) {
        const answeredBefore = traffic.answered();
        api.process!.child.kill('SIGTERM');
        const exit = await api.process!.exited;
        expect(exit, api.process!.output()).toEqual({ code: 0, signal: null });
        await startApi(api);
        await untilServedBy(api);
        expect(traffic.answered()).toBeGreaterThan(answeredBefore);
      }
    } finally {
      const { answered, failures } = await traffic.stop();
      const retried = retriesSince(logFrom);
      console.info(
        `rolling restart through nginx: ${answered} GETs answered 200, ${failures.length} failed; ` +
          `${retried.length} sent to the other process after a first attempt that got ${[...new Set(retried)].join(', ') || 'nothing'}`,
      );
      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(0);
    }
  }, 60_000);

  it('kill -9 of one process fails no GET: nginx retries them on the other', async () => {
    const logFrom = accessLog().length;
    const traffic = load(8);
    try {
      await untilServedBy(apis[0]!);
      const victim = apis[1]!;
      const answeredBefore = traffic.answered();
      victim.process!.child.kill('SIGKILL');
      await victim.process!.exited;
      // Traffic keeps being answered with the process gone.
      const until = Date.now() + 15_000;
      while (traffic.answered() < answeredBefore + 200 && Date.now() < until) await sleep(50);
      expect(traffic.answered()).toBeGreaterThanOrEqual(answeredBefore + 200);
      await startApi(victim);
      await untilServedBy(victim);
    } finally {
      const { answered, failures } = await traffic.stop();
      const retried = retriesSince(logFrom);
      console.info(
        `kill -9 behind nginx: ${answered} GETs answered 200, ${failures.length} failed; ` +
          `${retried.length} sent to the other process after a first attempt that got ${[...new Set(retried)].join(', ') || 'nothing'}`,
      );
      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(0);
    }
  }, 60_000);
});
