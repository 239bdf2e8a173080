import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { Pool } from 'undici';
import type { EventAnalytics } from '../src/booking/service.ts';
import { loadConfig } from '../src/config.ts';
import { seededUserCredentials } from '../src/identity/index.ts';
import {
  GatewayClient,
  parseWebhook,
  verifyWebhookSignature,
  WEBHOOK_HEADERS,
} from '../src/payments/gateway/index.ts';
import { machineTimes, processTimes, TICKS_PER_SECOND } from './lib/cpu.ts';
import { Histogram } from './lib/histogram.ts';
import { freePort } from './lib/server.ts';

// `npm run bench:pay-flow -- [options]` (docs/performance.md, issue #4): many buyers in parallel each book
// seats of event 1, initiate the payment, let the gateway simulator (a separate process, auto-pay) pay it
// and poll until the booking is paid. Ceiling in the same run: the same payment flow against the simulator
// alone. Afterwards the platform's database, analytics and the simulator are checked for inconsistencies.

const HELP = `Usage: npm run bench:pay-flow -- [options]

Starts the gateway simulator (node bin/boxoffice.js sim gateway, SIM_AUTO_PAY_DELAY_MS=0) and the
platform (node bin/boxoffice.js start, PAYMENT_ENDPOINT at the simulator) as separate processes, resets
the bookings, signs the buyers in once, measures the ceiling (init -> simulator auto-pays -> AUTHORIZED
webhook -> confirm, against the simulator alone), then sells event 1's seats through the platform:
POST /api/bookings, PATCH /api/seats/select per seat, PATCH /api/bookings/initiatePayment (JSON), then
GET /api/bookings/{id}/payment-status every --poll-ms until the booking is paid. Verifies the outcome
(analytics, SQL on the platform's database, the simulator's payments), prints a summary and a
RESULT {json} line, saves the JSON under bench/results/.

The platform inherits this environment (e.g. DB_POOL_MAX=20 npm run bench:pay-flow -- …); the
result records the DB_*, BOOKING_*, PAYMENT_*, AUTH_*, SIM_*, CIRCUIT_*, OUTBOX_* and LOG_* variables set.

Options:
  --buyers N               Concurrent virtual buyers, also for the ceiling (default 96)
  --seats-per-purchase K   Seats per booking (default 4)
  --seats N                Seats to sell, from seat --first-seat on (default 100000: all of event 1)
  --first-seat N           First seat id (default 1)
  --duration S             Stop starting purchases after S seconds (default: none, sell --seats)
  --poll-ms N              Payment-status poll interval (default 50)
  --users N                Seeded active users buying, round robin (default 1000)
  --max-seats-per-user N   BOOKING_MAX_SEATS_PER_USER of the platform (default: what --users need)
  --ceiling-purchases N    Purchases of the ceiling measurement, 0 to skip (default 4000)
  --data-dir DIR           The platform's DATA_DIR (default .data/bench-pay)
  --pg-port N              Its EMBEDDED_PG_PORT (default 54349)
  --auth-ttl S             AUTH_CACHE_TTL_SECONDS of the platform (default 3600, see docs)
  --profile-api DIR        Write a CPU profile of the platform's process into DIR (node --cpu-prof)
  --no-deliveries          Skip reading the simulator's webhook delivery log at the end
  -h, --help               This text
`;

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const EVENT = 1;
/** A purchase not paid this long after its initiate is given up (and reported). */
const PAID_TIMEOUT_MS = 60_000;

interface Options {
  buyers: number;
  seatsPerPurchase: number;
  seats: number;
  firstSeat: number;
  durationS: number | null;
  pollMs: number;
  users: number;
  maxSeatsPerUser: number | null;
  ceilingPurchases: number;
  dataDir: string;
  pgPort: number;
  authTtl: number;
  deliveries: boolean;
  profileApi: string | null;
}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      buyers: { type: 'string' },
      'seats-per-purchase': { type: 'string' },
      seats: { type: 'string' },
      'first-seat': { type: 'string' },
      duration: { type: 'string' },
      'poll-ms': { type: 'string' },
      users: { type: 'string' },
      'max-seats-per-user': { type: 'string' },
      'ceiling-purchases': { type: 'string' },
      'data-dir': { type: 'string' },
      'pg-port': { type: 'string' },
      'auth-ttl': { type: 'string' },
      'no-deliveries': { type: 'boolean' },
      'profile-api': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const int = (name: string, value: string | undefined, fallback: number, min = 1): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    buyers: int('buyers', values.buyers, 96),
    seatsPerPurchase: int('seats-per-purchase', values['seats-per-purchase'], 4),
    seats: int('seats', values.seats, 100_000),
    firstSeat: int('first-seat', values['first-seat'], 1),
    durationS: values.duration === undefined ? null : int('duration', values.duration, 0),
    pollMs: int('poll-ms', values['poll-ms'], 50),
    users: int('users', values.users, 1000),
    maxSeatsPerUser:
      values['max-seats-per-user'] === undefined
        ? null
        : int('max-seats-per-user', values['max-seats-per-user'], 1),
    ceilingPurchases: int('ceiling-purchases', values['ceiling-purchases'], 4000, 0),
    dataDir: values['data-dir'] ?? '.data/bench-pay',
    pgPort: int('pg-port', values['pg-port'], 54349, 1024),
    authTtl: int('auth-ttl', values['auth-ttl'], 3600, 0),
    deliveries: !values['no-deliveries'],
    profileApi: values['profile-api'] ?? null,
  };
}

// ---- child processes ------------------------------------------------------------------------------------

interface Child {
  name: string;
  process: ChildProcess;
  baseUrl: string;
  stop(): Promise<void>;
}

const children = new Set<Child>();

async function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  readyPath: string,
  timeoutMs: number,
): Promise<Child> {
  const proc = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      process.stderr.write(`[${name}] ${line.length > 600 ? `${line.slice(0, 600)}…` : line}\n`);
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    process: proc,
    baseUrl: `http://127.0.0.1:${port}`,
    stop: () => {
      stopping ??= stopProcess(proc).finally(() => children.delete(child));
      return stopping;
    },
  };
  children.add(child);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      last = `exited (${proc.exitCode ?? proc.signalCode})`;
      break;
    }
    try {
      const response = await fetch(`${child.baseUrl}${readyPath}`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return child;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  await child.stop();
  throw new Error(`${name} did not become ready (${last})\n${tail.join('\n')}`);
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  const waitExit = (ms: number) =>
    exited()
      ? Promise.resolve(true)
      : new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), ms);
          proc.once('exit', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
  if (exited()) return;
  proc.kill('SIGTERM');
  if (await waitExit(20_000)) return;
  process.stderr.write(`pay-flow: pid ${proc.pid} ignored SIGTERM for 20 s; SIGKILL\n`);
  proc.kill('SIGKILL');
  await waitExit(5_000);
}

