// The accounts and mail pages in a real browser (Debian's Chromium driven by playwright-core): create an
// account, connect Outlook through the (simulated) Microsoft consent page, watch the first sync go LIVE,
// then see every user action in the mailbox follow on the mail page, live and without a reload, and keep
// following by polling when the live feed drops. The API key never travels in a URL.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/services/index.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY, unique } from '../helpers/config.js';
import { startSyncRig, type MessageView, type SyncRig } from '../helpers/mailbox-sync.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const MESSAGES = 150;
const LIVE_MS = 15_000;

let rig: SyncRig;
let browser: Browser;
let context: BrowserContext;
const requested: string[] = [];
const pageErrors: string[] = [];
const address = `${unique('page')}@contoso.test`.toLowerCase();
/** Where the pages' screenshots go (kept with the run's other data, for a person to look at). */
const screenshots = join(repoRoot, '.data', 'screenshots');

beforeAll(async () => {
  if (!chromiumPath) throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
  // The real consent page, and an API that knows its own URL: Microsoft sends the browser back to it, and
  // the page's callback (its own origin) must be on the allow-list.
  rig = await startSyncRig({
    outlook: { consent: 'prompt' },
    publicEnv: (url) => ({ PUBLIC_BASE_URL: url, OAUTH_CALLBACK_ALLOWLIST: `${url}/web/` }),
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  context.on('request', (request) => requested.push(request.url()));
  context.on('page', (page) => page.on('pageerror', (error) => pageErrors.push(error.message)));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

const loadedAt = (page: Page) => page.evaluate(() => (window as unknown as { __mailflowPageLoadedAt: number }).__mailflowPageLoadedAt);

describe('the accounts page', () => {
  it('creates an account, connects Outlook through the consent page and shows the first sync going LIVE', async () => {
    await rig.outlook.createMailbox(address, { messages: MESSAGES, displayName: 'Page Tester' });
    const page = await context.newPage();
    await page.goto(`${rig.publicUrl}/web/accounts.html`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    await page.fill('#email', address);
    await page.fill('#display-name', 'Page Tester');
    await page.click('#create-account button[type=submit]');
    await page.locator('#account-result', { hasText: 'created: acc_' }).waitFor();
    const accountId = await page.inputValue('#account');
    expect(accountId).toMatch(/^acc_/);
    expect(await page.getAttribute('#mail-link', 'href')).toBe(`/web/mail.html?accountId=${accountId}`);
    // The same email again: 409, and the page takes the existing account from the problem.
    await page.click('#create-account button[type=submit]');
    await page.locator('#account-result', { hasText: `already there: ${accountId}` }).waitFor();
    expect(await page.inputValue('#account')).toBe(accountId);

    await page.click('#connect');
    await page.waitForURL((url) => url.origin === new URL(rig.outlook.url).origin);
    expect(await page.textContent('h1')).toContain('Sign in to Outlook');
    expect(await page.inputValue('#account')).toBe(address); // the login hint, chosen
    await page.click('#accept');
    await page.waitForURL((url) => url.origin === rig.publicUrl && url.pathname === '/web/accounts.html' && url.searchParams.get('status') === 'linked');
    const back = new URL(page.url()).searchParams;
    expect(back.get('accountId')).toBe(accountId);
    const mailboxId = back.get('mailboxId')!;
    expect(mailboxId).toMatch(/^mbx_/);
    const since = await loadedAt(page);

    await page.locator('#link-status', { hasText: 'linked' }).waitFor();
    await page.locator('#linked-address', { hasText: address }).waitFor();
    const row = page.locator(`#mailboxes tr[data-mailbox-id="${mailboxId}"]`);
    await row.locator('.status', { hasText: /^LIVE$/ }).waitFor({ timeout: 30_000 });
    await row.locator('.phase', { hasText: /^LIVE$/ }).waitFor();
    await row.locator('.messages', { hasText: new RegExp(`^${MESSAGES}$`) }).waitFor({ timeout: LIVE_MS });
    await row.locator('.in-index', { hasText: new RegExp(`^${MESSAGES}$`) }).waitFor({ timeout: LIVE_MS });
    const detail = await rig.mailbox(mailboxId);
    expect(detail.sync.foldersTotal).toBeGreaterThan(0);
    await row.locator('.folders', { hasText: `${detail.sync.foldersTotal}/${detail.sync.foldersTotal} folders` }).waitFor();
    expect(await row.locator('.rate').textContent()).toMatch(/msg\/s|—/);
    await page.locator('#feed[data-state="live"]').waitFor();
    expect(await loadedAt(page)).toBe(since);
    await page.screenshot({ path: join(screenshots, 'accounts-page.png'), fullPage: true });
    await page.close();
  }, 90_000);
});

describe('the mail page', () => {
  it('follows new mail, read state, flags, moves and deletions live, filters and searches, and polls while the feed is down', async () => {
    // A mailbox of its own, linked through the API (the accounts page test links one through the page).
    const address = `${unique('mail-page')}@contoso.test`.toLowerCase();
    await rig.outlook.createMailbox(address, { messages: MESSAGES, displayName: 'Mail Page Tester' });
    const accountId = await rig.createAccount(address);
    const linked = await rig.link(accountId, address, { callbackUrl: `${rig.publicUrl}/web/accounts.html` });
    const mailboxId = linked.location!.searchParams.get('mailboxId')!;
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE', LIVE_MS);
    const page = await context.newPage();
    await page.goto(`${rig.publicUrl}/web/mail.html?accountId=${accountId}`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    const since = await loadedAt(page);
    const rows = page.locator('#messages tr[data-message-id]');
    const row = (id: string) => page.locator(`#messages tr[data-message-id="${id}"]`);
    /** The row, highlighted, with `cell` showing `text`: the change arrived and is shown as a change. */
    const changed = (id: string, cell: string, text: RegExp) =>
      page.locator(`#messages tr[data-message-id="${id}"].changed .${cell}`, { hasText: text }).waitFor({ timeout: LIVE_MS });
    /** No highlight left on the row, so the next one is the next change's. */
    const settled = (id: string) => page.locator(`#messages tr[data-message-id="${id}"].changed`).waitFor({ state: 'detached', timeout: 10_000 });
    const ids = () => rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.messageId!));

    // The feed is up; the list is the API's first page, newest first; the status panel is LIVE.
    await page.locator('#feed[data-state="live"]').waitFor({ timeout: LIVE_MS });
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBe(100);
    const indexed: MessageView[] = await rig.messages(accountId);
    expect(indexed).toHaveLength(MESSAGES);
    expect(await ids()).toEqual(indexed.slice(0, 100).map((m) => m.id));
    const panel = page.locator(`#mailboxes [data-mailbox-id="${mailboxId}"]`);
    await panel.locator('.status', { hasText: /^LIVE$/ }).waitFor();
    expect(await panel.locator('.progress').textContent()).toContain(`${MESSAGES} messages in the index`);
    const first = indexed[0]!;
    const firstRow = row(first.id);
    expect(await firstRow.locator('.subject').textContent()).toBe(first.subject || '(no subject)');
    expect(await firstRow.locator('.folder').textContent()).toBe(first.folder.name);
    expect(await firstRow.locator('.read').textContent()).toBe(first.isRead ? 'read' : 'unread');
    expect(await firstRow.locator('.flag').textContent()).toBe(first.flagStatus);
    if (first.from) expect(await firstRow.locator('.from').textContent()).toContain(first.from.address);
    await page.click('#more');
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBe(MESSAGES);
    expect(await page.isHidden('#more')).toBe(true);

    // The stream is authenticated by an HttpOnly, SameSite=Strict cookie scoped to the account's events.
    const cookies = await context.cookies(rig.publicUrl + `/v1/accounts/${accountId}/events`);
    expect(cookies).toEqual([expect.objectContaining({ name: 'mf_events', path: `/v1/accounts/${accountId}/events`, httpOnly: true, sameSite: 'Strict' })]);
    expect(await page.evaluate(() => document.cookie)).not.toContain('mf_events');

    // New mail: at the top, with its subject and sender, highlighted.
    const stamp = Date.now().toString(36);
    const fresh = await rig.outlook.act(address, {
      type: 'newMail',
      subject: `Live from the test ${stamp}`,
      from: { name: 'Ada Quillfeather', address: 'ada.quillfeather@lab.example' },
    });
    await changed(fresh.id, 'subject', new RegExp(`^Live from the test ${stamp}$`));
    expect(await row(fresh.id).locator('.from').textContent()).toBe('Ada Quillfeather <ada.quillfeather@lab.example>');
    expect(await row(fresh.id).locator('.read').textContent()).toBe('unread');
    expect(await row(fresh.id).locator('.folder').textContent()).toBe('Inbox');
    expect((await ids())[0]).toBe(fresh.id);

    // Read, unread, flag, unflag: each shows, highlighted.
    const steps: [Parameters<SyncRig['outlook']['act']>[1], string, RegExp][] = [
      [{ type: 'markRead', id: fresh.id, isRead: true }, 'read', /^read$/],
      [{ type: 'markRead', id: fresh.id, isRead: false }, 'read', /^unread$/],
      [{ type: 'flag', id: fresh.id, flagStatus: 'flagged' }, 'flag', /^flagged$/],
      [{ type: 'flag', id: fresh.id, flagStatus: 'notFlagged' }, 'flag', /^notFlagged$/],
    ];
    for (const [action, cell, text] of steps) {
      await settled(fresh.id);
      await rig.outlook.act(address, action);
      await changed(fresh.id, cell, text);
    }

    // Search: only matching rows, and new mail that matches arrives in the searched list (and other mail does not).
    await page.fill('#search', 'Quillfeather');
    await expect.poll(ids, { timeout: LIVE_MS }).toEqual([fresh.id]);
    const other = await rig.outlook.act(address, {
      type: 'newMail',
      subject: `Not for this search ${stamp}`,
      from: { name: 'Bob Builder', address: 'bob@builder.example' },
    });
    const again = await rig.outlook.act(address, {
      type: 'newMail',
      subject: `Ada again ${stamp}`,
      from: { name: 'Ada Quillfeather', address: 'ada.quillfeather@lab.example' },
    });
    await changed(again.id, 'subject', new RegExp(`^Ada again ${stamp}$`));
    expect(await ids()).toEqual([again.id, fresh.id]);
    expect(await row(other.id).count()).toBe(0);
    await page.fill('#search', '');
    // A first page again (plus any new mail the index had not made searchable yet, which the page lays over it).
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBeGreaterThanOrEqual(100);
    await row(other.id).waitFor();
    expect(new Set((await ids()).slice(0, 3))).toEqual(new Set([again.id, other.id, fresh.id])); // the newest (ties by id)

    // Move: the folder cell changes.
    await settled(fresh.id);
    await rig.outlook.act(address, { type: 'move', id: fresh.id, to: 'archive' });
    await changed(fresh.id, 'folder', /^Archive$/);

    // The folder filter: only Archive; a message moved out leaves the list, one moved in enters it.
    await page.selectOption('#folder', { label: 'Archive' });
    const archived = await rig.outlook.messages(address, 'archive');
    await expect.poll(() => rows.count(), { timeout: LIVE_MS }).toBe(Math.min(100, archived.length));
    expect(new Set(await rows.locator('.folder').allTextContents())).toEqual(new Set(['Archive']));
    await rig.outlook.act(address, { type: 'move', id: fresh.id, to: 'inbox' });
    await row(fresh.id).waitFor({ state: 'detached', timeout: LIVE_MS });
    await rig.outlook.act(address, { type: 'move', id: other.id, to: 'archive' });
    await changed(other.id, 'folder', /^Archive$/);
    await page.selectOption('#folder', '');
    await row(fresh.id).waitFor({ timeout: LIVE_MS });
    expect(await row(fresh.id).locator('.folder').textContent()).toBe('Inbox');

    // Delete: the row goes.
    await rig.outlook.act(address, { type: 'delete', id: fresh.id });
    await row(fresh.id).waitFor({ state: 'detached', timeout: LIVE_MS });
    const ghost = page.locator(`#messages tr.removed[data-removed-id="${fresh.id}"]`);
    expect(await ghost.count()).toBe(1); // struck through for a moment, once
    await ghost.waitFor({ state: 'detached', timeout: 5_000 });

    // The feed drops and cannot come back (its reconnects are refused): the page polls, and still follows.
    const eventsRoute = (url: URL) => /^\/v1\/accounts\/[^/]+\/events$/.test(url.pathname);
    await page.route(eventsRoute, (route) =>
      route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Unauthorized', status: 401 }) }),
    );
    rig.dropConnections();
    await page.locator('#feed[data-state="down"]').waitFor({ timeout: LIVE_MS });
    await settled(again.id);
    await rig.outlook.act(address, { type: 'markRead', id: again.id, isRead: true });
    await changed(again.id, 'read', /^read$/);
    expect(await page.getAttribute('#feed', 'data-state')).toBe('down');
    // Back: a new cookie and a reconnect by hand from the last event seen; live again.
    const before = requested.length;
    await page.unroute(eventsRoute);
    await page.locator('#feed[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(requested.slice(before).some((url) => url.startsWith(`${rig.publicUrl}/v1/accounts/${accountId}/events?lastEventId=`))).toBe(true);
    await settled(again.id);
    await rig.outlook.act(address, { type: 'flag', id: again.id, flagStatus: 'complete' });
    await changed(again.id, 'flag', /^complete$/);

    expect(await loadedAt(page)).toBe(since);
    await page.screenshot({ path: join(screenshots, 'mail-page.png') });
    // The key went in headers only: no URL the browser asked for carries it.
    expect(requested.length).toBeGreaterThan(0);
    for (const key of [TEST_ADMIN_KEY, encodeURIComponent(TEST_ADMIN_KEY)]) expect(requested.filter((url) => url.includes(key))).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
