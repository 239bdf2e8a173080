import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingServiceOf, firstSeatId } from '../../src/booking/index.ts';
import { makeEvent, makeUsers, SMALL_HALL } from '../booking/harness.ts';
import {
  accessibilityViolations,
  browserSkipReason,
  describeViolations,
  launchBrowser,
  type PanelServer,
  PHONE,
  screenshot,
  signedIn,
  startPanelServer,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the dashboard's browser tests: ${skip}`);

describe.skipIf(skip)('admin panel: the live dashboard', () => {
  let server: PanelServer;
  let browser: Browser;
  const EVENT = 7401;
  const SEAT = firstSeatId(EVENT);

  beforeAll(async () => {
    server = await startPanelServer({ BOOKING_ANALYTICS_CACHE_MS: '0' });
    browser = await launchBrowser();
    await makeEvent(server.db.sql, EVENT, { layout: SMALL_HALL, title: 'Dashboard test night' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows an event’s figures and updates them live when a seat is held and released', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', `?event=${EVENT}`);
    try {
      const panel = page.getByRole('region', { name: `Dashboard test night (#${EVENT})`, exact: true });
      const figure = (label: string) =>
        panel.locator('.stat', { has: page.getByText(label, { exact: true }) }).locator('.stat-value');
      await expect.poll(() => figure('Free').textContent()).toBe('15');
      expect(await figure('Reserved').textContent()).toBe('0');
      await expect.poll(() => page.locator('.live-indicator').textContent()).toBe('Live');
      expect(await panel.getByRole('img', { name: 'A: 0 sold, 0 reserved, 10 free' }).count()).toBe(1);
      await expect
        .poll(() => page.getByRole('region', { name: 'Payment gateway' }).textContent())
        .toContain('Closed');
      expect(await page.getByRole('region', { name: 'Current drop' }).textContent()).toContain('Items left');
      expect(await page.getByRole('region', { name: 'Notifications' }).textContent()).toContain(
        'Dead letters',
      );

      // A hold made through the booking service while the page is open: the stream brings it.
      const [buyer] = await makeUsers(server.db.sql, 1, 'dashboard');
      const booking = bookingServiceOf(server.platform)!;
      const { id } = await booking.createBooking(buyer!, EVENT);
      await booking.selectSeat(buyer!, id, SEAT);
      await booking.selectSeat(buyer!, id, SEAT + 1);
      await expect.poll(() => figure('Reserved').textContent(), { timeout: 10_000 }).toBe('2');
      expect(await figure('Free').textContent()).toBe('13');
      await expect
        .poll(() => panel.getByRole('img', { name: 'A: 0 sold, 2 reserved, 8 free' }).count())
        .toBe(1);

      await booking.releaseSeat(buyer!, SEAT + 1);
      await expect.poll(() => figure('Reserved').textContent(), { timeout: 10_000 }).toBe('1');

      const violations = await accessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      await screenshot(page, 'dashboard-desktop');
    } finally {
      await context.close();
    }
  }, 90_000);

  it('picks an event by id, refuses a bad one inline, and works at 375 px', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', '', PHONE);
    try {
      // Without a choice: the events with the newest bookings, the test event among them.
      await page.getByRole('region', { name: `Dashboard test night (#${EVENT})`, exact: true }).waitFor();
      await page.getByLabel('Event id').fill('x1');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByText('An event id is a whole number from 1 up.').waitFor();
      await page.getByLabel('Event id').fill('424242');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByRole('alert').filter({ hasText: '424242' }).waitFor();
      await page.getByLabel('Event id').fill(String(EVENT));
      await page.getByRole('button', { name: 'Show' }).click();
      await expect.poll(() => page.url()).toContain(`event=${EVENT}`);
      await page.getByRole('region', { name: `Dashboard test night (#${EVENT})`, exact: true }).waitFor();
      await expect.poll(() => page.locator('.live-indicator').textContent()).toBe('Live');
      // Nothing wider than the phone: tables scroll inside their panel.
      const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
      expect(overflow).toBe(false);
      const violations = await accessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      await screenshot(page, 'dashboard-phone');
    } finally {
      await context.close();
    }
  }, 90_000);
});