/** The platform's data dir once this run started it: its PostgreSQL is ours to stop. */
let ownDataDir: string | undefined;

/** Stops every child; then makes sure the platform's PostgreSQL (ours: our data dir) is gone too. */
async function stopAll(): Promise<void> {
  const dataDir = ownDataDir;
  await Promise.all([...children].map((child) => child.stop()));
  if (!dataDir) return;
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !alive(pid)) return;
  process.stderr.write(`pay-flow: PostgreSQL ${pid} of ${dataDir} outlived the platform; stopping it\n`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(100);
}

function postmasterPid(dataDir: string): number | undefined {
  const file = resolve(repoRoot, dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The code under test: the commit, and whether src/ or migrations/ differ from it (null outside git). */
function source(): { root: string; commit: string | null; dirty: string[] | null } {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repoRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git('rev-parse', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'migrations').split('\n').filter(Boolean);
    return { root: repoRoot, commit, dirty };
  } catch {
    return { root: repoRoot, commit: null, dirty: null };
  }
}

// ---- CPU and memory from /proc ----------------------------------------------------------------------------

/** CPU seconds of a process: its own (utime + stime), and what its waited-for children used. */
function cpuOf(pid: number | undefined): { self: number; children: number; ppid: number } {
  const times = pid === undefined ? null : processTimes(pid);
  if (!times) return { self: 0, children: 0, ppid: 0 };
  return {
    self: times.own / TICKS_PER_SECOND,
    children: times.children / TICKS_PER_SECOND,
    ppid: times.ppid,
  };
}

/** PostgreSQL's CPU: the postmaster, its exited backends (cutime) and its live ones. */
function postgresCpu(postmaster: number | undefined): number {
  if (postmaster === undefined) return 0;
  const pm = cpuOf(postmaster);
  let total = pm.self + pm.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const c = cpuOf(Number(entry));
    if (c.ppid === postmaster) total += c.self;
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const ticks = machineTimes() ?? { total: 0, idle: 0 };
  return { busy: (ticks.total - ticks.idle) / TICKS_PER_SECOND, total: ticks.total / TICKS_PER_SECOND };
}

/**
 * Waits until the platform (API process and its PostgreSQL) has used under 10 % of a core for 3 seconds in a
 * row: after the first start's seed PostgreSQL vacuums and analyses, and after the first sign-in of a seeded
 * user the API upgrades its legacy password hash to scrypt in the background (a slow hash each).
 */
async function waitQuiet(
  api: Child,
  pgPid: number | undefined,
  log: (text: string) => void,
): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  let before = cpuOf(api.process.pid).self + postgresCpu(pgPid);
  while (quiet < 3 && performance.now() - started < 300_000) {
    await sleep(1000);
    const now = cpuOf(api.process.pid).self + postgresCpu(pgPid);
    quiet = now - before < 0.1 ? quiet + 1 : 0;
    before = now;
  }
  const seconds = round((performance.now() - started) / 1000, 0);
  log(`the platform was quiet after ${seconds} s${quiet < 3 ? ' (gave up waiting)' : ''}`);
  return seconds;
}

function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

interface CpuSnapshot {
  at: number;
  api: number;
  pg: number;
  sim: number;
  driver: number;
  machine: { busy: number; total: number };
}

function cpuSnapshot(api: Child | undefined, sim: Child | undefined, pgPid: number | undefined): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    api: cpuOf(api?.process.pid).self,
    pg: postgresCpu(pgPid),
    sim: cpuOf(sim?.process.pid).self,
    driver: (usage.user + usage.system) / 1e6,
    machine: machineCpu(),
  };
}

/** % of one core each used between two snapshots (2 cores = 200 %). */
function cpuSplit(a: CpuSnapshot, b: CpuSnapshot) {
  const seconds = (b.at - a.at) / 1000;
  const pct = (x: number) => round((100 * x) / seconds, 0);
  const ours = b.api - a.api + (b.pg - a.pg) + (b.sim - a.sim) + (b.driver - a.driver);
  return {
    api: pct(b.api - a.api),
    postgres: pct(b.pg - a.pg),
    simulator: pct(b.sim - a.sim),
    driver: pct(b.driver - a.driver),
    others: pct(Math.max(0, b.machine.busy - a.machine.busy - ours)),
    machineBusy: pct(b.machine.busy - a.machine.busy),
  };
}

// ---- figures ---------------------------------------------------------------------------------------------

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const ms = (h: Histogram, p: number) => {
  const v = h.percentile(p);
  return v === null ? null : round(v / 1000, 1);
};
const summary = (h: Histogram) => ({ n: h.total, p50: ms(h, 50), p95: ms(h, 95), p99: ms(h, 99) });

class Counter {
  readonly map = new Map<string, number>();
  add(key: string, n = 1): void {
    this.map.set(key, (this.map.get(key) ?? 0) + n);
  }
  get total(): number {
    let t = 0;
    for (const v of this.map.values()) t += v;
    return t;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.map].sort((a, b) => b[1] - a[1]));
  }
}

// ---- the platform's API ----------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: string;
}

