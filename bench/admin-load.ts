// How fast the admin panel's first screen is usable, measured in Chromium (docs/admin.md).
//
//   npx tsx bench/admin-load.ts [--runs 5] [--keep]
//
// Starts the platform as a newcomer does (`node bin/boxoffice.js start` on a fresh DATA_DIR: embedded
// PostgreSQL, migrations, demo seed, the demo admin printed once), then, for each run, a new browser
// context with an empty cache:
//   1. opens /admin/ (the sign-in screen): Navigation Timing (TTFB, DOMContentLoaded, load) and the
//      paint API's first-contentful-paint;
//   2. signs in with the demo admin and measures, from the click, until the dashboard is usable: its
//      heading drawn and no loading indicator (`aria-busy`) left in the main area;
//   3. reloads the dashboard signed in (cold cache again in a new context): navigation to usable.
// The ceiling in the same run is a navigation to /health/live (a tiny JSON answer from the same server):
// what the browser and server cost before any of the panel's own work.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { untilReady } from './lib/platform-process.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const port = 18_700 + (process.pid % 500);
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'boxoffice-admin-load-'));

const started = Date.now();
const platform = spawn(process.execPath, ['bin/boxoffice.js', 'start'], {
  cwd: root,
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    EMBEDDED_PG_PORT: String(port + 1),
    DROPS_CONTEST_PORT: String(port + 2),
    SIM_GATEWAY_PORT: String(port + 3),
    SIM_NOTIFY_SMTP_PORT: '0',
    SIM_NOTIFY_INBOX_PORT: '0',
    SIM_NOTIFY_SMS_PORT: '0',
    SIM_NOTIFY_PUSH_PORT: '0',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
platform.stderr!.on('data', (chunk) => {
  stderr += chunk;
});
const stop = async () => {
  platform.kill('SIGTERM');
  await new Promise((resolve) => platform.once('exit', resolve));
  if (!args.includes('--keep')) rmSync(dataDir, { recursive: true, force: true });
};

try {
  await untilReady(base).catch(async () => {
    for (let i = 0; i < 600 && !/boxoffice listening|"admin"/.test(stderr); i++)
      await new Promise((r) => setTimeout(r, 100));
    await untilReady(base);
  });
  const readyMs = Date.now() - started;
  const email = /email: +(\S+)/.exec(stderr)?.[1];
  const password = /password: +(\S+)/.exec(stderr)?.[1];
  if (!email || !password) throw new Error(`the first start printed no demo admin:\n${stderr.slice(-2000)}`);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  const navigation = (page: Page) =>
    page.evaluate(`(() => {
      const [n] = performance.getEntriesByType('navigation');
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
               fcp: fcp ? fcp.startTime : null,
               bytes: performance.getEntriesByType('resource').reduce((sum, r) => sum + r.transferSize, n.transferSize) };
    })()`) as Promise<{ ttfb: number; dcl: number; load: number; fcp: number | null; bytes: number }>;
  const usable = (page: Page) =>
    // A function, not a string: a string predicate is eval'd in the page, which the panel's CSP forbids.
    page.waitForFunction(
      () => {
        const document = (globalThis as unknown as { document: { querySelector(s: string): unknown } })
          .document;
        return (
          Boolean(document.querySelector('main h1')) && !document.querySelector('main [aria-busy="true"]')
        );
      },
      undefined,
      { timeout: 30_000, polling: 'raf' },
    );

  const rows: Record<string, number[]> = {};
  const add = (key: string, value: number | null) => {
    if (value === null) return;
    rows[key] = [...(rows[key] ?? []), value];
  };
  for (let run = 0; run < runs; run++) {
    const ceilingContext = await browser.newContext();
    const ceiling = await ceilingContext.newPage();
    await ceiling.goto(`${base}/health/live`, { waitUntil: 'load' });
    const c = await navigation(ceiling);
    add('ceiling: /health/live load', c.load);
    await ceilingContext.close();

    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/admin/`, { waitUntil: 'load' });
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const signInScreen = await navigation(page);
    add('sign-in: TTFB', signInScreen.ttfb);
    add('sign-in: first contentful paint', signInScreen.fcp);
    add('sign-in: DOMContentLoaded', signInScreen.dcl);
    add('sign-in: load', signInScreen.load);
    add('sign-in: transferred KB (page, scripts, styles)', signInScreen.bytes / 1024);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    const clicked = Date.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await usable(page);
    add('sign-in click → dashboard usable', Date.now() - clicked);
    const cookies = await context.cookies();
    await context.close();

    // Signed in, cold cache: the first screen a returning member sees.
    const returning = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    await returning.addCookies(cookies);
    const again = await returning.newPage();
    const opened = Date.now();
    await again.goto(`${base}/admin/`, { waitUntil: 'commit' });
    await usable(again);
    add('signed-in cold load → dashboard usable', Date.now() - opened);
    const d = await navigation(again);
    add('dashboard: first contentful paint', d.fcp);
    await returning.close();
  }
  await browser.close();

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const ceiling = median(rows['ceiling: /health/live load']!);
  console.log(`platform fresh start (embedded PostgreSQL, migrations, demo seed) → ready: ${readyMs} ms`);
  console.log(`${runs} runs, each in a new browser context (empty cache), Chromium ${browser.version()}`);
  console.log('| measure | median | max | median / ceiling |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [key, values] of Object.entries(rows)) {
    const unit = key.includes('KB') ? '' : ' ms';
    const ratio = key.includes('KB') ? '' : `${(median(values) / ceiling).toFixed(1)}×`;
    console.log(
      `| ${key} | ${median(values).toFixed(0)}${unit} | ${Math.max(...values).toFixed(0)}${unit} | ${ratio} |`,
    );
  }
} finally {
  await stop();
}
