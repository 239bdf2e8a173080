import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessibilityViolations,
  browserSkipReason,
  DESKTOP,
  describeViolations,
  inPage,
  launchBrowser,
  openPanel,
  type PanelServer,
  PHONE,
  screenshot,
  signedIn,
  signIn,
  startPanelServer,
  statusInPage,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the admin panel's browser tests: ${skip}`);

describe.skipIf(skip)('admin panel: sign-in, navigation by role, accessibility', () => {
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

  it('refuses a wrong password with the server’s message and signs in with the right one', async () => {
    const { context, page } = await openPanel(browser, server);
    expect(await accessibilityViolations(page), 'sign-in screen').toEqual([]);
    await screenshot(page, 'sign-in-desktop');
    await page.getByLabel('Email').fill(server.staff.admin.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('INVALID_CREDENTIALS');
    await signIn(page, server.staff.admin);
    await expect.poll(() => page.locator('.whoami').textContent()).toContain(server.staff.admin.email);
    await context.close();
  });

  it('shows each role only the screens it may use, and says so at a typed-in address', async () => {
    const admin = await signedIn(browser, server, 'admin');
    const nav = admin.page.getByRole('navigation', { name: 'Main' });
    for (const screen of [
      'Dashboard',
      'Events',
      'Templates',
      'Campaigns',
      'Files',
      'Service accounts',
      'Staff',
      'Audit log',
    ])
      await expect
        .poll(() => nav.getByRole('link', { name: screen, exact: true }).count(), { message: screen })
        .toBe(1);
    await admin.context.close();

    const analyst = await signedIn(browser, server, 'analyst');
    const analystNav = analyst.page.getByRole('navigation', { name: 'Main' });
    await expect.poll(() => analystNav.getByRole('link', { name: 'Audit log' }).count()).toBe(1);
    expect(await analystNav.getByRole('link', { name: 'Service accounts' }).count()).toBe(0);
    expect(await analystNav.getByRole('link', { name: 'Staff' }).count()).toBe(0);
    await analyst.page.goto('/admin/service-accounts');
    await expect
      .poll(() => analyst.page.getByRole('heading', { level: 1 }).textContent())
      .toBe('Not allowed');
    // The server refuses regardless of the UI: the analyst's own session cannot list service accounts.
    const status = await statusInPage(analyst.page, '/api/service-accounts');
    expect(status).toBe(403);
    await analyst.context.close();

    const manager = await signedIn(browser, server, 'manager');
    const managerNav = manager.page.getByRole('navigation', { name: 'Main' });
    await expect.poll(() => managerNav.getByRole('link', { name: 'Templates' }).count()).toBe(1);
    expect(await managerNav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await manager.context.close();
  });

  it('works at 375 px: the navigation is a menu button, keyboard-reachable', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', '', PHONE);
    const menu = page.getByRole('button', { name: 'Menu' });
    expect(await menu.isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Events', exact: true }).isVisible()).toBe(false);
    await menu.focus();
    await page.keyboard.press('Enter');
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.waitForURL('**/admin/events');
    await expect.poll(() => menu.getAttribute('aria-expanded')).toBe('false');
    await context.close();
  });

  it('signs out: the session ends on the server, the panel returns to sign-in', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', '', DESKTOP);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const status = await statusInPage(page, '/api/admin/me');
    expect(status).toBe(401);
    const [newest] = await server.db.sql<{ revoked: boolean }[]>`
      select revoked_at is not null as revoked from staff_sessions
      where staff_id = ${server.staff.manager.id} order by created_at desc limit 1`;
    expect(newest?.revoked).toBe(true);
    await context.close();
  });

  it('is readable in the dark theme and keeps its choice', async () => {
    const { context, page } = await signedIn(browser, server, 'admin');
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    expect(await inPage(page, 'document.documentElement.dataset.theme')).toBe('dark');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect(await inPage(page, 'document.documentElement.dataset.theme')).toBe('dark');
    await context.close();
  });
});