class Api {
  readonly pool: Pool;
  constructor(baseUrl: string, connections: number) {
    this.pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async call(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    auth: string | undefined,
    body?: unknown,
    json = false,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (json) headers.accept = 'application/json';
    try {
      const res = await this.pool.request({
        method,
        path,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (error) {
      return { status: 0, body: (error as Error).message };
    }
  }
}

function errorCode(answer: Answer): string {
  if (answer.status === 0) return answer.body.slice(0, 60);
  try {
    return String((JSON.parse(answer.body) as { code?: string }).code ?? '');
  } catch {
    return '';
  }
}

type TableScans = Map<string, { seq: number; seqRows: number; idx: number }>;

/** Per table: sequential scans, the rows they read, and index scans so far (pg_stat_user_tables). */
async function tableScans(sql: Sql): Promise<TableScans> {
  const rows = await sql<
    { relname: string; seq_scan: string; seq_tup_read: string; idx_scan: string | null }[]
  >`
    select relname, seq_scan, seq_tup_read, idx_scan from pg_stat_user_tables`;
  return new Map(
    rows.map((r) => [
      r.relname,
      { seq: Number(r.seq_scan), seqRows: Number(r.seq_tup_read), idx: Number(r.idx_scan ?? 0) },
    ]),
  );
}

/** Tables sequentially scanned during the run: a scan per request grows with the table. */
function scansDuring(before: TableScans, after: TableScans) {
  const out: Record<string, { seqScans: number; rowsRead: number; indexScans: number }> = {};
  for (const [table, b] of after) {
    const a = before.get(table) ?? { seq: 0, seqRows: 0, idx: 0 };
    if (b.seq > a.seq)
      out[table] = { seqScans: b.seq - a.seq, rowsRead: b.seqRows - a.seqRows, indexScans: b.idx - a.idx };
  }
  return out;
}

/** The API's event-loop delay (prom-client's default metrics, reset by every scrape), in ms. */
async function eventLoopLag(api: Api): Promise<Record<string, number> | null> {
  const answer = await api.call('GET', '/metrics', undefined);
  if (answer.status !== 200) return null;
  const lag: Record<string, number> = {};
  for (const match of answer.body.matchAll(/^nodejs_eventloop_lag_(\w+)_seconds (\S+)$/gm)) {
    lag[match[1]!] = round(Number(match[2]) * 1000, 1);
  }
  return lag;
}

// ---- the ceiling: the same payment flow against the simulator alone ----------------------------------------

interface CeilingResult {
  purchases: number;
  failed: number;
  seconds: number;
  purchasesPerSecond: number;
  endToEndMs: ReturnType<typeof summary>;
  errors: Record<string, number>;
}

async function ceiling(
  simUrl: string,
  buyers: number,
  purchases: number,
  config: ReturnType<typeof loadConfig>,
): Promise<CeilingResult> {
  const authorized = new Map<string, () => void>();
  const seen = new Set<string>();
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (
        !verifyWebhookSignature(raw, req.headers[WEBHOOK_HEADERS.signature], config.PAYMENT_WEBHOOK_SECRET)
      ) {
        res.writeHead(401).end();
        return;
      }
      const hook = parseWebhook(raw);
      if (hook.paymentStatus === 'AUTHORIZED') {
        const waiter = authorized.get(hook.paymentId);
        if (waiter) waiter();
        else seen.add(hook.paymentId);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const client = new GatewayClient({
    endpoint: `${simUrl}/api/v1`,
    teamSlug: config.MERCHANT_ID,
    password: config.MERCHANT_PASSWORD,
    timeoutMs: config.PAYMENT_TIMEOUT_MS,
    retry: { attempts: config.PAYMENT_RETRY_ATTEMPTS },
  });
  const latency = new Histogram();
  const errors = new Counter();
  const run = Date.now().toString(36);
  let next = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: buyers }, async () => {
      while (next < purchases) {
        const i = next++;
        const t0 = performance.now();
        try {
          const amount = 4_000_000 + (i % 5) * 100_000;
          const payment = await client.init({
            orderId: `ceiling-${run}-${i}`,
            amount,
            currency: config.PAYMENT_CURRENCY,
            description: `ceiling ${i}`,
            notificationUrl: `${base}/notifications`,
            successUrl: `${base}/success`,
            failUrl: `${base}/fail`,
            paymentExpiryMinutes: config.PAYMENT_EXPIRY_MINUTES,
          });
          if (!seen.delete(payment.paymentId)) {
            await new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('no AUTHORIZED webhook in 30 s')), 30_000);
              authorized.set(payment.paymentId, () => {
                clearTimeout(timer);
                resolve();
              });
            }).finally(() => authorized.delete(payment.paymentId));
          }
          await client.confirm({ paymentId: payment.paymentId, amount });
          latency.record((performance.now() - t0) * 1000);
          done++;
        } catch (error) {
          errors.add((error as { code?: string }).code ?? (error as Error).message);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  return {
    purchases: done,
    failed: errors.total,
    seconds: round(seconds, 2),
    purchasesPerSecond: round(done / seconds, 1),
    endToEndMs: summary(latency),
    errors: errors.toJSON(),
  };
}

// ---- the platform run ----------------------------------------------------------------------------------

interface Slot {
  index: number;
  seats: number[];
  attempt: number;
}

interface RunState {
  opts: Options;
  api: Api;
  auths: string[];
  purchases: number;
  next: number;
  retry: Slot[];
  deadline: number | null;
  paid: number;
  seatsPaid: number;
  failed: number;
  polls: number;
  statuses: Counter;
  failures: Counter;
  e2e: Histogram;
  initToPaid: Histogram;
  steps: Record<'book' | 'select' | 'initiate' | 'poll', Histogram>;
  interval: { paid: number; e2e: Histogram };
  lastPaidAt: number;
  samples: { bookingId: number; what: string }[];
}

function takeSlot(s: RunState): Slot | undefined {
  const again = s.retry.shift();
  if (again) return again;
  if (s.deadline !== null && performance.now() >= s.deadline) return undefined;
  if (s.next >= s.purchases) return undefined;
  const index = s.next++;
  const first = s.opts.firstSeat + index * s.opts.seatsPerPurchase;
  const last = Math.min(first + s.opts.seatsPerPurchase, s.opts.firstSeat + s.opts.seats);
  const seats: number[] = [];
  for (let seat = first; seat < last; seat++) seats.push(seat);
  return { index, seats, attempt: 1 };
}

async function buyer(s: RunState): Promise<void> {
  const { api } = s;
  for (let slot = takeSlot(s); slot; slot = takeSlot(s)) {
    const auth = s.auths[slot.index % s.auths.length]!;
    const fail = (what: string, answer?: Answer, bookingId?: number) => {
      s.failed++;
      s.failures.add(answer ? `${what} ${answer.status} ${errorCode(answer)}`.trim() : what);
      if (bookingId !== undefined && s.samples.length < 20) s.samples.push({ bookingId, what });
    };
    const timed = async (step: keyof RunState['steps'], work: () => Promise<Answer>) => {
      const t = performance.now();
      const answer = await work();
      s.steps[step].record((performance.now() - t) * 1000);
      s.statuses.add(`${step} ${answer.status}`);
      return answer;
    };
    const giveBack = async (bookingId: number | undefined) => {
      // Seats certainly not sold: cancel the booking (frees its holds) and sell them again later.
      if (bookingId !== undefined)
        await api.call('PATCH', '/api/bookings/cancel', auth, { booking_id: bookingId });
      if (slot!.attempt < 3) s.retry.push({ ...slot!, attempt: slot!.attempt + 1 });
    };

    const t0 = performance.now();
    const booked = await timed('book', () => api.call('POST', '/api/bookings', auth, { event_id: EVENT }));
    if (booked.status !== 201) {
      fail('book', booked);
      await giveBack(undefined);
      continue;
    }
    const bookingId = (JSON.parse(booked.body) as { id: number }).id;
    let held = true;
    for (const seat of slot.seats) {
      const selected = await timed('select', () =>
        api.call('PATCH', '/api/seats/select', auth, { booking_id: bookingId, seat_id: seat }),
      );
      if (selected.status !== 200) {
        fail('select', selected, bookingId);
        held = false;
        break;
      }
    }
    if (!held) {
      await giveBack(bookingId);
      continue;
    }
    let initiated: Answer | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      initiated = await timed('initiate', () =>
        api.call('PATCH', '/api/bookings/initiatePayment', auth, { booking_id: bookingId }, true),
      );
      // 504 (outcome unknown) and 503 (busy, breaker) are worth a repeat: the same payment comes back.
      if (initiated.status === 200 || (initiated.status !== 504 && initiated.status !== 503)) break;
      s.failures.add(`initiate ${initiated.status} ${errorCode(initiated)} (repeated)`);
      await sleep(200 * attempt);
    }
    if (initiated?.status !== 200) {
      fail('initiate', initiated, bookingId);
      continue;
    }
    const tInit = performance.now();
    for (;;) {
      await sleep(s.opts.pollMs);
      const status = await timed('poll', () =>
        api.call('GET', `/api/bookings/${bookingId}/payment-status`, auth),
      );
      s.polls++;
      if (status.status !== 200) {
        if (performance.now() - tInit > PAID_TIMEOUT_MS) {
          fail('poll', status, bookingId);
          break;
        }
        continue;
      }
      const view = JSON.parse(status.body) as { booking_status: string; payment_status: string };
      if (view.booking_status === 'paid') {
        const now = performance.now();
        s.e2e.record((now - t0) * 1000);
        s.interval.e2e.record((now - t0) * 1000);
        s.initToPaid.record((now - tInit) * 1000);
        s.paid++;
        s.interval.paid++;
        s.seatsPaid += slot.seats.length;
        s.lastPaidAt = now;
        break;
      }
      if (
        view.booking_status !== 'pending_payment' ||
        ['failed', 'expired', 'refunded'].includes(view.payment_status)
      ) {
        fail(`ended ${view.booking_status}/${view.payment_status}`, undefined, bookingId);
        break;
      }
      if (performance.now() - tInit > PAID_TIMEOUT_MS) {
        fail(
          `not paid in ${PAID_TIMEOUT_MS / 1000} s (${view.booking_status}/${view.payment_status})`,
          undefined,
          bookingId,
        );
        break;
      }
    }
  }
}

// ---- verification ---------------------------------------------------------------------------------------

type Sql = ReturnType<typeof postgres>;

async function verify(
  sql: Sql,
  api: Api,
  adminAuth: string,
  simUrl: string,
  expected: { purchases: number; seats: number },
  readDeliveries: boolean,
) {
  const problems: string[] = [];
  const check = (ok: boolean, text: string) => {
    if (!ok) problems.push(text);
  };
  const one = async <T>(query: Promise<T[]>) => (await query)[0]!;
  const count = async (query: Promise<{ n: string }[]>) => Number((await one(query)).n);

  // Open payments settle within a few seconds of the last poll (CONFIRMED webhooks); wait up to 30 s.
  let open = 0;
  for (let i = 0; i < 30; i++) {
    open = await count(sql`select count(*) as n from payments
      where state in ('initiating', 'pending', 'capturing', 'reversing', 'refunding')`);
    if (open === 0) break;
    await sleep(1000);
  }

  const bookings = await sql<{ status: string; n: string }[]>`
    select status::text, count(*) as n from bookings where event_id = ${EVENT} group by 1 order by 1`;
  const byStatus = Object.fromEntries(bookings.map((r) => [r.status, Number(r.n)]));
  const paidBookings = byStatus.paid ?? 0;
  const seatRows = await one(sql<{ sold: string; unsold: string }[]>`
    select count(*) filter (where sold) as sold, count(*) filter (where not sold) as unsold
    from booking_seats where event_id = ${EVENT}`);
  const soldRows = Number(seatRows.sold);
  const soldNotPaid = await sql<{ seat_id: string; booking_id: string; status: string }[]>`
    select bs.seat_id, bs.booking_id, b.status::text from booking_seats bs join bookings b on b.id = bs.booking_id
    where bs.sold and b.status <> 'paid' order by bs.seat_id limit 10`;
  const soldNotPaidCount = await count(sql`select count(*) as n from booking_seats bs
    join bookings b on b.id = bs.booking_id where bs.sold and b.status <> 'paid'`);
  const paidUnsold = await count(sql`select count(*) as n from booking_seats bs
    join bookings b on b.id = bs.booking_id where not bs.sold and b.status = 'paid'`);
  const notOneConfirmed = await sql<{ id: string; confirmed: string; payments: string }[]>`
    select b.id, count(p.id) filter (where p.state = 'confirmed') as confirmed, count(p.id) as payments
    from bookings b left join payments p on p.booking_id = b.id
    where b.status = 'paid' group by b.id
    having count(p.id) filter (where p.state = 'confirmed') <> 1 limit 10`;
  const confirmedNotPaid = await sql<{ id: string; booking_id: string; status: string }[]>`
    select p.id, p.booking_id, b.status::text from payments p join bookings b on b.id = p.booking_id
    where p.state = 'confirmed' and b.status <> 'paid' limit 10`;
  const amountMismatch = await sql<{ id: string; amount: string; seats_sum: string }[]>`
    select p.id, p.amount::text, x.s::text as seats_sum from payments p
    join (select booking_id, sum(price) as s, count(*) as n from booking_seats group by booking_id) x
      on x.booking_id = p.booking_id
    where p.state = 'confirmed' and (x.s <> p.amount or x.n <> p.seat_count or p.amount_minor <> p.amount * 100)
    limit 10`;
  const payments = await sql<{ state: string; n: string }[]>`
    select state::text, count(*) as n from payments group by 1 order by 1`;
  const byState = Object.fromEntries(payments.map((r) => [r.state, Number(r.n)]));
  const openSamples = await sql`select id, booking_id, state::text, gateway_status, updated_at from payments
    where state in ('initiating', 'pending', 'capturing', 'reversing', 'refunding') order by id limit 10`;
  const transitions = await sql<{ to_state: string; source: string; reference: string | null; n: string }[]>`
    select to_state::text, source,
      case when source = 'webhook' then 'delivery' else reference end as reference, count(*) as n
    from payment_transitions group by 1, 2, 3 order by 1, 2, 3`;
  const deliveriesSeen = await sql<{ status: string; outcome: string; n: string }[]>`
    select status, outcome, count(*) as n from payment_webhook_deliveries group by 1, 2 order by 1, 2`;
  const serverLatency = await one(sql<
    { init_to_confirmed: number[] | null; booking_to_confirmed: number[] | null }[]
  >`
    with t as (
      select p.id, b.created_at as booked,
        min(pt.created_at) filter (where pt.to_state = 'initiating') as initiating,
        min(pt.created_at) filter (where pt.to_state = 'confirmed') as confirmed
      from payments p join payment_transitions pt on pt.payment_id = p.id join bookings b on b.id = p.booking_id
      group by p.id, b.created_at)
    select
      percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from confirmed - initiating) * 1000)
        as init_to_confirmed,
      percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from confirmed - booked) * 1000)
        as booking_to_confirmed
    from t where confirmed is not null`);

  // Where a payment's time goes: each ledger transition's delay after the one before it (the booking's
  // creation before the first), by step. Times are the transactions' start times (now()).
  const stepGaps = await sql<{ step: string; n: string; p50: number; p95: number; p99: number }[]>`
    with t as (
      select pt.from_state::text || ' -> ' || pt.to_state::text || ' (' || pt.source ||
          coalesce(' ' || nullif(pt.gateway_status, ''), '') || ')' as step,
        extract(epoch from pt.created_at - coalesce(
          lag(pt.created_at) over (partition by pt.payment_id order by pt.id), b.created_at)) * 1000 as gap
      from payment_transitions pt join bookings b on b.id = pt.booking_id)
    select coalesce(step, 'booking created -> initiating') as step, count(*) as n,
      percentile_cont(0.5) within group (order by gap) as p50,
      percentile_cont(0.95) within group (order by gap) as p95,
      percentile_cont(0.99) within group (order by gap) as p99
    from t group by 1 order by 3`;

  // Deliveries filed as a "second gateway payment of the order" (a stray) although the order has one payment,
  // whose gateway id is the webhook's own: the webhook was taken for a stray by mistake.
  const strays = await sql<
    { delivery_id: string; status: string; gateway_payment_id: string; payment_id: string }[]
  >`
    select d.delivery_id, d.status, d.gateway_payment_id, d.payment_id from payment_webhook_deliveries d
    where d.outcome = 'stray'
      and (select count(*) from payments p where p.order_id =
            (select order_id from payments where gateway_payment_id = d.gateway_payment_id)) = 1
    order by d.received_at`;
  const strayRows = await count(sql`select count(*) as n from payments p
    where exists (select 1 from payments q where q.order_id = p.order_id and q.id <> p.id)`);

  const analyticsAnswer = await api.call('GET', `/api/analytics?id=${EVENT}`, adminAuth);
  const analytics = JSON.parse(analyticsAnswer.body) as EventAnalytics;
  const revenue = await one(sql<{ paid: string | null }[]>`
    select sum(amount)::text as paid from payments where state = 'confirmed'`);

  // The simulator's side.
  const simPayments = (await (await fetch(`${simUrl}/__sim/payments`)).json()) as {
    paymentId: string;
    status: string;
    amount: number;
  }[];
  const simByStatus = new Counter();
  for (const p of simPayments) simByStatus.add(p.status);
  const confirmedHere = await sql<{ gateway_payment_id: string | null; amount_minor: string }[]>`
    select gateway_payment_id, amount_minor from payments where state = 'confirmed'`;
  const simIndex = new Map(simPayments.map((p) => [p.paymentId, p]));
  let notConfirmedAtGateway = 0;
  const gatewaySamples: string[] = [];
  for (const p of confirmedHere) {
    const there = p.gateway_payment_id ? simIndex.get(p.gateway_payment_id) : undefined;
    if (there?.status !== 'CONFIRMED' || there.amount !== Number(p.amount_minor)) {
      notConfirmedAtGateway++;
      if (gatewaySamples.length < 5)
        gatewaySamples.push(
          `${p.gateway_payment_id}: ${there ? `${there.status} ${there.amount}` : 'absent'}`,
        );
    }
  }
  const simStats = (await (await fetch(`${simUrl}/__sim/stats`)).json()) as Record<string, unknown>;
  let deliveries: Record<string, unknown> | null = null;
  if (readDeliveries) {
    const list = (await (await fetch(`${simUrl}/__sim/deliveries`)).json()) as {
      event: string;
      state: string;
      attempts: { outcome: number | string }[];
    }[];
    const states = new Counter();
    const outcomes = new Counter();
    let retried = 0;
    for (const d of list) {
      states.add(`${d.event} ${d.state}`);
      for (const a of d.attempts) outcomes.add(String(a.outcome));
      if (d.attempts.length > 1) retried++;
    }
    deliveries = { total: list.length, retried, states: states.toJSON(), attemptOutcomes: outcomes.toJSON() };
  }

  check(open === 0, `${open} payments still open (initiating/pending/capturing/reversing/refunding)`);
  check(
    paidBookings === expected.purchases,
    `paid bookings ${paidBookings} != purchases seen paid ${expected.purchases}`,
  );
  check(soldRows === expected.seats, `sold booking_seats rows ${soldRows} != seats bought ${expected.seats}`);
  check(
    analytics.sold_seats === expected.seats,
    `analytics sold_seats ${analytics.sold_seats} != ${expected.seats}`,
  );
  check(analytics.reserved_seats === 0, `analytics reserved_seats ${analytics.reserved_seats} != 0`);
  check(
    analytics.free_seats === analytics.total_seats - analytics.sold_seats,
    `analytics free_seats ${analytics.free_seats} != total - sold`,
  );
  check(
    revenue.paid === null || Number(revenue.paid) === Number(analytics.total_revenue),
    `analytics total_revenue ${analytics.total_revenue} != confirmed payments' sum ${revenue.paid}`,
  );
  check(soldNotPaidCount === 0, `${soldNotPaidCount} sold seats whose booking is not paid`);
  check(paidUnsold === 0, `${paidUnsold} unsold seat rows of paid bookings`);
  check(
    notOneConfirmed.length === 0,
    `${notOneConfirmed.length}+ paid bookings without exactly one confirmed payment`,
  );
  check(
    confirmedNotPaid.length === 0,
    `${confirmedNotPaid.length}+ confirmed payments whose booking is not paid`,
  );
  check(
    amountMismatch.length === 0,
    `${amountMismatch.length}+ confirmed payments whose amount or seats differ`,
  );
  check(
    (byState.confirmed ?? 0) === paidBookings,
    `confirmed payments ${byState.confirmed ?? 0} != paid bookings`,
  );
  const simConfirmed = simByStatus.map.get('CONFIRMED') ?? 0;
  check(
    simConfirmed === paidBookings,
    `simulator CONFIRMED ${simConfirmed} != paid bookings ${paidBookings}`,
  );
  check(
    !simByStatus.map.has('AUTHORIZED'),
    `simulator AUTHORIZED left: ${simByStatus.map.get('AUTHORIZED')}`,
  );
  for (const status of ['REFUNDED', 'CANCELLED', 'NEW', 'FORM_SHOWED', 'REJECTED', 'FAILED', 'EXPIRED'])
    check(!simByStatus.map.has(status), `simulator ${status}: ${simByStatus.map.get(status)}`);
  check(
    notConfirmedAtGateway === 0,
    `${notConfirmedAtGateway} confirmed payments not CONFIRMED (same amount) at the gateway`,
  );

  const warnings: string[] = [];
  if (strays.length > 0)
    warnings.push(
      `${strays.length} webhook deliveries recorded as 'stray' (a second gateway payment of the order) for ` +
        `orders with a single payment whose gateway id is the webhook's own`,
    );
  if (strayRows > 0) warnings.push(`${strayRows} payment rows share their order id with another`);

  return {
    consistent: problems.length === 0,
    problems,
    warnings,
    bookings: byStatus,
    seatRows: { sold: soldRows, unsold: Number(seatRows.unsold) },
    payments: byState,
    analytics,
    confirmedRevenue: revenue.paid,
    samples: {
      soldNotPaid,
      notOneConfirmed,
      confirmedNotPaid,
      amountMismatch,
      open: openSamples,
      gateway: gatewaySamples,
      mistakenStrays: strays.slice(0, 10),
    },
    transitions: transitions.map((r) => ({ ...r, n: Number(r.n) })),
    stepGapsMs: stepGaps.map((r) => ({
      step: r.step,
      n: Number(r.n),
      p50: round(r.p50, 1),
      p95: round(r.p95, 1),
      p99: round(r.p99, 1),
    })),
    webhookDeliveriesRecorded: deliveriesSeen.map((r) => ({ ...r, n: Number(r.n) })),
    serverLatencyMs: {
      initiatingToConfirmed: serverLatency.init_to_confirmed?.map((x) => round(x, 1)) ?? null,
      bookingToConfirmed: serverLatency.booking_to_confirmed?.map((x) => round(x, 1)) ?? null,
    },
    simulator: { payments: simPayments.length, byStatus: simByStatus.toJSON(), stats: simStats, deliveries },
  };
}

// ---- main ------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: Options | null;
  try {
    opts = options(process.argv.slice(2));
  } catch (error) {
    console.error(`pay-flow: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (!opts) {
    console.log(HELP);
    return 0;
  }
  if (opts.firstSeat + opts.seats - 1 > 100_000) {
    console.error('pay-flow: event 1 has seats 1..100000: --first-seat + --seats - 1 must be <= 100000');
    return 2;
  }
  const config = loadConfig();
  const purchases = Math.ceil(opts.seats / opts.seatsPerPurchase);
  const maxSeatsPerUser =
    opts.maxSeatsPerUser ?? Math.max(10, Math.ceil(purchases / opts.users) * opts.seatsPerPurchase);
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  const time = new Date().toISOString();
  const machine = {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    loadAverageBefore: [round(l1, 2), round(l5, 2), round(l15, 2)],
  };
  const log = (text: string) => process.stderr.write(`pay-flow: ${text}\n`);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the simulator and the platform`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  // Another run (or a dev server) on the same files or port: refuse rather than share or stop its PostgreSQL.
  const running = postmasterPid(opts.dataDir);
  if (running !== undefined && alive(running)) {
    console.error(
      `pay-flow: PostgreSQL ${running} already runs on ${opts.dataDir} (another run?); not starting`,
    );
    return 2;
  }
  if (!(await portFree(opts.pgPort))) {
    console.error(`pay-flow: port ${opts.pgPort} is taken; choose another --pg-port`);
    return 2;
  }

  let sql: Sql | undefined;
  let api: Api | undefined;
  try {
    // The simulator, a separate process (the gateway is an external service).
    const simPort = await freePort();
    log(`starting the gateway simulator on port ${simPort} (SIM_AUTO_PAY_DELAY_MS=0)`);
    const sim = await startChild(
      'sim',
      ['bin/boxoffice.js', 'sim', 'gateway', '--port', String(simPort), '--host', '127.0.0.1'],
      { ...process.env, LOG_LEVEL: 'warn', SIM_AUTO_PAY_DELAY_MS: '0' },
      simPort,
      '/health',
      30_000,
    );

    const apiPort = await freePort();
    const platformEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: opts.dataDir,
      EMBEDDED_PG_PORT: String(opts.pgPort),
      PAYMENT_ENDPOINT: `${sim.baseUrl}/api/v1`,
      BOOKING_MAX_SEATS_PER_USER: String(maxSeatsPerUser),
      AUTH_CACHE_TTL_SECONDS: String(opts.authTtl),
      DROPS_CONTEST_ENABLED: 'false',
      SIM_GATEWAY_PORT: '0',
    };
    delete platformEnv.DATABASE_URL;
    log(
      `starting the platform on port ${apiPort} (DATA_DIR=${opts.dataDir}, EMBEDDED_PG_PORT=${opts.pgPort}, ` +
        `BOOKING_MAX_SEATS_PER_USER=${maxSeatsPerUser}, AUTH_CACHE_TTL_SECONDS=${opts.authTtl}); the first start seeds the demo`,
    );
    ownDataDir = opts.dataDir;
    const platform = await startChild(
      'server',
      [
        ...(opts.profileApi ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileApi}`] : []),
        'bin/boxoffice.js',
        'start',
      ],
      platformEnv,
      apiPort,
      '/health/ready',
      600_000,
    );
    const pgPid = postmasterPid(opts.dataDir);
    sql = postgres(`postgres://postgres:postgres@127.0.0.1:${opts.pgPort}/boxoffice`, {
      max: 2,
      onnotice: () => {},
    });
    api = new Api(platform.baseUrl, opts.buyers + 8);

    const reset = await api.call('POST', '/api/reset', undefined);
    if (reset.status !== 200) throw new Error(`POST /api/reset answered ${reset.status} ${reset.body}`);

    // Buyers: active seeded users (demo profile, seed 1), each signed in once before any clock starts. The
    // booking and the payments routes each remember verified credentials in a cache of their own (one
    // basicAuth per module), so each user signs in on both: a payments route for a booking that does not
    // exist answers 404 once the caller is signed in.
    const auths: string[] = [];
    for (let id = 1; auths.length < opts.users && id <= opts.users * 3; id++) {
      const user = seededUserCredentials(1, id);
      if (user.active)
        auths.push(`Basic ${Buffer.from(`${user.email}:${user.password}`).toString('base64')}`);
    }
    if (auths.length < opts.users) throw new Error(`only ${auths.length} active seeded users found`);
    log(`signing in ${auths.length} users on the booking and the payments routes (a slow hash each)…`);
    const warmStart = performance.now();
    let nextUser = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (nextUser < auths.length) {
          const auth = auths[nextUser++]!;
          const answer = await api!.call('GET', '/api/bookings?pageSize=1', auth);
          if (answer.status !== 200) throw new Error(`a seeded user could not sign in: ${answer.status}`);
          const payments = await api!.call(
            'GET',
            `/api/bookings/${Number.MAX_SAFE_INTEGER}/payment-status`,
            auth,
          );
          if (payments.status !== 404)
            throw new Error(`signing in on the payments routes: ${payments.status} ${payments.body}`);
        }
      }),
    );
    log(
      `signed in in ${round((performance.now() - warmStart) / 1000, 1)} s; waiting for the platform to idle`,
    );
    const quietAfterS = await waitQuiet(platform, pgPid, log);

