import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessibilityViolations,
  browserSkipReason,
  describeViolations,
  inPage,
  launchBrowser,
  type PanelServer,
  PHONE,
  screenshot,
  signedIn,
  startPanelServer,
  statusInPage,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the admin panel's audit browser tests: ${skip}`);

describe.skipIf(skip)('admin panel: the audit log', () => {
  let server: PanelServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startPanelServer();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  }, 120_000);

  it('shows the entries just made, narrows them with a filter, and shows the chain intact', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'audit');
    // An audited change made by this admin just now: a staff member added through the API.
    const created = await inPage<{ status: number; id: number }>(
      page,
      `fetch('/api/admin/me').then((r) => r.json()).then((me) =>
         fetch('/api/admin/staff', {
           method: 'POST',
           headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token },
           body: JSON.stringify({ email: 'audited.member@example.com', role: 'analyst' }),
         })).then(async (r) => ({ status: r.status, id: (await r.json()).id }))`,
    );
    expect(created.status).toBe(201);
    await page.reload();
    const table = page.getByRole('table', { name: 'Audit log entries, newest first' });
    const createdRow = table
      .locator('tbody tr', { hasText: `staff:${created.id}` })
      .filter({ hasText: 'staff.create' });
    await expect.poll(() => createdRow.count()).toBe(1);
    await expect.poll(() => table.getByRole('row', { name: /staff\.sign_in/ }).count()).toBeGreaterThan(0);

    // The verification: intact, with the figures the API returns.
    const verdict = page.getByTestId('verify-verdict');
    await expect.poll(() => verdict.textContent()).toBe('Chain intact');
    const [count] = await server.db.sql<{ n: string }[]>`select count(*)::text as n from audit_log`;
    const panel = page.getByRole('region', { name: 'Chain verification' });
    // Entries verified: at least those at the time of the check (this test's sign-in and create).
    expect(await panel.textContent()).toMatch(/Entries verified\d/);
    expect(Number(count?.n)).toBeGreaterThanOrEqual(2);
    expect(await panel.textContent()).toContain('Signed checkpoints');

    // A filter narrows the log to one action.
    await page.getByLabel('Action').fill('staff.create');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/action=staff\.create/);
    await expect.poll(() => table.getByRole('row', { name: /staff\.sign_in/ }).count()).toBe(0);
    const actions = await table.locator('tbody tr td:nth-child(4)').allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(['staff.create']));
    // …and by resource, then a time range in the future finds nothing.
    await page.getByLabel('Resource').fill(`staff:${created.id}`);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);

    // The entry's details: its metadata as JSON and its hashes.
    await table.getByRole('button', { name: /^Details of entry/ }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.locator('pre').textContent()).toContain('audited.member@example.com');
    expect(await dialog.textContent()).toMatch(/Hash[0-9a-f]{64}/);
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await dialog.getByRole('button', { name: 'Close' }).click();

    await page.getByLabel('From').fill('2999-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/from=2999/);
    await expect.poll(() => page.getByText('No entry matches.').count()).toBe(1);

    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThan(1);
    const all = await accessibilityViolations(page);
    expect(all, describeViolations(all)).toEqual([]);
    await screenshot(page, 'audit-desktop');
    await context.close();
  }, 120_000);

  it('an analyst reads it at 375 px; a manager can neither open it nor call the API', async () => {
    const analyst = await signedIn(browser, server, 'analyst', 'audit', PHONE);
    await expect.poll(() => analyst.page.getByTestId('verify-verdict').textContent()).toBe('Chain intact');
    const violations = await accessibilityViolations(analyst.page);
    expect(violations, describeViolations(violations)).toEqual([]);
    expect(
      await inPage<number>(analyst.page, 'document.documentElement.scrollWidth - window.innerWidth'),
    ).toBeLessThanOrEqual(0);
    await screenshot(analyst.page, 'audit-phone');
    await analyst.page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    const dark = await accessibilityViolations(analyst.page);
    expect(dark, describeViolations(dark)).toEqual([]);
    await analyst.context.close();

    const manager = await signedIn(browser, server, 'manager');
    await manager.page.goto('/admin/audit');
    await expect
      .poll(() => manager.page.getByRole('heading', { level: 1 }).textContent())
      .toBe('Not allowed');
    for (const path of ['/api/audit', '/api/audit/verify', '/api/audit/checkpoints'])
      expect(await statusInPage(manager.page, path), path).toBe(403);
    await manager.context.close();
  }, 120_000);
});
