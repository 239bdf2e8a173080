import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { snapshot, TICKS_PER_SECOND } from './lib/cpu.ts';
import { accessToken, createBenchAccount, untilReady } from './lib/platform-process.ts';
import { freePort } from './lib/server.ts';

// `DATABASE_URL=… npx tsx bench/notify-blast.ts [--recipients 1000000] [--instant-rate 10] [--workers 1]
//  [--ceiling-seconds 10] [--concurrency 64]` (docs/notify.md, docs/performance.md):
// three bulk campaigns (email, SMS, Web Push) to `recipients` users in all, through the real API and delivery
// workers into the local development peers, with instant SMS notifications at a steady rate meanwhile. Reports
// deliveries per minute end to end (each with its status row), the instant p95 from the API's 202 to the
// provider accepting it (the delivery's sent_at), the CPU split, and the ratio to the peers' own ceiling: a bare
// sender (nodemailer pool, fetch, web-push) to the same peers in the same run, at the same concurrency.

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000000' },
    'instant-rate': { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
    'ceiling-seconds': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    batch: { type: 'string', default: '500' },
    split: { type: 'string', default: '60,20,20' },
  },
});
const RECIPIENTS = Number(values.recipients);
const INSTANT_RATE = Number(values['instant-rate']);
const WORKERS = Number(values.workers);
const CEILING_SECONDS = Number(values['ceiling-seconds']);
const CONCURRENCY = Number(values.concurrency);
// Push gets what email and SMS leave.
const [emailShare, smsShare] = values.split.split(',').map(Number) as [number, number];
const ADMIN_URL = process.env.DATABASE_URL;
if (!ADMIN_URL) {
  console.error('notify-blast: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}
const log = (message: string) => process.stderr.write(`[notify-blast] ${message}\n`);

// The peers run as their own process (`boxoffice sim notify`), so the CPU split shows what they cost.
const peerPorts = {
  smtp: await freePort(),
  inbox: await freePort(),
  sms: await freePort(),
  push: await freePort(),
};
const peersProcess = spawn(
  process.execPath,
  [
    'bin/boxoffice.js',
    'sim',
    'notify',
    '--smtp-port',
    String(peerPorts.smtp),
    '--inbox-port',
    String(peerPorts.inbox),
    '--sms-port',
    String(peerPorts.sms),
    '--push-port',
    String(peerPorts.push),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
);
const peers = {
  smtpUrl: `smtp://127.0.0.1:${peerPorts.smtp}`,
  smsUrl: `http://127.0.0.1:${peerPorts.sms}`,
  pushUrl: `http://127.0.0.1:${peerPorts.push}`,
  inboxUrl: `http://127.0.0.1:${peerPorts.inbox}`,
};
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${peers.smsUrl}/__sim/config`)).ok) break;
  } catch {}
  if (i > 100) throw new Error('the notify peers did not start');
  await sleep(100);
}
async function newSubscription(): Promise<{ endpoint: string; keys: { p256dh: string; auth: string } }> {
  const response = await fetch(`${peers.pushUrl}/__sim/subscriptions`, { method: 'POST' });
  return (await response.json()) as { endpoint: string; keys: { p256dh: string; auth: string } };
}
async function clearPeers() {
  await Promise.all(
    [peers.smsUrl, peers.pushUrl].map((url) =>
      fetch(`${url}/__sim/reset`, { method: 'POST' }).then((r) => r.arrayBuffer()),
    ),
  );
  await fetch(`${peers.inboxUrl}/api/messages`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
}
const work = await mkdtemp(join(tmpdir(), 'notify-blast-'));
const dbName = `boxoffice_bench_notify_${randomBytes(4).toString('hex')}`;
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const dbUrl = new URL(ADMIN_URL);
dbUrl.pathname = `/${dbName}`;
const sql = postgres(dbUrl.toString(), { max: 4, onnotice: () => {} });
const children: ReturnType<typeof spawn>[] = [];

async function cleanup() {
  for (const child of children) child.kill('SIGTERM');
  await sleep(1000);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await sql.end({ timeout: 5 });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
  peersProcess.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

try {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: dbUrl.toString(),
    DATA_DIR: work,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SEED_DEMO_ON_START: 'false',
    DROPS_ENABLED: 'false',
    NODE_ENV: 'development',
    SMTP_URL: peers.smtpUrl,
    SMS_PROVIDER_URL: `${peers.smsUrl}/messages`,
    NOTIFY_CONCURRENCY: String(CONCURRENCY),
    NOTIFY_BATCH_SIZE: values.batch,
    // The bench's campaigns go out at any hour.
    NOTIFY_QUIET_HOURS: '',
  };
  execFileSync(process.execPath, ['bin/boxoffice.js', 'migrate'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  // Recipients: country RU gets the email campaign, KZ the SMS one, BY the push one.
  const counts = {
    email: Math.round((RECIPIENTS * emailShare) / 100),
    sms: Math.round((RECIPIENTS * smsShare) / 100),
    push: 0,
  };
  counts.push = RECIPIENTS - counts.email - counts.sms;
  log(`seeding ${RECIPIENTS} recipients (email ${counts.email}, sms ${counts.sms}, push ${counts.push})`);
  const seedStarted = performance.now();
  await sql`
    insert into users (id, email, password_hash, first_name)
    select i, 'u' || i || '@bench.test', 'x', 'User' || i from generate_series(1, ${RECIPIENTS}) i`;
  await sql`
    insert into notify_contacts (user_id, email, phone, time_zone, locale, country)
    select i, 'u' || i || '@bench.test', '+7' || (9000000000 + i)::text, 'Europe/Moscow', 'ru',
           case when i <= ${counts.email} then 'RU' when i <= ${counts.email + counts.sms} then 'KZ' else 'BY' end
    from generate_series(1, ${RECIPIENTS}) i`;
  // Push subscriptions with real keys, made by the push service as a browser would (one per push user).
  const firstPush = counts.email + counts.sms + 1;
  for (let from = firstPush; from <= RECIPIENTS; from += 5000) {
    const ids = Array.from({ length: Math.min(5000, RECIPIENTS + 1 - from) }, (_, k) => from + k);
    const rows = [];
    for (let k = 0; k < ids.length; k += 50) {
      const made = await Promise.all(
        ids.slice(k, k + 50).map(async (id) => ({ id, s: await newSubscription() })),
      );
      for (const { id, s } of made)
        rows.push({ user_id: id, endpoint: s.endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth });
    }
    await sql`insert into notify_push_subscriptions ${sql(rows)}`;
  }
  await sql`analyze`;
  log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const account = createBenchAccount(env, 'bench-notify');

  // The ceiling (below): bare senders to the same peers, at the same concurrency, before the platform starts.
  const ceilingSeconds = CEILING_SECONDS / 3;
  const sub = await newSubscription();
  // As many bare senders at once as the platform has worker processes, each with the workers' concurrency.
  const bare = async (channel: 'email' | 'sms' | 'push'): Promise<number> => {
    const runs = Array.from(
      { length: WORKERS },
      () =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              'bench/notify-ceiling.ts',
              '--channel',
              channel,
              '--seconds',
              String(ceilingSeconds),
              '--concurrency',
              String(CONCURRENCY),
              '--smtp',
              peers.smtpUrl,
              '--sms',
              `${peers.smsUrl}/messages`,
              '--subscription',
              JSON.stringify(sub),
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout!.on('data', (chunk) => {
            out += chunk;
          });
          child.on('exit', (code) =>
            code === 0
              ? resolve((JSON.parse(out) as { perSecond: number }).perSecond)
              : reject(new Error(`ceiling ${channel} exited ${code}`)),
          );
        }),
    );
    return (await Promise.all(runs)).reduce((a, b) => a + b, 0);
  };
  const ceilingCpu0 = snapshot();
  const ceiling = { email: await bare('email'), sms: await bare('sms'), push: await bare('push') };
  const ceilingCpu1 = snapshot();
  await clearPeers();
  // The mix's ceiling: the time a bare sender needs for this run's shares, one channel after the other.
  const ceilingMixPerSecond =
    RECIPIENTS / (counts.email / ceiling.email + counts.sms / ceiling.sms + counts.push / ceiling.push);
  log(
    `ceiling: email ${ceiling.email.toFixed(0)}/s, sms ${ceiling.sms.toFixed(0)}/s, push ${ceiling.push.toFixed(0)}/s; ` +
      `this mix ${(ceilingMixPerSecond * 60).toFixed(0)}/min`,
  );

  // The platform: one API process and `workers` worker processes.
  const api = spawn(process.execPath, ['--max-semi-space-size=8', 'bin/boxoffice.js', 'api'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(api);
  for (let i = 0; i < WORKERS; i++)
    children.push(
      spawn(process.execPath, ['--max-semi-space-size=8', 'bin/boxoffice.js', 'worker'], {
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    );
  const baseUrl = `http://127.0.0.1:${port}`;
  await untilReady(baseUrl);
  const token = await accessToken(baseUrl, account);
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text || '{}');
  };
  await call('POST', '/api/templates', {
    id: 'blast',
    name: 'Blast',
    variables: [{ name: 'first_name', sample: 'Anna' }],
    channels: {
      email: {
        subject: 'Sale for {{ first_name }}',
        html: '<p>Hi {{ first_name }}, <a href="https://bench.test/sale">the sale</a> is on.</p>',
      },
      sms: { text: 'Hi {{ first_name }}, the sale is on' },
      push: { title: 'Sale', body: 'Hi {{ first_name }}, the sale is on', url: 'https://bench.test/sale' },
    },
  });
  // Give the workers a moment to be up (they start after the API's migrations check).
  await sleep(2000);

  const cpu0 = snapshot();
  const started = Date.now();
  const campaigns: number[] = [];
  for (const [channel, country] of [
    ['email', 'RU'],
    ['sms', 'KZ'],
    ['push', 'BY'],
  ] as const) {
    if (counts[channel] === 0) continue;
    const created = await call('POST', '/api/admin/bulk', {
      name: `blast ${channel}`,
      segment: { country: [country] },
      template_id: 'blast',
      channel,
      category: 'marketing',
    });
    await call('POST', `/api/admin/bulk/${created.id}/send`, {});
    campaigns.push(created.id);
  }
  log(`campaigns ${campaigns.join(', ')} sent at ${new Date(started).toISOString()}`);

  // Instant notifications at a steady rate while the campaigns go out.
  const instants: { id: number; at: number }[] = [];
  let instantSeq = 0;
  let blasting = true;
  const instantLoop = (async () => {
    const interval = 1000 / INSTANT_RATE;
    let next = performance.now();
    while (blasting && INSTANT_RATE > 0) {
      next += interval;
      const n = instantSeq++;
      call('POST', '/api/notifications', {
        to: { phone: `+7700${String(n).padStart(7, '0')}` },
        channel: 'sms',
        body: `Your code ${n}`,
      })
        .then((r: { id: number }) => instants.push({ id: r.id, at: Date.now() }))
        .catch((e: Error) => log(`instant failed: ${e.message}`));
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  // Progress, until every bulk delivery is settled.
  let lastLog = 0;
  const progress: { t: number; settled: number }[] = [];
  // Read from the analytics counters (a few rows), not by counting a million delivery rows: the bench's
  // own polling must not be what loads PostgreSQL. Instant deliveries are few and counted exactly.
  for (;;) {
    const [row] = await sql<{ settled: string; fanned: string; instant: string }[]>`
      select (select coalesce(sum(count), 0)::text from notify_stats_daily
               where status in ('sent', 'failed', 'bounced', 'suppressed', 'cancelled')) as settled,
             (select coalesce(sum(recipients), 0)::text from notify_campaigns) as fanned,
             (select count(*)::text from notify_deliveries
               where notification_id in (select id from notify_notifications where kind = 'instant')
                 and status <> 'pending') as instant`;
    const settled = Number(row!.settled) - Number(row!.instant);
    progress.push({ t: Date.now(), settled });
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`${((Date.now() - started) / 1000).toFixed(0)} s: fanned out ${row!.fanned}, settled ${settled}`);
    }
    if (settled >= RECIPIENTS) break;
    await sleep(1000);
  }
  const finished = Date.now();
  const cpu1 = snapshot();
  blasting = false;
  await instantLoop;
  await sleep(1500);

  const [statuses] = await sql<{ sent: string; failed: string; other: string }[]>`
    select count(*) filter (where status = 'sent')::text as sent, count(*) filter (where status = 'failed')::text as failed,
           count(*) filter (where status not in ('sent', 'failed'))::text as other
    from notify_deliveries where priority = 3`;
  const [dupes] = await sql<{ n: string }[]>`
    select count(*)::text as n from (select recipient_key, notification_id from notify_deliveries
    group by 1, 2 having count(*) > 1) d`;
  const latencies = await sql<{ from_accept: number; id: string }[]>`
    select extract(epoch from d.sent_at)::float8 * 1000 as from_accept, d.notification_id::text as id
    from notify_deliveries d where d.priority = 0 and d.sent_at is not null`;
  const acceptedAt = new Map(instants.map((i) => [String(i.id), i.at]));
  const instantMs = latencies
    .map((r) => r.from_accept - (acceptedAt.get(r.id) ?? Number.NaN))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);

  const seconds = (finished - started) / 1000;
  const perMinute = (RECIPIENTS / seconds) * 60;
  // The steady rate: the middle 80 % of the settled count.
  const lo = progress.find((p) => p.settled >= RECIPIENTS * 0.1)!;
  const hi = progress.find((p) => p.settled >= RECIPIENTS * 0.9)!;
  const steadyPerMinute = ((hi.settled - lo.settled) / Math.max(0.001, (hi.t - lo.t) / 1000)) * 60;

  // CPU split of the blast: the platform's node processes, PostgreSQL, this process (peers + driver).
  const platformPids = new Set(children.map((c) => c.pid));
  const cpuSeconds = { platform: 0, postgres: 0, peers: 0, driver: 0, other: 0 };
  if (cpu0 && cpu1) {
    for (const [pid, { comm, ticks }] of cpu1.processes) {
      const used = (ticks - (cpu0.processes.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND;
      if (pid === process.pid) cpuSeconds.driver += used;
      else if (pid === peersProcess.pid) cpuSeconds.peers += used;
      else if (platformPids.has(pid)) cpuSeconds.platform += used;
      else if (comm === 'postgres') cpuSeconds.postgres += used;
      else cpuSeconds.other += used;
    }
  }
  const pct = (s: number) => Math.round((s / seconds) * 100);
  const ticksOf = (pid: number | undefined) =>
    ceilingCpu0 && ceilingCpu1 && pid !== undefined
      ? ((ceilingCpu1.processes.get(pid)?.ticks ?? 0) - (ceilingCpu0.processes.get(pid)?.ticks ?? 0)) /
        TICKS_PER_SECOND
      : 0;
  const ceilingPeersPct = Math.round((ticksOf(peersProcess.pid) / CEILING_SECONDS) * 100);
  // The bare senders are this process's children: their CPU is in the runner's reaped-children ticks.
  const ceilingDriverPct =
    ceilingCpu0 && ceilingCpu1
      ? Math.round(((ceilingCpu1.runner - ceilingCpu0.runner) / TICKS_PER_SECOND / CEILING_SECONDS) * 100)
      : 0;
  const result = {
    scenario: 'notify-blast',
    time: new Date(started).toISOString(),
    machine: {
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadBefore: loadavg(),
    },
    settings: {
      recipients: RECIPIENTS,
      counts,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      batch: Number(values.batch),
      instantRate: INSTANT_RATE,
    },
    blast: {
      seconds: Math.round(seconds * 10) / 10,
      deliveriesPerMinute: Math.round(perMinute),
      steadyPerMinute: Math.round(steadyPerMinute),
      statuses: {
        sent: Number(statuses!.sent),
        failed: Number(statuses!.failed),
        other: Number(statuses!.other),
      },
      duplicateRows: Number(dupes!.n),
    },
    instant: {
      sent: instantMs.length,
      accepted: instants.length,
      p50ms: Math.round(percentile(instantMs, 50)),
      p95ms: Math.round(percentile(instantMs, 95)),
      p99ms: Math.round(percentile(instantMs, 99)),
    },
    ceiling: {
      perSecond: Object.fromEntries(Object.entries(ceiling).map(([k, v]) => [k, Math.round(v)])),
      mixPerMinute: Math.round(ceilingMixPerSecond * 60),
      peersCpuPercent: ceilingPeersPct,
      driverCpuPercent: ceilingDriverPct,
    },
    ratio: Math.round((perMinute / (ceilingMixPerSecond * 60)) * 1000) / 1000,
    cpuPercentOfOneCore: {
      platform: pct(cpuSeconds.platform),
      postgres: pct(cpuSeconds.postgres),
      peers: pct(cpuSeconds.peers),
      driver: pct(cpuSeconds.driver),
      other: pct(cpuSeconds.other),
    },
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  log(
    `${RECIPIENTS} deliveries in ${seconds.toFixed(1)} s = ${Math.round(perMinute)}/min (steady ${Math.round(steadyPerMinute)}/min), ` +
      `ratio to the peers' ceiling ${result.ratio}; instant p95 ${result.instant.p95ms} ms (${instantMs.length} sent); ` +
      `CPU platform ${result.cpuPercentOfOneCore.platform}% postgres ${result.cpuPercentOfOneCore.postgres}% peers ${result.cpuPercentOfOneCore.peers}% driver ${result.cpuPercentOfOneCore.driver}%`,
  );
} finally {
  await cleanup();
}