    // The ceiling: the simulator alone, same concurrency, the platform up and idle.
    let ceilingResult: CeilingResult | null = null;
    let ceilingCpu: ReturnType<typeof cpuSplit> | null = null;
    if (opts.ceilingPurchases > 0) {
      log(`ceiling: ${opts.ceilingPurchases} purchases against the simulator alone, ${opts.buyers} buyers…`);
      const before = cpuSnapshot(platform, sim, pgPid);
      ceilingResult = await ceiling(sim.baseUrl, opts.buyers, opts.ceilingPurchases, config);
      ceilingCpu = cpuSplit(before, cpuSnapshot(platform, sim, pgPid));
      log(
        `ceiling: ${ceilingResult.purchasesPerSecond} purchases/s, p50/p95/p99 ${ceilingResult.endToEndMs.p50}/` +
          `${ceilingResult.endToEndMs.p95}/${ceilingResult.endToEndMs.p99} ms, ${ceilingResult.failed} failed`,
      );
      await sleep(1000); // the last CONFIRMED webhooks
      const simReset = await fetch(`${sim.baseUrl}/__sim/reset`, { method: 'POST' });
      await simReset.arrayBuffer();
    }

    // The platform run.
    const state: RunState = {
      opts,
      api,
      auths,
      purchases,
      next: 0,
      retry: [],
      deadline: null,
      paid: 0,
      seatsPaid: 0,
      failed: 0,
      polls: 0,
      statuses: new Counter(),
      failures: new Counter(),
      e2e: new Histogram(),
      initToPaid: new Histogram(),
      steps: {
        book: new Histogram(),
        select: new Histogram(),
        initiate: new Histogram(),
        poll: new Histogram(),
      },
      interval: { paid: 0, e2e: new Histogram() },
      lastPaidAt: 0,
      samples: [],
    };
    log(
      `platform: ${purchases} purchases of ${opts.seatsPerPurchase} seats (seats ${opts.firstSeat}..` +
        `${opts.firstSeat + opts.seats - 1}), ${opts.buyers} buyers, poll every ${opts.pollMs} ms…`,
    );
    await eventLoopLag(api); // resets the delay histogram: the next scrape covers the run
    const scansBefore = await tableScans(sql);
    const loadBefore = loadavg()[0] ?? 0;
    const cpuBefore = cpuSnapshot(platform, sim, pgPid);
    const started = performance.now();
    if (opts.durationS !== null) state.deadline = started + opts.durationS * 1000;
    const timeline: { t: number; paid: number; perSecond: number; p95: number | null; load1: number }[] = [];
    let lastTick = started;
    const ticker = setInterval(() => {
      const now = performance.now();
      const rate = state.interval.paid / ((now - lastTick) / 1000);
      const entry = {
        t: round((now - started) / 1000, 0),
        paid: state.paid,
        perSecond: round(rate, 1),
        p95: ms(state.interval.e2e, 95),
        load1: round(loadavg()[0] ?? 0, 2),
      };
      timeline.push(entry);
      log(
        `t=${entry.t}s paid ${state.paid} (${state.seatsPaid} seats), ${entry.perSecond} purchases/s, ` +
          `p95 ${entry.p95} ms, failed ${state.failed}, load ${entry.load1}`,
      );
      state.interval = { paid: 0, e2e: new Histogram() };
      lastTick = now;
    }, 10_000);
    // What the platform's database connections are doing, sampled every second (the pool's size bounds them).
    const activity = new Counter();
    let activitySamples = 0;
    const db = sql;
    const sampler = setInterval(() => {
      void db<{ what: string; n: string }[]>`
        select case when application_name ~ '^boxoffice:[0-9]+$' then 'pool'
            when application_name like 'boxoffice:%' then substr(application_name, strpos(application_name, ':') + 1)
            else coalesce(nullif(application_name, ''), 'other') end
          || ' ' || state || coalesce(' ' || wait_event_type || ':' || wait_event, '') as what, count(*) as n
        from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
        group by 1`.then(
        (rows) => {
          activitySamples++;
          for (const r of rows) activity.add(r.what ?? 'unknown', Number(r.n));
        },
        () => undefined,
      );
    }, 1000);
    await Promise.all(Array.from({ length: opts.buyers }, () => buyer(state)));
    clearInterval(ticker);
    clearInterval(sampler);
    const ended = performance.now();
    const cpuAfter = cpuSnapshot(platform, sim, pgPid);
    const lag = await eventLoopLag(api);
    const seqScans = scansDuring(scansBefore, await tableScans(sql));
    const loadAfter = loadavg()[0] ?? 0;
    const seconds = (state.lastPaidAt > 0 ? state.lastPaidAt : ended) - started;
    const perSecond = state.paid / (seconds / 1000);
    const steady = timeline
      .slice(0, -1)
      .map((e) => e.perSecond)
      .sort((a, b) => a - b);
    const platformFigures = {
      purchases: state.paid,
      seats: state.seatsPaid,
      failed: state.failed,
      seconds: round(seconds / 1000, 1),
      purchasesPerSecond: round(perSecond, 1),
      seatsPerSecond: round(state.seatsPaid / (seconds / 1000), 1),
      medianTenSecondRate: steady.length > 0 ? steady[Math.floor(steady.length / 2)] : null,
      endToEndMs: summary(state.e2e),
      initiateToPaidSeenMs: summary(state.initToPaid),
      stepsMs: {
        book: summary(state.steps.book),
        select: summary(state.steps.select),
        initiate: summary(state.steps.initiate),
        poll: summary(state.steps.poll),
      },
      pollsPerPurchase: state.paid > 0 ? round(state.polls / state.paid, 2) : null,
      requests: state.statuses.total,
      requestsPerSecond: round(state.statuses.total / ((ended - started) / 1000), 0),
      statuses: state.statuses.toJSON(),
      failures: state.failures.toJSON(),
      failureSamples: state.samples,
      cpuPercentOfOneCore: cpuSplit(cpuBefore, cpuAfter),
      apiEventLoopLagMs: lag,
      sequentialScans: seqScans,
      dbConnectionsAverage: Object.fromEntries(
        Object.entries(activity.toJSON()).map(([k, v]) => [k, round(v / Math.max(1, activitySamples), 2)]),
      ),
      peakRssMiB: { api: peakRssMiB(platform.process.pid), simulator: peakRssMiB(sim.process.pid) },
      loadAverage1m: { start: round(loadBefore, 2), end: round(loadAfter, 2) },
      timeline,
    };
    log(
      `platform: ${state.paid} purchases (${state.seatsPaid} seats) in ${platformFigures.seconds} s, ` +
        `${platformFigures.purchasesPerSecond} purchases/s; verifying…`,
    );
    const admin = auths[0]!;
    const verification = await verify(
      sql,
      api,
      admin,
      sim.baseUrl,
      { purchases: state.paid, seats: state.seatsPaid },
      opts.deliveries,
    );
    const ratios = ceilingResult
      ? {
          purchasesPerSecond: round(perSecond / ceilingResult.purchasesPerSecond, 3),
          p95:
            platformFigures.endToEndMs.p95 !== null && ceilingResult.endToEndMs.p95
              ? round(platformFigures.endToEndMs.p95 / ceilingResult.endToEndMs.p95, 2)
              : null,
        }
      : null;
    const result = {
      benchmark: 'pay-flow',
      time,
      command: `npm run bench:pay-flow -- ${process.argv.slice(2).join(' ')}`.trim(),
      settings: { ...opts, purchases, maxSeatsPerUser, event: EVENT, paidTimeoutMs: PAID_TIMEOUT_MS },
      quietAfterS,
      machine,
      source: source(),
      environment: Object.fromEntries(
        Object.entries(process.env).filter(([key]) =>
          /^(DB_|BOOKING_|PAYMENT_|AUTH_|SIM_|CIRCUIT_|OUTBOX_|LOG_)/.test(key),
        ),
      ),
      ceiling: ceilingResult ? { ...ceilingResult, cpuPercentOfOneCore: ceilingCpu } : null,
      platform: platformFigures,
      ratios,
      verification,
    };

