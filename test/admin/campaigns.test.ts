import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTemplate, makeUser } from '../notify/harness.ts';
import {
  accessibilityViolations,
  browserSkipReason,
  DESKTOP,
  describeViolations,
  inPage,
  launchBrowser,
  type PanelServer,
  PHONE,
  screenshot,
  signedIn,
  startPanelServer,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the campaigns browser tests: ${skip}`);

/** Three French users with email contacts are the audience; a German one and a French one without email are not. */
const AUDIENCE = ['ana@fr.test', 'bea@fr.test', 'cid@fr.test'];

describe.skipIf(skip)('admin panel: campaigns', () => {
  let server: PanelServer;
  let browser: Browser;
  beforeAll(async () => {
    // No quiet hours: a marketing campaign sent between 22:00 and 08:00 UTC would be held until morning
    // (quiet hours have their own tests in test/notify/); this test is about the panel's flow.
    server = await startPanelServer({ NOTIFY_QUIET_HOURS: 'none' });
    browser = await launchBrowser();
    for (const email of AUDIENCE) await makeUser(server.db.sql, { email, country: 'FR' });
    await makeUser(server.db.sql, { email: 'dan@de.test', country: 'DE' });
    await makeTemplate(server.db.sql, 'spring-sale', {
      variables: [{ name: 'first_name' }],
      channels: {
        email: { subject: 'Spring sale, {{ first_name }}', html: '<p>Tickets at half price.</p>' },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a manager builds a segment with a live count, previews, sends, and the emails arrive', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', 'campaigns');
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name').fill('Spring sale FR');
    await page.getByLabel('Template').selectOption('spring-sale');
    await page.getByLabel('Channel').selectOption('email');
    // Condition 1 is "has an address for: email"; add the country.
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Condition 2', { exact: true }).selectOption('country');
    await page.getByLabel('Condition 2 value').fill('FR');
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('3 recipients');
    // The count follows the builder: excluding France leaves the German user.
    await page.getByRole('checkbox').nth(1).check();
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('1 recipient');
    await page.getByRole('checkbox').nth(1).uncheck();
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('3 recipients');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);

    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.waitForURL(/\/admin\/campaigns\/\d+$/);
    await page.getByRole('heading', { name: 'Campaign: Spring sale FR' }).waitFor();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    const samples = page.getByRole('table', { name: 'Preview for sample recipients' });
    await expect.poll(() => samples.textContent()).toContain('ana@fr.test');
    expect(await samples.textContent()).toContain('Spring sale, User');
    const detailViolations = await accessibilityViolations(page);
    expect(detailViolations, describeViolations(detailViolations)).toEqual([]);

    await page.getByRole('button', { name: 'Send now' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(() => page.getByTestId('progress-text').textContent(), { timeout: 30_000 })
      .toBe('Done: 3 of 3');
    for (const to of AUDIENCE)
      await expect
        .poll(() => server.peers.smtp.messages({ to }).length, { message: to, timeout: 20_000 })
        .toBe(1);
    expect(server.peers.smtp.messages({ to: 'dan@de.test' })).toHaveLength(0);
    expect(server.peers.smtp.messages({ to: AUDIENCE[0] })[0]?.subject).toMatch(/^Spring sale, User\d+$/);

    await page.getByRole('link', { name: 'All campaigns' }).click();
    const list = page.getByRole('table', { name: 'Campaigns, newest first' });
    await expect.poll(() => list.textContent()).toContain('Spring sale FR');
    expect(await list.textContent()).toContain('sent');
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('4 recipients');
    await screenshot(page, 'campaigns-desktop');
    await context.close();
  });

  it('schedules a campaign for later and cancels it', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', 'campaigns');
    await page.getByLabel('Name').fill('Autumn teaser');
    await page.getByLabel('Template').selectOption('spring-sale');
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('4 recipients');
    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.waitForURL(/\/admin\/campaigns\/\d+$/);
    // A week ahead, as the browser's datetime-local wants it (its zone is this process's).
    const at = new Date(Date.now() + 7 * 86_400_000);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('Schedule at').fill(local);
    await page.getByRole('button', { name: 'Schedule', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Schedule' }).click();
    const status = page.getByRole('region', { name: 'Status' });
    await expect
      .poll(() => status.locator('.badge').first().textContent(), {
        message: (await status.textContent()) ?? '',
      })
      .toBe('scheduled');
    const id = Number(page.url().split('/').at(-1));
    const [row] = await server.db.sql<{ status: string; send_at: Date }[]>`
      select status, send_at from notify_campaigns where id = ${id}`;
    expect(row?.status).toBe('scheduled');
    expect(Math.abs(row!.send_at.getTime() - at.getTime())).toBeLessThan(60_000);

    await page.getByRole('button', { name: 'Cancel campaign' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel campaign' }).click();
    await expect.poll(() => status.locator('.badge').first().textContent()).toBe('cancelled');
    expect(await page.getByRole('button', { name: 'Cancel campaign' }).count()).toBe(0);
    await context.close();
  });

  it('works at 375 px', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', 'campaigns', PHONE);
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await expect
      .poll(() => page.getByRole('table', { name: 'Campaigns, newest first' }).textContent())
      .toContain('Spring sale FR');
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toBe('4 recipients');
    const overflow = await inPage<boolean>(
      page,
      'document.documentElement.scrollWidth > document.documentElement.clientWidth + 1',
    );
    expect(overflow, 'the page scrolls sideways').toBe(false);
    await screenshot(page, 'campaigns-phone');
    await context.close();
  });

  it('an analyst sees campaigns but no create, send or cancel; the server refuses with 403', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', 'campaigns', DESKTOP);
    const list = page.getByRole('table', { name: 'Campaigns, newest first' });
    await expect.poll(() => list.textContent()).toContain('Spring sale FR');
    expect(await page.getByRole('heading', { name: 'New campaign' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Autumn teaser' }).click();
    await page.getByRole('heading', { name: 'Campaign: Autumn teaser' }).waitFor();
    for (const name of ['Send now', 'Schedule', 'Cancel campaign', 'Preview'])
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    const answer = await inPage<string>(
      page,
      `fetch('/api/admin/me').then((r) => r.json()).then((me) =>
         fetch('/api/admin/bulk', {
           method: 'POST',
           headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token },
           body: JSON.stringify({ name: 'x', segment: { active: true }, template_id: 'spring-sale', channel: 'email' }),
         }))
       .then(async (r) => r.status + ' ' + (await r.json()).code)`,
    );
    expect(answer).toMatch(/^403 /);
    expect(answer).not.toMatch(/CSRF/);
    await context.close();
  });
});
