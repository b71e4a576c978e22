// The accounts page's IMAP form in a real browser (Debian's Chromium driven by playwright-core), against the
// suite's Dovecot: a refused login shows its reason and links nothing, the right one links, the mailbox list
// says which provider each mailbox is, and the password leaves the form once it is used; then the mail page
// follows a message read and new mail from the user's own IMAP client.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/services/index.js';
import { TEST_ADMIN_KEY, unique } from '../helpers/config.js';
import { appendMessages, asImapUser, createImapUser, imapConnection, imapTestEnv, markSeen, seedMailbox } from '../helpers/imap.js';
import { startSyncRig, type SyncRig } from '../helpers/mailbox-sync.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

let rig: SyncRig;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!chromiumPath) throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
  rig = await startSyncRig({ env: imapTestEnv() });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

async function fillImapForm(page: Page, values: { host: string; port: number; tls: string; username: string; password: string }) {
  await page.fill('#imap-host', values.host);
  await page.fill('#imap-port', String(values.port));
  await page.selectOption('#imap-tls', values.tls);
  await page.fill('#imap-username', values.username);
  await page.fill('#imap-password', values.password);
  await page.click('#imap-connect');
}

describe('the accounts page', () => {
  it('connects an IMAP mailbox: a refused login shows its reason, the right one links, the list shows the provider, and the mail page follows changes made over IMAP', async () => {
    const user = createImapUser('page');
    await seedMailbox(user, { folders: { INBOX: 3 } });
    const accountId = await rig.createAccount(`${unique('imap-page')}@example.com`);
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${rig.api.url}/web/accounts.html?accountId=${accountId}`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    await page.waitForFunction((id) => (document.getElementById('account') as HTMLSelectElement).value === id, accountId);
    expect(await page.isDisabled('#imap-connect')).toBe(false);
    expect(await page.getAttribute('#imap-port', 'placeholder')).toBe('993');
    await page.selectOption('#imap-tls', 'starttls');
    expect(await page.getAttribute('#imap-port', 'placeholder')).toBe('143');

    const c = imapConnection(user, 'starttls');
    await fillImapForm(page, { host: c.host, port: c.port, tls: 'starttls', username: user.user, password: 'not-the-password' });
    await page.locator('#imap-result.error', { hasText: 'not linked (authentication)' }).waitFor();
    expect(await page.textContent('#imap-result')).toContain('refused the login');
    expect((await (await rig.api.request(`/v1/accounts/${accountId}/mailboxes`)).json()) as { data: unknown[] }).toEqual({ data: [] });

    await fillImapForm(page, { host: c.host, port: c.port, tls: 'starttls', username: user.user, password: user.password });
    await page.locator('#linked-address', { hasText: user.user }).waitFor();
    expect(await page.textContent('#link-status')).toBe('linked');
    expect(await page.inputValue('#imap-password')).toBe('');
    expect(await page.textContent('#imap-result')).toBe('');
    const [mailbox] = ((await (await rig.api.request(`/v1/accounts/${accountId}/mailboxes`)).json()) as { data: { id: string }[] }).data;
    const row = page.locator(`#mailboxes tr[data-mailbox-id="${mailbox!.id}"]`);
    await row.locator('.provider', { hasText: /^IMAP$/ }).waitFor();
    await row.locator('.address', { hasText: user.user }).waitFor();
    await row.locator('.status', { hasText: /^LIVE$/ }).waitFor({ timeout: 30_000 });
    await row.locator('.in-index', { hasText: /^3$/ }).waitFor({ timeout: 15_000 });

    // The same login again: a re-link of the same mailbox.
    await fillImapForm(page, { host: c.host, port: c.port, tls: 'starttls', username: user.user, password: user.password });
    await page.locator('#link-status', { hasText: 're-linked' }).waitFor();
    expect(await page.locator('#mailboxes tr').count()).toBe(1);
    await page.screenshot({ path: join(repoRoot, '.data', 'screenshots', 'accounts-page-imap.png'), fullPage: true });

    // The mail page follows what the user then does in their own IMAP client: a message read, new mail.
    await page.goto(`${rig.api.url}/web/mail.html?accountId=${accountId}`);
    const rows = page.locator('#messages tr[data-message-id]');
    await page.locator('#feed[data-state="live"]').waitFor({ timeout: 30_000 });
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(3);
    const unread = (await rig.messages(accountId)).find((m) => !m.isRead);
    if (unread) {
      await asImapUser(user, (client) => markSeen(client, 'INBOX', [Number(unread.id.split('/').at(-1))]));
      await page.locator(`#messages tr[data-message-id="${unread.id}"].changed .read`, { hasText: /^read$/ }).waitFor({ timeout: 30_000 });
    }
    await asImapUser(user, (client) => appendMessages(client, 'INBOX', 1));
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(4);
    await page.screenshot({ path: join(repoRoot, '.data', 'screenshots', 'mail-page-imap.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});
