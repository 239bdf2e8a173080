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
} from './harness.ts';

const skip = browserSkipReason();
if (skip) console.warn(`skipping the admin panel's files browser tests: ${skip}`);

/** A state-changing call made by the page with its session (cookie + the session's CSRF token). */
function callInPage(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; code?: string }> {
  return inPage(
    page,
    `fetch('/api/admin/me').then((r) => r.json()).then((me) =>
       fetch(${JSON.stringify(path)}, {
         method: ${JSON.stringify(method)},
         headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token },
         body: ${JSON.stringify(body === undefined ? undefined : JSON.stringify(body))},
       }))
     .then(async (r) => ({ status: r.status, code: (await r.json().catch(() => ({}))).code }))`,
  );
}

/** A multipart upload made by the page with its session, answering the status and error code. */
function uploadInPage(
  page: Page,
  filename: string,
  text: string,
): Promise<{ status: number; code?: string }> {
  return inPage(
    page,
    `fetch('/api/admin/me').then((r) => r.json()).then((me) => {
       const form = new FormData();
       form.append('file', new Blob([${JSON.stringify(text)}], { type: 'text/plain' }), ${JSON.stringify(filename)});
       return fetch('/api/files', { method: 'POST', headers: { 'x-csrf-token': me.csrf_token }, body: form });
     }).then(async (r) => ({ status: r.status, code: (await r.json().catch(() => ({}))).code }))`,
  );
}

describe.skipIf(skip)('admin panel: files and storage elements', () => {
  let server: PanelServer;
  let browser: Browser;
  beforeAll(async () => {
    // One element in rw mode (relative to the test's DATA_DIR), so the panel can make it ro.
    server = await startPanelServer({ FILES_ELEMENTS: 'se-rw:files/se-rw:rw:64M' });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  // 1 MiB of text: big enough for the browser to report upload progress on the way.
  const content = `boxoffice admin upload test\n${'0123456789abcdef'.repeat(65536)}`;
  const filename = 'seating-plan-admin-test.txt';

  it('uploads with a progress bar, finds the file by search and downloads the same bytes', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'files');
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    await page
      .getByLabel('File', { exact: true })
      .setInputFiles(
        { name: filename, mimeType: 'text/plain', buffer: Buffer.from(content) },
        { timeout: 30_000 },
      );
    await page.getByLabel('Description').fill('Plan of the hall for the admin test');
    await page.getByLabel('Tags').fill('admin-test, plan');
    await page.getByLabel('Other metadata (JSON)').fill('{"booking": "42"}');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const progress = page.getByRole('progressbar', { name: 'Upload progress' });
    await expect.poll(() => progress.getAttribute('value')).toBe('100');
    await expect.poll(() => page.locator('.upload-progress').textContent()).toContain('Uploaded');
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain(filename);

    // Search by the exact filename: one row, its link downloads the bytes.
    await page.getByLabel('Filename (exact)').fill(filename);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/filename=/);
    const results = page.getByRole('table', { name: 'Files found' });
    await expect.poll(() => results.getByRole('link', { name: filename, exact: true }).count()).toBe(1);
    // Full text finds it by a tag too.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Full text').fill('admin-test');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => results.getByRole('link', { name: filename, exact: true }).count()).toBe(1);

    const href = await results.getByRole('link', { name: filename, exact: true }).getAttribute('href');
    expect(href).toMatch(/^\/api\/files\/[0-9a-f-]{36}$/);
    const downloaded = await inPage<{ text: string; disposition: string | null }>(
      page,
      `fetch(${JSON.stringify(href)}).then(async (r) => ({ text: await r.text(), disposition: r.headers.get('content-disposition') }))`,
    );
    expect(downloaded.text).toBe(content);
    expect(downloaded.disposition).toContain(filename);

    // The metadata dialog shows attr.json.
    await results.getByRole('button', { name: `Metadata of ${filename}` }).click();
    const dialog = page.getByRole('dialog', { name: `Metadata of ${filename}` });
    await expect.poll(() => dialog.locator('pre').textContent()).toContain('"booking": "42"');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await screenshot(page, 'files-desktop');
    await context.close();
  }, 120_000);

  it('works at 375 px', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'files', PHONE);
    await page.getByRole('heading', { name: 'Results' }).waitFor();
    await page.getByText(/files? match/).waitFor();
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    const overflow = await inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
    if (overflow > 0)
      console.log(
        await inPage(
          page,
          `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 15).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('\\n')`,
        ),
      );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'files-phone');
    // Readable in the dark theme too.
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    const dark = await accessibilityViolations(page);
    expect(dark, describeViolations(dark)).toEqual([]);
    await context.close();
  }, 120_000);

  it('an analyst sees the elements but no mode buttons, and the server refuses the change', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', 'storage');
    const table = page.getByRole('table', { name: 'Storage elements' });
    await expect.poll(() => table.getByRole('cell', { name: 'se-rw', exact: true }).count()).toBe(1);
    expect(await page.getByRole('button', { name: /^Make / }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Upload' }).count()).toBe(0);
    expect(await callInPage(page, 'PATCH', '/api/storage-elements/se-rw', { mode: 'ro' })).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    });
    await context.close();
  }, 120_000);

  it('changes rw → ro through the confirmation; then uploads are refused with 409', async () => {
    const { context, page } = await signedIn(browser, server, 'admin', 'storage');
    const table = page.getByRole('table', { name: 'Storage elements' });
    await expect.poll(() => table.getByRole('cell', { name: 'se-rw', exact: true }).count()).toBe(1);
    // The file uploaded above is counted.
    await expect.poll(() => table.locator('tbody tr').first().textContent()).toContain('used');
    await page.getByRole('button', { name: 'Make se-rw ro' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change se-rw to ro?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('This is one way.');
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    // Cancel first: nothing changes.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await uploadInPage(page, 'still-rw.txt', 'ok')).toMatchObject({ status: 201 });

    await page.getByRole('button', { name: 'Make se-rw ro' }).click();
    await dialog.getByRole('button', { name: 'Change to ro' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toContain('se-rw is now in mode ro');
    await expect.poll(() => page.getByRole('button', { name: 'Make se-rw ar' }).count()).toBe(1);
    // The API refuses an upload now: no element takes writes.
    expect(await uploadInPage(page, 'after-ro.txt', 'refused')).toEqual({
      status: 409,
      code: 'STORAGE_READ_ONLY',
    });
    const [row] = await server.db.sql<
      { mode: string }[]
    >`select mode from storage_elements where id = 'se-rw'`;
    expect(row?.mode).toBe('ro');
    // The UI says the same when one tries.
    await page.goto('/admin/files');
    await page.getByLabel('File', { exact: true }).setInputFiles({
      name: 'after-ro.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('refused'),
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('409 STORAGE_READ_ONLY');
    await context.close();
  }, 120_000);
});