    const c = ceilingResult;
    const p = platformFigures;
    const src = result.source;
    const lines = [
      '',
      `source ${src.root} at ${src.commit ?? '(not a git checkout)'}${src.dirty?.length ? ` with changes: ${src.dirty.join(', ')}` : ''}`,
      `pay-flow ${time}  buyers ${opts.buyers}, ${opts.seatsPerPurchase} seats/purchase, poll ${opts.pollMs} ms, load ${machine.loadAverageBefore.join(' ')}`,
      c
        ? `ceiling (simulator alone): ${c.purchases} purchases in ${c.seconds} s = ${c.purchasesPerSecond}/s, e2e p50/p95/p99 ${c.endToEndMs.p50}/${c.endToEndMs.p95}/${c.endToEndMs.p99} ms`
        : 'ceiling: skipped',
      `platform: ${p.purchases} purchases, ${p.seats} seats in ${p.seconds} s = ${p.purchasesPerSecond} purchases/s, ${p.seatsPerSecond} seats/s (median 10 s window ${p.medianTenSecondRate}/s)`,
      `  e2e (booking request -> paid seen) p50/p95/p99 ${p.endToEndMs.p50}/${p.endToEndMs.p95}/${p.endToEndMs.p99} ms; initiate -> paid seen p95 ${p.initiateToPaidSeenMs.p95} ms; ${p.pollsPerPurchase} polls/purchase`,
      `  steps p95: book ${p.stepsMs.book.p95}, select ${p.stepsMs.select.p95}, initiate ${p.stepsMs.initiate.p95}, poll ${p.stepsMs.poll.p95} ms; ${p.requestsPerSecond} req/s`,
      `  server side p50/p95/p99: initiating -> confirmed ${verification.serverLatencyMs.initiatingToConfirmed?.join('/')} ms, booking -> confirmed ${verification.serverLatencyMs.bookingToConfirmed?.join('/')} ms`,
      `  ledger steps p50/p95 ms: ${verification.stepGapsMs.map((g) => `${g.step} ${g.p50}/${g.p95}`).join('; ')}`,
      `  failed ${p.failed} ${JSON.stringify(p.failures)}`,
      `  CPU % of one core: ${JSON.stringify(p.cpuPercentOfOneCore)}; peak RSS MiB ${JSON.stringify(p.peakRssMiB)}; load ${p.loadAverage1m.start} -> ${p.loadAverage1m.end}`,
      `  sequential scans during the run: ${JSON.stringify(p.sequentialScans)}`,
      `  API event-loop delay ms: ${JSON.stringify(p.apiEventLoopLagMs)}`,
      `  database connections on average: ${JSON.stringify(p.dbConnectionsAverage)}`,
      ratios ? `ratios to the ceiling: purchases/s ${ratios.purchasesPerSecond}, p95 ${ratios.p95}` : '',
      `verification: ${verification.consistent ? 'consistent' : `INCONSISTENT: ${verification.problems.join('; ')}`}`,
      verification.warnings.length > 0 ? `  warnings: ${verification.warnings.join('; ')}` : '',
      `  bookings ${JSON.stringify(verification.bookings)}, payments ${JSON.stringify(verification.payments)}, simulator ${JSON.stringify(verification.simulator.byStatus)}`,
      `  analytics sold ${verification.analytics.sold_seats}, reserved ${verification.analytics.reserved_seats}, free ${verification.analytics.free_seats}`,
    ];
    console.log(lines.filter(Boolean).join('\n'));
    console.log(`RESULT ${JSON.stringify(result)}`);
    const dir = `${repoRoot}bench/results`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/pay-flow-${time.replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`saved ${file}`);
    return verification.consistent ? 0 : 1;
  } finally {
    await sql?.end({ timeout: 5 });
    await api?.pool.close();
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`pay-flow: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
