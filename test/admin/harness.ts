import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { modules } from '../../src/modules.ts';
import { forgetPartitions } from '../../src/notify/queue.ts';
import type { Platform } from '../../src/platform/context.ts';
import { type Running, runRole } from '../../src/platform/runtime.ts';
import { type NotifyPeers, startNotifyPeers } from '../../src/sims/notify/index.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT } from '../helpers/process.ts';
import { makeStaff, type TestStaff } from '../identity/staff/harness.ts';

/**
 * End-to-end tests of the admin panel: the whole platform (`start` role, every module, in this process)
 * on its own database, the notify peers (SMTP sink with its inbox, SMS, Web Push), and Debian's Chromium
 * driven by playwright-core. A test file starts one `PanelServer` and one browser in `beforeAll`.
 */

/** Debian's package (`.ci/run` installs it); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can (a skip prints it). */
export function browserSkipReason(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export interface PanelServer {
  url: string;
  db: TestDatabase;
  running: Running;
  platform: Platform;
  peers: NotifyPeers;
  /** A staff member of each role, made directly in the database. */
  staff: Record<'admin' | 'manager' | 'analyst', TestStaff>;
  stop(): Promise<void>;
}

export async function startPanelServer(overrides: Record<string, string> = {}): Promise<PanelServer> {
  const db = await createTestDatabase();
  const peers = await startNotifyPeers();
  forgetPartitions();
  const running = await runRole(
    'start',
    testConfig({
      DATABASE_URL: db.url,
      SMTP_URL: peers.smtpUrl,
      SMS_PROVIDER_URL: `${peers.smsUrl}/messages`,
      NOTIFY_RETRY_BASE_MS: '20',
      NOTIFY_RETRY_MAX_MS: '200',
      ...overrides,
    }),
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    modules,
  );
  const staff = {
    admin: await makeStaff(db.sql, 'admin'),
    manager: await makeStaff(db.sql, 'manager'),
    analyst: await makeStaff(db.sql, 'analyst'),
  };
  return {
    url: running.url!,
    db,
    running,
    platform: running.platform,
    peers,
    staff,
    async stop() {
      await running.stop();
      await peers.stop();
      await db.drop();
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

export const DESKTOP = { width: 1366, height: 900 } as const;
export const PHONE = { width: 375, height: 740 } as const;

/** A new browser context (its own cookies) with a page at the sign-in screen. */
export async function openPanel(
  browser: Browser,
  server: PanelServer,
  viewport: { width: number; height: number } = DESKTOP,
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme, baseURL: server.url });
  // Shorter than the test's own timeout, so a missing element fails with the locator's name.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  // A failed request or a script error shows in the test's output instead of as a mystery timeout.
  page.on('pageerror', (error) => console.error(`[browser] ${error.message}`));
  await page.goto('/admin/');
  return { context, page };
}

/** Signs in through the form, as a person would, and waits for the signed-in frame. */
export async function signIn(page: Page, staff: TestStaff): Promise<void> {
  await page.getByLabel('Email').fill(staff.email);
  await page.getByLabel('Password').fill(staff.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Not the navigation: on a phone it is hidden behind the menu button.
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** A signed-in page of `role` at `path` (below /admin/). */
export async function signedIn(
  browser: Browser,
  server: PanelServer,
  role: 'admin' | 'manager' | 'analyst',
  path = '',
  viewport: { width: number; height: number } = DESKTOP,
): Promise<{ context: BrowserContext; page: Page }> {
  const opened = await openPanel(browser, server, viewport);
  await signIn(opened.page, server.staff[role]);
  if (path) await opened.page.goto(`/admin/${path}`);
  return opened;
}

/**
 * Evaluates a JavaScript expression in the page (a promise is awaited). A string, not a function: the
 * tests are type-checked against Node's globals, which have no `document`.
 */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The status of a same-origin request made by the page itself (with its cookie, like the panel). */
export function statusInPage(page: Page, path: string, method = 'GET'): Promise<number> {
  return inPage(
    page,
    `fetch(${JSON.stringify(path)}, { method: ${JSON.stringify(method)} }).then((r) => r.status)`,
  );
}

/** Where test screenshots go (kept by CI as artifacts; docs/admin/ holds the ones the README shows). */
export const SCREENSHOTS = join(ROOT, 'test-artifacts', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** axe-core's WCAG 2 A/AA scan of the page as it is now; returns the serious and critical violations. */
export async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  const source = await readFile(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await inPage<AxeViolation[]>(
    page,
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
       .then((result) => result.violations)`,
  );
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A readable list of violations for an assertion message. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`)
    .join('\n');
}
