import type { Browser, Page } from 'playwright-core';
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
if (skip) console.warn(`skipping the admin panel's access browser tests: ${skip}`);

describe.skipIf(skip)('admin panel: service accounts and staff', () => {
  let server: PanelServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startPanelServer();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** `POST /api/auth/token` from outside the browser, as a machine client would. */
  async function tokenStatus(clientId: string, clientSecret: string): Promise<number> {
    const response = await fetch(`${server.url}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, client_secret: clientSecret }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  async function shownSecret(page: Page): Promise<string> {
    const field = page.getByLabel('Client secret');
    await field.waitFor();
    return field.inputValue();
  }

  it('creates a service account, shows its secret once, rotates it and disables the account', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'service-accounts');
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByLabel('Name').fill('gate-scanner-1');
    await page.getByLabel('Role').selectOption('USER');
    await page.getByLabel('Description').fill('Hall A entrance');
    await page.getByLabel('Requests per minute').fill('600');
    await page.getByLabel('Burst').fill('100');
    await page.getByRole('button', { name: 'Create' }).click();
    const secret = await shownSecret(page);
    expect(secret).toMatch(/^bxs_/);
    const table = page.getByRole('table', { name: 'Service accounts' });
    await expect.poll(() => table.getByRole('row', { name: /gate-scanner-1/ }).count()).toBe(1);
    const row = table.getByRole('row', { name: /gate-scanner-1/ });
    const clientId = (await row.locator('code').first().textContent()) ?? '';
    expect(clientId).toMatch(/^sa_/);
    expect(await row.textContent()).toContain('600/min, burst 100');

    // The copy button copies (or, without a clipboard, selects the text and says so).
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect
      .poll(() => page.locator('.secret-once output').textContent())
      .toMatch(/Copied to the clipboard|press Ctrl\+C/);
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'access-desktop');

    expect(await tokenStatus(clientId, secret)).toBe(200);

    // A reload shows the account and no secret.
    await page.reload();
    await table.waitFor();
    await expect.poll(() => table.getByRole('row', { name: /gate-scanner-1/ }).count()).toBe(1);
    expect(await page.getByLabel('Client secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);

    // Rotate: the new secret is shown once, works; the old one no longer does.
    await row.getByRole('button', { name: 'Rotate secret of gate-scanner-1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    await expect.poll(() => shownSecret(page)).not.toBe(secret);
    const rotated = await shownSecret(page);
    expect(rotated).toMatch(/^bxs_/);
    expect(await tokenStatus(clientId, rotated)).toBe(200);
    expect(await tokenStatus(clientId, secret)).toBe(401);

    // Edit: role and rate limit.
    await row.getByRole('button', { name: 'Edit gate-scanner-1' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit gate-scanner-1' });
    await edit.getByLabel('Role').selectOption('READONLY');
    await edit.getByLabel('Requests per minute').fill('120');
    await edit.getByLabel('Burst').fill('20');
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => row.textContent()).toContain('READONLY');
    expect(await row.textContent()).toContain('120/min, burst 20');

    // Disable: the token request is refused.
    await row.getByRole('button', { name: 'Disable gate-scanner-1' }).click();
    await expect.poll(() => row.textContent()).toContain('disabled');
    expect(await tokenStatus(clientId, rotated)).toBe(401);
    await row.getByRole('button', { name: 'Enable gate-scanner-1' }).click();
    await expect.poll(() => row.textContent()).toContain('active');
    expect(await tokenStatus(clientId, rotated)).toBe(200);

    // Delete behind a confirmation.
    await row.getByRole('button', { name: 'Delete gate-scanner-1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => table.getByRole('row', { name: /gate-scanner-1/ }).count()).toBe(0);
    expect(await tokenStatus(clientId, rotated)).toBe(401);
    await context.close();
  }, 120_000);

  it('adds a staff member with a generated password, changes the role, and refuses to lose the last admin', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'staff');
    await page.getByLabel('Email').fill('new.analyst@example.com');
    await page.getByLabel('Role', { exact: true }).selectOption('analyst');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const password = await page.getByLabel('Generated password').inputValue();
    expect(password.length).toBeGreaterThanOrEqual(12);
    const table = page.getByRole('table', { name: 'Staff members' });
    await expect.poll(() => table.getByRole('row', { name: /new\.analyst@example\.com/ }).count()).toBe(1);

    // The password works at sign-in (through the API, from outside).
    const signInStatus = (
      await fetch(`${server.url}/api/admin/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'new.analyst@example.com', password }),
      })
    ).status;
    expect(signInStatus).toBe(200);

    await page.getByLabel('Role of new.analyst@example.com').selectOption('manager');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'is now manager' }).count()).toBe(1);
    const [member] = await server.db.sql<{ role: string }[]>`
      select role from staff where email = 'new.analyst@example.com'`;
    expect(member?.role).toBe('manager');

    // The signed-in admin is the only admin: demoting them is refused, and said so.
    await page.getByLabel(`Role of ${server.staff.admin.email}`).selectOption('analyst');
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('last active admin');
    expect(await page.getByRole('alert').first().textContent()).toContain('409 LAST_ADMIN');
    await expect
      .poll(() => page.getByLabel(`Role of ${server.staff.admin.email}`).inputValue())
      .toBe('admin');

    // Live sessions: the other member's can be revoked.
    const sessions = page.getByRole('table', { name: 'Live admin panel sessions' });
    await expect.poll(() => sessions.getByRole('row', { name: /new\.analyst@example\.com/ }).count()).toBe(1);
    await sessions.getByRole('button', { name: 'Revoke the session of new.analyst@example.com' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => sessions.getByRole('row', { name: /new\.analyst@example\.com/ }).count()).toBe(0);

    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'access-staff-desktop');

    // Remove behind a confirmation.
    await table.getByRole('button', { name: 'Remove new.analyst@example.com' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => table.getByRole('row', { name: /new\.analyst@example\.com/ }).count()).toBe(0);
    await context.close();
  }, 120_000);

  it('works at 375 px', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'service-accounts', PHONE);
    await page.getByRole('heading', { name: 'Service accounts', level: 1 }).waitFor();
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    expect(
      await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth'),
    ).toBeLessThanOrEqual(0);
    await screenshot(page, 'access-phone');
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    const dark = await accessibilityViolations(page);
    expect(dark, describeViolations(dark)).toEqual([]);
    await context.close();
  }, 120_000);

  for (const role of ['manager', 'analyst'] as const)
    it(`${role === 'analyst' ? 'an' : 'a'} ${role} cannot open these screens, and the server answers 403`, async () => {
      const { context, page } = await signedIn(browser, server, role);
      for (const path of ['service-accounts', 'staff']) {
        await page.goto(`/admin/${path}`);
        await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Not allowed');
      }
      for (const path of ['/api/service-accounts', '/api/admin/staff', '/api/admin/sessions'])
        expect(await statusInPage(page, path), path).toBe(403);
      await context.close();
    }, 120_000);
});
