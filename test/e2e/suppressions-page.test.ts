// The suppressions page in a real browser (Debian's Chromium driven by playwright-core): a tenant's list
// paged with "More", searched by part of an address, and an entry removed (after confirming), which the
// API then no longer lists.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suppressAddress } from '../../lib/notifications/suppressions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
let api: TestApi;
let browser: Browser;
/** A tenant of its own, so the page lists exactly what this file suppressed. */
let tenant: { key: string; tenantId: string };

beforeAll(async () => {
  if (!chromiumPath) throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
  api = await startTestApi();
  const created = await api.request('/v1/api-keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: unique('suppressions-page'), scopes: ['send', 'read'] }),
  });
  expect(created.status).toBe(201);
  tenant = (await created.json()) as { key: string; tenantId: string };
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await api?.close();
});

const listed = async (q: string) => {
  const response = await api.request(`/v1/suppressions?q=${encodeURIComponent(q)}`, { auth: tenant.key });
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: { address: string }[] }).data.map((s) => s.address);
};

describe('the suppressions page', () => {
  it('pages the list, finds an address by part of it, and removes it after confirming', async () => {
    const marker = unique('sp').toLowerCase();
    // One more than a page and a half: the first page, then "More" for the rest.
    const addresses = Array.from({ length: 30 }, (_, i) => `${marker}-${String(i).padStart(2, '0')}@example.com`);
    for (const [i, address] of addresses.entries()) {
      await suppressAddress(api.deps.db, {
        owner: tenant.tenantId,
        address,
        reason: i % 2 ? 'complained' : 'bounced',
        detail: i % 2 ? null : '550 5.1.1 mailbox does not exist',
        notificationId: null,
      });
    }
    const target = addresses[17]!;

    const page = await browser.newPage();
    await page.goto(`${api.url}/web/suppressions.html`);
    await page.fill('#key', tenant.key);
    await page.click('#save-key');
    const rows = page.locator('#suppressions tr');
    await rows.nth(24).waitFor();
    expect(await rows.count()).toBe(25);
    await page.click('#more');
    await rows.nth(29).waitFor();
    await page.locator('#more').waitFor({ state: 'hidden' });
    // Newest first, every entry once.
    expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.address))).toEqual([...addresses].reverse());
    expect(await page.locator(`tr[data-address="${addresses[0]}"] .reason`).textContent()).toContain('bounce');
    expect(await page.locator(`tr[data-address="${addresses[1]}"] .reason`).textContent()).toContain('complaint');

    // Part of the address, in another case.
    await page.fill('#q', `${marker}-17@EXAMPLE`);
    await page.click('#search-button');
    await page.locator('#suppressions tr').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#suppressions tr').length === 1);
    expect(await rows.first().getAttribute('data-address')).toBe(target);
    expect(await page.locator('#more').isHidden()).toBe(true);

    // Dismissing the confirmation keeps it; accepting removes it.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await rows.first().locator('button[data-action=remove]').click();
    expect(await listed(target)).toEqual([target]);
    page.once('dialog', (dialog) => {
      expect(dialog.message()).toContain(target);
      void dialog.accept();
    });
    await rows.first().locator('button[data-action=remove]').click();
    await page.locator(`tr[data-address="${target}"]`).waitFor({ state: 'detached' });
    expect(await listed(target)).toEqual([]);
    expect(await listed(marker)).toHaveLength(29);
    expect(await page.textContent('#error')).toBe('');
  }, 60_000);
});
