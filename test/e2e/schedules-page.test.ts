// The schedules page in a real browser (Debian's Chromium driven by playwright-core): preview the next run
// times, save, watch firings arrive with their delivery status, pause, unpause, trigger and delete.
import { describe, expect, it } from 'vitest';
import { usePageRig } from '../helpers/browser.js';
import { TEST_ADMIN_KEY, unique } from '../helpers/config.js';

const rig = usePageRig('schp');

describe('the schedules page', () => {
  it('previews, saves, shows firings live with delivery status; pause, unpause, trigger and delete work', async () => {
    const page = await rig.browser.newPage();
    await page.goto(`${rig.api.url}/web/schedules.html`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    const receiver = `${unique('page')}@example.com`;
    await page.fill('#receiver', receiver);
    await page.fill('#subject', 'From the page');
    await page.fill('#content', 'Every two seconds');
    await page.fill('#name', 'Page schedule');
    await page.selectOption('#when-type', 'interval');
    await page.fill('#every', '2');

    await page.click('#preview-button');
    await page.locator('#preview li').nth(4).waitFor();
    const preview = await page.locator('#preview li').evaluateAll((items) => items.map((li) => Date.parse((li as HTMLElement).dataset.at!)));
    expect(preview.slice(1).map((t, i) => t - preview[i]!)).toEqual([2000, 2000, 2000, 2000]);

    // A refused spec says which field and why, before anything is saved.
    await page.selectOption('#when-type', 'cron');
    await page.fill('#cron', '0 0 30 2 *');
    await page.click('#preview-button');
    await page.waitForSelector('#create-result:has-text("when.expression")');
    await page.selectOption('#when-type', 'interval');

    await page.click('#create button[type=submit]');
    await page.waitForSelector('#create-result:has-text("created")');
    const id = (await page.textContent('#create-result'))!.replace('created: ', '').trim();
    const row = page.locator(`tr[data-schedule-id="${id}"]`);
    await row.locator('.status:has-text("ACTIVE")').waitFor();
    await row.locator('.last', { hasText: 'CREATED' }).waitFor({ timeout: 20_000 });
    // The firings list updates by itself until a delivery status shows.
    await page.locator('#firings .delivery', { hasText: 'SENT' }).first().waitFor({ timeout: 20_000 });

    await row.locator('button[data-action=pause]').click();
    await row.locator('.status:has-text("PAUSED")').waitFor();
    expect(await row.locator('.next').textContent()).toBe('—');
    // Slots taken before the pause may still land: wait for the API to show none in flight, then trigger.
    const pausedAt = Date.now();
    await page.waitForTimeout(1_500);
    const slots = async () => await page.locator('#firings tr').evaluateAll((rows) => rows.map((r) => Date.parse((r as HTMLElement).dataset.slot!)));
    await row.locator('button[data-action=trigger]').click();
    const until = Date.now() + 30_000;
    while (!(await slots()).some((t) => t > pausedAt)) {
      if (Date.now() > until)
        throw new Error(
          `no triggered firing on the page (error line: ${await page.textContent('#error')}; slots ${JSON.stringify(await slots())}; API ${await (await rig.api.request(`/v1/schedules/${id}`)).text()})`,
        );
      await page.waitForTimeout(200);
    }
    await row.locator('button[data-action=unpause]').click();
    await row.locator('.status:has-text("ACTIVE")').waitFor();

    await row.locator('button[data-action=delete]').click();
    await row.waitFor({ state: 'detached' });
    expect((await rig.api.request(`/v1/schedules/${id}`)).status).toBe(404);
    expect((await rig.sims.ledger('mailgun')).filter((m) => JSON.stringify(m.to).includes(receiver)).length).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
