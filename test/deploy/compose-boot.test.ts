import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, ROOT } from '../helpers/process.ts';

/**
 * No Docker engine here, so the compose file's boxoffice services are booted as local processes instead:
 * each with its env_file, its `environment`, the Dockerfile's ENV and its secrets as files, through
 * deploy/entrypoint.sh, judged healthy by its own compose healthcheck command. Only what a container
 * network provides is mapped: service hostnames to local addresses, the container ports to free ones,
 * /data to a temp dir. The database starts empty, so `migrate` really migrates.
 */

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('skipping the compose boot test: REDIS_URL is not set');
const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

interface Service {
  command: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  secrets?: string[];
  healthcheck?: { test?: string[] };
}
const compose = parse(readFileSync(join(ROOT, 'deploy/compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};

/** `KEY=value` lines of an env file. */
const envFile = (path: string) =>
  Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

/** The Dockerfile's final-stage `ENV a=b \ c=d` block. */
const dockerfileEnv = () => {
  const text = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const last = [...text.matchAll(/^ENV (.+)$/gm)].at(-1)?.[1] ?? '';
  return Object.fromEntries(
    last
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
};

const natsAnswers = () =>
  new Promise<boolean>((resolve) => {
    const url = new URL(natsUrl);
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 4222) });
    socket.setTimeout(1000);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('INFO'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });

const run = (command: string, args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 10_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });

describe.skipIf(!redisUrl)('deploy/compose.yaml booted as local processes', () => {
  let db: TestDatabase;
  let dir: string;
  let nats: boolean;
  const running = new Map<
    string,
    { child: ChildProcess; output: () => string; exited: Promise<number | null> }
  >();
  const envOf = new Map<string, Record<string, string>>();
  const ports = new Map<string, { api: number; contest: number }>();
  let simPort: number;
  let notifyPorts: { smtp: number; inbox: number; sms: number; push: number };

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    dir = mkdtempSync(join(tmpdir(), 'boxoffice-compose-'));
    nats = await natsAnswers();
    if (!nats) console.warn(`compose boot test: no NATS at ${natsUrl}; EVENTS_NATS_URL is left out`);
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets);
    writeFileSync(join(secrets, 'master_key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
    writeFileSync(join(secrets, 'merchant_password'), 'a-merchant-password-for-the-test\n');
    writeFileSync(join(secrets, 'payment_webhook_secret'), 'a-webhook-secret-for-the-test\n');
    simPort = await freePort();
    notifyPorts = {
      smtp: await freePort(),
      inbox: await freePort(),
      sms: await freePort(),
      push: await freePort(),
    };
    const shared = envFile(join(ROOT, 'deploy/boxoffice.env.example'));
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.env_file) continue;
      const api = { api: await freePort(), contest: await freePort() };
      ports.set(name, api);
      const env: Record<string, string> = { ...dockerfileEnv(), ...shared, ...service.environment };
      for (const [key, value] of Object.entries(env)) {
        // The container network, mapped to this machine.
        env[key] = value
          .replace(/^\/run\/secrets\//, `${secrets}/`)
          .replace(/(^|:)\/data\//, `$1${dir}/data/`)
          .replace(/^\/data$/, `${dir}/data`)
          .replace('gateway-sim:8090', `127.0.0.1:${simPort}`)
          .replace('notify-sim:2525', `127.0.0.1:${notifyPorts.smtp}`)
          .replace('notify-sim:8091', `127.0.0.1:${notifyPorts.sms}`)
          .replace('redis://redis:6379', redisUrl!)
          .replace('nats://nats:4222', natsUrl);
      }
      env.DATABASE_URL = db.url;
      if (!nats) delete env.EVENTS_NATS_URL;
      Object.assign(env, {
        HOST: '127.0.0.1',
        DROPS_CONTEST_HOST: '127.0.0.1',
        PORT: String(api.api),
        DROPS_CONTEST_PORT: String(api.contest),
        SIM_GATEWAY_HOST: '127.0.0.1',
        SIM_GATEWAY_PORT: String(simPort),
        SIM_NOTIFY_HOST: '127.0.0.1',
        SIM_NOTIFY_SMTP_PORT: String(notifyPorts.smtp),
        SIM_NOTIFY_INBOX_PORT: String(notifyPorts.inbox),
        SIM_NOTIFY_SMS_PORT: String(notifyPorts.sms),
        SIM_NOTIFY_PUSH_PORT: String(notifyPorts.push),
        BOXOFFICE_HOME: ROOT,
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        LOG_LEVEL: 'warn',
      });
      mkdirSync(env.DATA_DIR!, { recursive: true });
      envOf.set(name, env);
    }
  });

  afterAll(async () => {
    for (const { child } of running.values()) child.kill('SIGKILL');
    await Promise.all([...running.values()].map((r) => r.exited));
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (name: string) => {
    const child = spawn('sh', [join(ROOT, 'deploy/entrypoint.sh'), ...compose.services[name]!.command], {
      cwd: ROOT,
      env: envOf.get(name),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    running.set(name, { child, output: () => output, exited });
    return running.get(name)!;
  };

  /** The service's compose healthcheck command, run until it passes (ports mapped as above). */
  const untilHealthy = async (name: string, deadlineMs = 45_000) => {
    const [kind, ...command] = compose.services[name]!.healthcheck!.test!;
    expect(kind).toBe('CMD');
    const { api } = ports.get(name)!;
    const args = command
      .slice(1)
      .map((arg) =>
        arg
          .replace('/app/', `${ROOT}/`)
          .replace('127.0.0.1:8000', `127.0.0.1:${api}`)
          .replace('127.0.0.1:8090', `127.0.0.1:${simPort}`)
          .replace('127.0.0.1:8091', `127.0.0.1:${notifyPorts.sms}`),
      );
    const until = Date.now() + deadlineMs;
    for (;;) {
      const result = await run(process.execPath, args, envOf.get(name)!);
      if (result.code === 0) return;
      const child = running.get(name)?.child;
      if (child && child.exitCode !== null)
        throw new Error(`${name} exited with ${child.exitCode}:\n${running.get(name)?.output()}`);
      if (Date.now() > until)
        throw new Error(
          `${name} not healthy within ${deadlineMs} ms: ${result.output}\n${running.get(name)?.output()}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('migrate migrates the empty database and exits 0', async () => {
    const migrate = start('migrate');
    const code = await migrate.exited;
    expect(code, migrate.output()).toBe(0);
    const [tables] = await db.sql<{ applied: number }[]>`
      select count(*)::int as applied from pg_tables where schemaname = 'public'`;
    expect(tables?.applied).toBeGreaterThan(10);
  }, 60_000);

  it('gateway-sim, notify-sim, api-1, api-2 and worker start in production mode and pass their healthchecks', async () => {
    start('gateway-sim');
    start('notify-sim');
    await Promise.all([untilHealthy('gateway-sim'), untilHealthy('notify-sim')]);
    for (const name of ['api-1', 'api-2', 'worker']) start(name);
    await Promise.all(['api-1', 'api-2', 'worker'].map((name) => untilHealthy(name)));
    // Production: the demo-only reset endpoint is off, and no demo data was seeded.
    const { api } = ports.get('api-1')!;
    const reset = await fetch(`http://127.0.0.1:${api}/api/reset`, { method: 'POST' });
    expect(reset.status).not.toBe(200);
    const [seeded] = await db.sql<{ users: number }[]>`select count(*)::int as users from users`;
    expect(seeded?.users).toBe(0);
  }, 90_000);

  it('SIGTERM stops every process with exit code 0', async () => {
    const names = ['api-1', 'api-2', 'worker', 'gateway-sim', 'notify-sim'];
    for (const name of names) running.get(name)!.child.kill('SIGTERM');
    const codes = await Promise.all(names.map((name) => running.get(name)!.exited));
    expect(
      Object.fromEntries(names.map((name, i) => [name, codes[i]])),
      names.map((n) => running.get(n)!.output()).join('\n'),
    ).toEqual({ 'api-1': 0, 'api-2': 0, worker: 0, 'gateway-sim': 0, 'notify-sim': 0 });
  }, 60_000);
});
