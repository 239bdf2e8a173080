import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { GROUP_BY, notifyAnalytics } from '../src/notify/analytics.ts';

// `npx tsx bench/notify-analytics.ts [--rows 100000] [--runs 20]`: a measurement, not a test. Makes a scratch
// database with only the two counter tables (DDL taken from the notify migration), fills notify_stats_daily
// with --rows counter rows over a year (channels × countries × zones × statuses) and the latency histogram,
// then times GET /api/notify/analytics's query for a year's range and each group_by. DATABASE_URL is the
// server to use (a database on it is made and dropped).

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, runs: { type: 'string', default: '20' } },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function counterTablesDdl(): string {
  const migration = readFileSync(new URL('../migrations/0070_notify.sql', import.meta.url), 'utf8');
  const ddl = ['notify_stats_daily', 'notify_open_latency'].map((table) => {
    const match = new RegExp(`create table ${table} \\([\\s\\S]*?\\n\\);`).exec(migration);
    if (!match) throw new Error(`no ${table} in the migration`);
    return match[0];
  });
  return ddl.join('\n');
}

const name = `boxoffice_bench_${randomBytes(4).toString('hex')}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const sql = postgres(url.toString(), { max: 4, onnotice: () => {} });
try {
  await sql.unsafe(counterTablesDdl());
  const started = performance.now();
  // Row i: day i mod 366, then status, channel, country and zone from the rest, so keys are unique.
  await sql`
    insert into notify_stats_daily (day, channel, country, time_zone, status, count)
    select date '2026-01-01' + (i % 366),
           (array['email', 'push', 'sms'])[1 + (i / 3294) % 3],
           'C' || ((i / 9882) % 20),
           'Zone/' || ((i / 197640) % 50),
           (array['created', 'sent', 'delivered', 'opened', 'clicked', 'failed', 'bounced', 'suppressed',
                  'cancelled'])[1 + (i / 366) % 9],
           1 + (i % 97)
    from generate_series(0, ${rows - 1}) as i
    on conflict do nothing`;
  await sql`
    insert into notify_open_latency (day, channel, country, time_zone, bucket, count)
    select date '2026-01-01' + d, c, 'C' || k, 'Zone/' || (k % 5), b, 1 + (d + b) % 13
    from generate_series(0, 365) d, unnest(array['email', 'push', 'sms']) c, generate_series(0, 9) k,
         generate_series(10, 40, 3) b`;
  await sql`analyze`;
  const [stats] = await sql<{ n: string }[]>`select count(*)::text as n from notify_stats_daily`;
  const [latency] = await sql<{ n: string }[]>`select count(*)::text as n from notify_open_latency`;
  console.log(
    `filled ${stats!.n} counter rows and ${latency!.n} latency rows in ${Math.round(performance.now() - started)} ms`,
  );
  const results: Record<string, { p50: number; max: number; groups: number }> = {};
  for (const groupBy of GROUP_BY) {
    const times: number[] = [];
    let groups = 0;
    for (let run = 0; run < runs; run++) {
      const t = performance.now();
      const report = await notifyAnalytics(sql, { from: '2026-01-01', to: '2027-01-01', groupBy });
      times.push(performance.now() - t);
      groups = report.groups.length;
    }
    times.sort((a, b) => a - b);
    results[groupBy] = {
      p50: Math.round(times[Math.floor(times.length / 2)]! * 10) / 10,
      max: Math.round(times.at(-1)! * 10) / 10,
      groups,
    };
    console.log(
      `group_by=${groupBy}: ${groups} groups, p50 ${results[groupBy].p50} ms, max ${results[groupBy].max} ms`,
    );
  }
  console.log(`RESULT ${JSON.stringify({ rows: Number(stats!.n), runs, results })}`);
} finally {
  await sql.end({ timeout: 5 });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
