import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STADIUM } from '../../src/booking/index.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL, type TestUser } from '../booking/harness.ts';
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
  statusInPage,
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the admin panel's Events browser tests: ${skip}`);

/** The stadium event (100,000 seats): seat ids 600,001 … 700,000. */
const STADIUM_EVENT = 7;
const FIRST_SEAT = (STADIUM_EVENT - 1) * 100_000 + 1;
/** A seat in the Fan zone (rows 101–250): row 124, seat 46. */
const HELD_SEAT = FIRST_SEAT + 12_345;

describe.skipIf(skip)('admin panel: Events (search, seat map, bookings, refund)', () => {
  let server: PanelServer;
  let browser: Browser;
  let client: Client;
  let buyer: TestUser;
  let bookingId: number;

  beforeAll(async () => {
    server = await startPanelServer();
    browser = await launchBrowser();
    await makeEvent(server.db.sql, STADIUM_EVENT, { layout: STADIUM, title: 'Стадион: финал сезона' });
    await makeEvent(server.db.sql, 8, { layout: SMALL_HALL, title: 'Chamber evening' });
    [buyer] = (await makeUsers(server.db.sql, 1, 'panel-buyer')) as [TestUser];
    client = new Client(server.url);
  }, 180_000);
  afterAll(async () => {
    client?.close();
    await browser?.close();
    await server?.stop();
  });

  it('search finds a seeded event and opens its page with the 100,000-seat map', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'events');
    await page.getByLabel('Search events').fill('финал');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'Стадион: финал сезона' }).click();
    await page.waitForURL(`**/admin/events/${STADIUM_EVENT}`);
    const map = page.getByTestId('seat-map');
    await expect.poll(() => map.getAttribute('data-free'), { timeout: 15_000 }).toBe('100000');
    expect(await page.getByRole('img', { name: /Seat map of 100,000 seats/ }).count()).toBe(1);
    await context.close();
  }, 90_000);

  it('the seat map shows a hold made through the buyer API as RESERVED; the lookup finds it; an admin cancels it', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', `events/${STADIUM_EVENT}`);
    const map = page.getByTestId('seat-map');
    await expect.poll(() => map.getAttribute('data-reserved'), { timeout: 15_000 }).toBe('0');

    bookingId = await client.book(buyer, STADIUM_EVENT);
    const held = await client.select(buyer, bookingId, HELD_SEAT);
    expect(held.status, held.body).toBe(200);

    await page.getByRole('button', { name: 'Refresh now' }).click();
    await expect.poll(() => map.getAttribute('data-reserved'), { timeout: 15_000 }).toBe('1');
    const fanZone = page.locator('tr[data-zone="Fan zone"] td[data-status="RESERVED"]');
    expect(await fanZone.textContent()).toBe('1');
    await page.getByLabel('Find a seat by id').fill(String(HELD_SEAT));
    await page.getByRole('button', { name: 'Find seat' }).click();
    await expect
      .poll(() => page.locator('.seatmap-found').textContent())
      .toBe(`Seat ${HELD_SEAT}: Fan zone, row 124, seat 46 — RESERVED`);

    await page.getByLabel('Buyer (user id or email)').fill(buyer.email);
    await page.getByRole('button', { name: 'Look up' }).click();
    const row = page.locator('tr', { hasText: `#${bookingId}` });
    await expect.poll(() => row.textContent()).toContain(`Fan zone r124 s46 (#${HELD_SEAT})`);

    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'events-desktop');

    await row.getByRole('button', { name: `Cancel booking ${bookingId}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel booking' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'cancelled' }).count())
      .toBeGreaterThan(0);
    const [booking] = await server.db.sql<
      { status: string }[]
    >`select status::text from bookings where id = ${bookingId}`;
    expect(booking?.status).toBe('cancelled');
    const [audit] = await server.db.sql<{ actor_id: string; action: string }[]>`
      select actor_id, action from audit_log where resource = ${`booking:${bookingId}`} order by id desc limit 1`;
    expect(audit).toEqual({ actor_id: String(server.staff.admin.id), action: 'booking.cancel' });
    await expect.poll(() => map.getAttribute('data-reserved'), { timeout: 15_000 }).toBe('0');
    await context.close();
  }, 90_000);

  it('an analyst sees the bookings but no refund button, and the server refuses the analyst’s refund', async () => {
    const other = await client.book(buyer, STADIUM_EVENT);
    expect((await client.select(buyer, other, HELD_SEAT + 1)).status).toBe(200);
    const { context, page } = await signedIn(browser, server, 'analyst', `events/${STADIUM_EVENT}`);
    const row = page.locator('tr', { hasText: `#${other}` });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    expect(await page.getByRole('button', { name: /Refund|Cancel booking/ }).count()).toBe(0);
    // The page's own session (no CSRF token: 403 either way), then with the token, as the panel would send it.
    expect(await statusInPage(page, `/api/admin/bookings/${other}/refund`, 'POST')).toBe(403);
    const signIn = await fetch(`${server.url}/api/admin/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: server.staff.analyst.email, password: server.staff.analyst.password }),
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const { csrf_token } = (await signIn.json()) as { csrf_token: string };
    const refused = await fetch(`${server.url}/api/admin/bookings/${other}/refund`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf_token },
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('FORBIDDEN');
    const [booking] = await server.db.sql<
      { status: string }[]
    >`select status::text from bookings where id = ${other}`;
    expect(booking?.status).toBe('created');
    await context.close();
  }, 90_000);

  it('works at 375 px', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', `events/${STADIUM_EVENT}`, PHONE);
    await expect
      .poll(() => page.getByTestId('seat-map').getAttribute('data-free'), { timeout: 15_000 })
      .not.toBeNull();
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'events-phone');
    await context.close();
  }, 90_000);
});
