import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, tokenFor } from '../identity/tokens/harness.ts';
import { eventually, makeTemplate, makeUser } from '../notify/harness.ts';
import {
  accessibilityViolations,
  browserSkipReason,
  describeViolations,
  inPage,
  launchBrowser,
  type PanelServer,
  screenshot,
  signedIn,
  startPanelServer,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the notify operations browser tests: ${skip}`);

describe.skipIf(skip)('admin panel: delivery log, dead letters, schedules, analytics', () => {
  let server: PanelServer;
  let browser: Browser;
  let admin: string;
  let alice: number;
  let deadId: number;

  const call = async (method: 'POST' | 'GET', url: string, payload?: object) => {
    const response = await server.running.app!.inject({
      method,
      url,
      headers: { authorization: admin },
      ...(payload ? { payload } : {}),
    });
    if (response.statusCode >= 300)
      throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json();
  };
  const statusOf = async (recipient: string) => {
    const [row] = await server.db.sql<{ status: string; dead: boolean; id: string }[]>`
      select status, dead, id::text from notify_deliveries where recipient = ${recipient}`;
    return row;
  };

  beforeAll(async () => {
    server = await startPanelServer();
    browser = await launchBrowser();
    const account = await createAccount(server.db, 'ADMIN', {
      rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
    });
    admin = `Bearer ${await tokenFor(server.running.app!, account)}`;
    alice = await makeUser(server.db.sql, { email: 'alice@ops.test', country: 'FR' });
    await makeTemplate(server.db.sql, 'ops-note', {
      variables: [],
      channels: { email: { subject: 'A note', html: '<p>Hello</p>' } },
    });
    // A permanent refusal at DATA (554), once, for this address: its delivery becomes a dead letter.
    server.peers.smtp.inject({ mode: '5xx', stage: 'data', to: 'dead@ops.test' });
    await call('POST', '/api/notifications', { user_id: alice, channel: 'email', template_id: 'ops-note' });
    await call('POST', '/api/notifications', {
      to: { email: 'ok@ops.test' },
      channel: 'email',
      template_id: 'ops-note',
    });
    await call('POST', '/api/notifications', {
      to: { email: 'dead@ops.test' },
      channel: 'email',
      template_id: 'ops-note',
    });
    const settled = async (recipient: string, done: (row: { status: string; dead: boolean }) => boolean) =>
      eventually(
        async () => {
          const row = await statusOf(recipient);
          return row && done(row) ? row : undefined;
        },
        recipient,
        20_000,
      );
    await settled('ok@ops.test', (r) => r.status === 'sent');
    await settled('alice@ops.test', (r) => r.status === 'sent');
    await settled('dead@ops.test', (r) => r.dead);
    deadId = Number((await statusOf('dead@ops.test'))!.id);
    // Opens for the time-to-open chart (the counters, as the tracking pixel would have added them).
    const today = new Date().toISOString().slice(0, 10);
    await server.db.sql`
      insert into notify_open_latency (day, channel, country, time_zone, bucket, count) values
        (${today}, 'email', 'FR', 'UTC', 12, 3), (${today}, 'email', 'FR', 'UTC', 28, 2),
        (${today}, 'email', '', '', 40, 1)
      on conflict do nothing`;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the delivery log filters by recipient and status', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', 'deliveries');
    const table = page.getByRole('table', { name: 'Deliveries, newest first' });
    const recipients = () => table.locator('tbody tr td:nth-child(5)').allTextContents();
    await expect.poll(recipients).toEqual(['dead@ops.test', 'ok@ops.test', 'alice@ops.test']);
    await page.getByLabel('Recipient').fill('ok@ops.test');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(recipients).toEqual(['ok@ops.test']);
    expect(page.url()).toContain('recipient=ok%40ops.test');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(recipients).toEqual(['dead@ops.test']);
    expect(await table.textContent()).toContain('dead');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('User id').fill(String(alice));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(recipients).toEqual(['alice@ops.test']);
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await context.close();
  });

  it('a dead letter retried from the panel is sent', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', 'dead-letters');
    const table = page.getByRole('table', { name: 'Dead letters, newest first' });
    await expect.poll(() => table.textContent()).toContain('dead@ops.test');
    expect(await table.textContent()).toContain('554');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await page.getByRole('button', { name: `Retry dead letter ${deadId} to dead@ops.test` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Retry' }).click();
    await expect
      .poll(() => page.getByRole('status').textContent())
      .toContain('1 dead letter back in the queue');
    await expect.poll(() => table.textContent()).toContain('No dead letters.');
    await expect
      .poll(() => server.peers.smtp.messages({ to: 'dead@ops.test' }).length, { timeout: 20_000 })
      .toBe(1);
    await expect.poll(async () => (await statusOf('dead@ops.test'))?.status).toBe('sent');
    await context.close();
  });

  it('an analyst sees dead letters without retry buttons', async () => {
    server.peers.smtp.inject({ mode: '5xx', stage: 'data', to: 'dead2@ops.test' });
    await call('POST', '/api/notifications', {
      to: { email: 'dead2@ops.test' },
      channel: 'email',
      template_id: 'ops-note',
    });
    await expect.poll(async () => (await statusOf('dead2@ops.test'))?.dead, { timeout: 20_000 }).toBe(true);
    const { context, page } = await signedIn(browser, server, 'analyst', 'dead-letters');
    const table = page.getByRole('table', { name: 'Dead letters, newest first' });
    await expect.poll(() => table.textContent()).toContain('dead2@ops.test');
    expect(await page.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
    await context.close();
  });

  it('schedules: next runs, pause and resume, details with recent runs', async () => {
    await call('POST', '/api/notifications/scheduled', {
      name: 'Morning note',
      cron: '0 9 * * *',
      time_zone: 'Europe/Berlin',
      template_id: 'ops-note',
      channel: 'email',
      user_ids: [alice],
    });
    const { context, page } = await signedIn(browser, server, 'manager', 'schedules');
    const table = page.getByRole('table', { name: 'Scheduled notifications with their next runs' });
    await expect.poll(() => table.textContent()).toContain('Morning note');
    expect(await table.locator('tbody tr td:nth-child(6) li').count()).toBe(3);
    await page.getByRole('button', { name: 'Pause Morning note' }).click();
    await expect.poll(() => table.locator('.badge').first().textContent()).toBe('paused');
    await page.getByRole('button', { name: 'Resume Morning note' }).click();
    await expect.poll(() => table.locator('.badge').first().textContent()).toBe('active');
    await page.getByRole('button', { name: 'Details of Morning note' }).click();
    await page.getByRole('heading', { name: 'Schedule Morning note' }).waitFor();
    await expect
      .poll(() => page.getByRole('table', { name: 'Recent runs' }).textContent())
      .toContain('It has not run yet.');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await context.close();
  });

  it('the analytics screen renders its charts with tables beside them', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', 'notify-analytics');
    await expect.poll(() => page.locator('figure.chart[data-ready="true"]').count()).toBe(2);
    expect(await page.locator('figure.chart canvas').count()).toBe(2);
    const opens = page.getByRole('table', { name: 'First opens by time to open' });
    await expect.poll(() => opens.textContent()).toContain('3');
    const countries = page.getByRole('table', { name: 'Numbers by country' });
    await expect.poll(() => countries.textContent()).toContain('FR');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'notify-analytics-desktop');
    // Readable in the dark theme too.
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    await expect.poll(() => inPage(page, 'document.documentElement.dataset.theme')).toBe('dark');
    const dark = await accessibilityViolations(page);
    expect(dark, describeViolations(dark)).toEqual([]);
    await context.close();
  });
});
