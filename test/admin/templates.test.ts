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
if (skip) console.warn(`skipping the template editor's browser tests: ${skip}`);

const ID = 'welcome-mail';
const V1_HTML = '<p>Hello {{ name }}</p>';
const V2_HTML = '<p>Welcome {{ name }}, enjoy the show</p>';

/** Replaces a CodeMirror part's whole text, as one input (no auto-closed tags or brackets). */
async function replacePart(page: Page, label: string, text: string): Promise<void> {
  const editor = page.getByRole('textbox', { name: label, exact: true });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(text);
}

function previewHtml(page: Page): Promise<string | null> {
  return page.locator('iframe[title="Email HTML preview"]').getAttribute('srcdoc');
}

describe.skipIf(skip)('admin panel: the template editor, preview, history, diff and rollback', () => {
  let server: PanelServer;
  let browser: Browser;
  const versions = async () =>
    server.db.sql<{ version: number; definition: { channels: { email: { html: string } } } }[]>`
      select version, definition from notify_template_versions where template_id = ${ID} order by version`;

  beforeAll(async () => {
    server = await startPanelServer();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a manager creates, edits with a live preview, is stopped by an invalid part, diffs and rolls back', async () => {
    const { context, page } = await signedIn(browser, server, 'manager', 'templates');
    await page.getByLabel('Id').fill(ID);
    await page.getByLabel('Name', { exact: true }).fill('Welcome mail');
    await page.getByRole('button', { name: 'Create template' }).click();
    await page.waitForURL(`**/admin/templates/${ID}`);
    expect((await versions()).map((v) => v.version)).toEqual([1]);

    // The preview renders the draft with the declared sample (name = "Anna") in a sandboxed frame.
    await expect.poll(() => previewHtml(page)).toContain('Hello Anna');
    expect(await page.locator('iframe[title="Email HTML preview"]').getAttribute('sandbox')).toBe('');

    // An edit updates the preview before anything is saved; Save makes version 2.
    await replacePart(page, 'Email HTML body', V2_HTML);
    await expect.poll(() => previewHtml(page)).toContain('Welcome Anna, enjoy the show');
    expect(await versions()).toHaveLength(1);
    await page.getByLabel('Note for this version').fill('warmer greeting');
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await expect.poll(() => page.getByText('Saved as version 2.').count()).toBe(1);
    expect((await versions()).map((v) => v.definition.channels.email.html)).toEqual([V1_HTML, V2_HTML]);

    // Push and SMS as a phone shows them; the SMS with the server's segment count.
    await page.getByRole('checkbox', { name: 'SMS' }).check();
    await page.getByRole('checkbox', { name: 'Push' }).check();
    await expect.poll(() => page.getByTestId('preview-sms').textContent()).toBe('Hello Anna');
    expect(await page.getByTestId('sms-segments').textContent()).toMatch(/^1 segment · GSM-7 · 10 septets$/);
    await expect.poll(() => page.getByTestId('preview-push').textContent()).toContain('Hello Anna');

    // An undeclared variable: the line is marked, the message sits by the part, and a save is refused.
    await replacePart(page, 'Email HTML body', '<p>Hi</p>\n<p>{{ nobody }}</p>');
    const problem = page.getByText(/^line 2, column \d+: variable "nobody" is not declared$/);
    await expect.poll(() => problem.count()).toBe(1);
    await expect.poll(() => page.locator('.cm-problem-line').count()).toBe(1);
    await page.getByRole('button', { name: 'Save as version 3' }).click();
    await expect.poll(() => page.getByText(/Not saved: the template has 1 problem/).count()).toBe(1);
    // A broken tag is shown the same way, by the parser's message.
    await replacePart(page, 'Email HTML body', V2_HTML);
    await replacePart(page, 'Email Subject', 'Hi {% if name %}');
    await expect
      .poll(() => page.locator('.tpl-problems').allTextContents())
      .toEqual([expect.stringMatching(/^line 1, column \d+: .*not closed/i)]);
    expect(await versions()).toHaveLength(2);

    // History: v1 ↔ v2 side by side, then a rollback to v1 (confirmed) saves v3 = v1.
    await page.reload();
    await page.getByRole('button', { name: 'Show diff' }).waitFor();
    await page.getByLabel('Compare from').selectOption('1');
    await page.getByLabel('to', { exact: true }).selectOption('2');
    await page.getByRole('button', { name: 'Show diff' }).click();
    const merge = page.getByTestId('merge-view');
    await expect.poll(() => merge.locator('.cm-editor').count()).toBe(2);
    expect(await merge.locator('.cm-editor').nth(0).textContent()).toContain(V1_HTML);
    expect(await merge.locator('.cm-editor').nth(1).textContent()).toContain(V2_HTML);
    const left = await inPage<number>(
      page,
      `document.querySelectorAll('[data-testid="merge-view"] .cm-editor')[0].getBoundingClientRect().left`,
    );
    const right = await inPage<number>(
      page,
      `document.querySelectorAll('[data-testid="merge-view"] .cm-editor')[1].getBoundingClientRect().left`,
    );
    expect(right).toBeGreaterThan(left);

    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back to v1' }).click();
    await expect.poll(() => page.getByText('saved as version 3').count()).toBe(1);
    const after = await versions();
    expect(after.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(after[2]!.definition).toEqual(after[0]!.definition);
    await expect.poll(() => previewHtml(page)).toContain('Hello Anna');
    await page.frameLocator('iframe[title="Email HTML preview"]').getByText('Hello Anna').waitFor();

    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'templates-desktop');
    await context.close();

    const phone = await signedIn(browser, server, 'manager', `templates/${ID}`, PHONE);
    await expect.poll(() => previewHtml(phone.page)).toContain('Hello Anna');
    await phone.page.frameLocator('iframe[title="Email HTML preview"]').getByText('Hello Anna').waitFor();
    await screenshot(phone.page, 'templates-phone');
    // Readable in the dark theme too (highlighting and previews use the theme's variables).
    await phone.page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    const dark = await accessibilityViolations(phone.page);
    expect(dark, describeViolations(dark)).toEqual([]);
    await phone.context.close();
  }, 120_000);

  it('an analyst sees the editor read-only, and the server refuses their save with 403', async () => {
    const { context, page } = await signedIn(browser, server, 'analyst', `templates/${ID}`);
    const before = (await versions()).length;
    const editor = page.getByRole('textbox', { name: 'Email HTML body', exact: true });
    await expect.poll(() => editor.getAttribute('contenteditable')).toBe('false');
    expect(await editor.getAttribute('aria-readonly')).toBe('true');
    expect(await page.getByRole('button', { name: /^Save as version/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    const violations = await accessibilityViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);

    // With the session's own CSRF token, so the 403 is the permission, not a missing token.
    const answer = await inPage<{ status: number; code: string }>(
      page,
      `fetch('/api/admin/me').then((r) => r.json()).then((me) =>
         fetch('/api/templates/${ID}', {
           method: 'PUT',
           headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token },
           body: JSON.stringify({ name: 'x', variables: [], channels: { sms: { text: 'hi' } } }),
         }).then(async (r) => ({ status: r.status, code: (await r.json()).code })))`,
    );
    expect(answer.status).toBe(403);
    expect(await versions()).toHaveLength(before);

    // Any version can be viewed, read-only.
    await page.getByRole('link', { name: 'View v1' }).click();
    await expect.poll(() => page.getByText(/^Viewing version 1/).count()).toBe(1);
    await context.close();
  }, 60_000);
});
