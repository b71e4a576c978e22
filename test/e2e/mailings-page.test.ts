// The mailings page in a real browser (Debian's Chromium driven by playwright-core): upload a CSV,
// watch the live counts, pause, resume and cancel.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from '../helpers/config.js';
import { startMailingRig, type MailingRig } from '../helpers/mailings.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
let rig: MailingRig;
let browser: Browser;

beforeAll(async () => {
  if (!chromiumPath) throw new Error("no Chromium found: install Debian's chromium package (.ci/run does)");
  rig = await startMailingRig({ ratePerSecond: 4 });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

describe('the mailings page', () => {
  it('uploads a list and shows live progress; pause, resume and cancel work from the page', async () => {
    const page = await browser.newPage();
    await page.goto(`${rig.api.url}/web/mailings.html`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    const csv = `email\n${Array.from({ length: 40 }, (_, i) => `page-${i}@example.com`).join('\n')}\nnot-an-email\n`;
    await page.setInputFiles('#file', { name: 'signups.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.fill('#name', 'Signups from the page');
    await page.click('#upload button[type=submit]');
    await page.waitForSelector('#upload-result:has-text("accepted")');
    const id = (await page.textContent('#upload-result'))!.replace('accepted: ', '').trim();
    const row = page.locator(`tr[data-mailing-id="${id}"]`);
    await row.locator('.status:has-text("SENDING")').waitFor({ timeout: 20_000 });
    await row.locator('.counts', { hasText: /[1-9]\d* sent/ }).waitFor({ timeout: 20_000 });
    expect(await row.locator('.counts').textContent()).toContain('1 invalid');

    await row.locator('button[data-action=pause]').click();
    await row.locator('.status:has-text("PAUSED")').waitFor({ timeout: 10_000 });
    await row.locator('button[data-action=resume]').click();
    await row.locator('.status:has-text("SENDING")').waitFor({ timeout: 10_000 });
    await row.locator('button[data-action=cancel]').click();
    await row.locator('.status:has-text("CANCELLED")').waitFor({ timeout: 20_000 });
    const counts = await rig.get(id);
    expect(counts.counts.sent + counts.counts.cancelled).toBe(40);
    expect(await row.locator('.counts').textContent()).toContain(`${counts.counts.sent} sent`);
    expect((await rig.sim.ledger()).sends).toHaveLength(counts.counts.sent);
  }, 90_000);
});
