// The operator's console in a real browser (Debian's Chromium driven by playwright-core): a test send from the
// templates page appears on the notifications page and goes PENDING → SENT → DELIVERED → OPENED in the list and
// the detail without a reload; a dead-lettered one is found by the filter and retried from the page to
// DELIVERED; the overview's late count rises when a critical notification misses its deadline.
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { usePageRig } from '../helpers/browser.js';
import { useTenantKey } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { quickRetries } from '../helpers/notifications.js';
import { waitFor } from '../helpers/wait.js';

const rig = usePageRig('ntfp', {
  webhooks: true,
  roles: ['delivery', 'email'],
  env: { ...quickRetries('MEDIUM', 2), EMAIL_PROVIDER_SECONDARY: 'none' },
});

/** A tenant of this file's own: its list and overview hold only what this file sent. */
const tenant = useTenantKey(() => rig.api, 'console-page');
beforeEach(async () => {
  await rig.sims.resetAll();
});

async function open(path: string): Promise<Page> {
  const page = await rig.browser.newPage();
  await page.goto(`${rig.api.url}${path}`);
  await page.fill('#key', tenant.key);
  await page.click('#save-key');
  return page;
}

/** A password reset email to `user`'s own address (a critical one with `priority: 'HIGH'`); its id. */
async function sendReset(user: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await rig.api.request('/v1/notifications', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      userId: user,
      type: 'EMAIL',
      templateId: 'PASSWORD_RESET',
      to: `${user}@example.com`,
      templateParams: { name: 'Jane', resetUrl: 'https://example.com/r' },
      ...extra,
    }),
    auth: tenant.key,
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const notification = (id: string) =>
  rig.api.request(`/v1/notifications/${id}`, { auth: tenant.key }).then(async (r) => (await r.json()) as { status: string; providerMessageId: string | null });

describe('the notifications page', () => {
  it('shows a test send from the templates page arrive and go PENDING → SENT → DELIVERED → OPENED without a reload', async () => {
    const list = await open('/web/notifications.html');
    await list.waitForSelector('#feed[data-state="live"]');
    // The provider answers after 3 s, so PENDING is on screen before SENT.
    await rig.sims.setFaults('mailgun', { latencyMs: 3_000 });

    const templates = await open('/web/templates.html');
    await templates.locator('#templates tr[data-template-id="PASSWORD_RESET"] button[data-action=open]').click();
    await templates.locator('#preview-params input').first().waitFor();
    const address = `${unique('console')}@example.com`;
    await templates.fill('#send-to', address);
    await templates.click('#send-button');
    await templates.waitForSelector('#send-link:has-text("ntf_")');
    const id = (await templates.textContent('#send-link'))!.trim();

    const row = list.locator(`#list tr[data-id="${id}"]`);
    await list.locator(`#list tr[data-id="${id}"][data-status="PENDING"]`).waitFor({ timeout: 10_000 });
    await list.locator(`#list tr[data-id="${id}"][data-status="SENT"]`).waitFor({ timeout: 15_000 });
    await row.click();
    await list.waitForSelector('#detail-status:has-text("SENT")');
    expect(await list.textContent('#detail-params')).toContain('••••••');

    const { providerMessageId } = await notification(id);
    await rig.sims.emitMailgunEvent(providerMessageId!, 'delivered');
    await list.locator(`#list tr[data-id="${id}"][data-status="DELIVERED"]`).waitFor({ timeout: 10_000 });
    await list.waitForSelector('#detail-status:has-text("DELIVERED")');
    await rig.sims.emitMailgunEvent(providerMessageId!, 'opened');
    await list.locator(`#list tr[data-id="${id}"][data-status="OPENED"]`).waitFor({ timeout: 10_000 });
    await list.waitForSelector('#detail-status:has-text("OPENED")');
    const history = await list.locator('#detail-history tr').evaluateAll((trs) => trs.slice(1).map((tr) => tr.children[2]!.textContent));
    expect(history).toEqual(['PENDING', 'SENT', 'DELIVERED', 'OPENED']);
    expect(await list.locator('#detail').textContent()).toContain('met with');
    // Loaded once: everything since came over the feed.
    expect(await list.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
  });

  it('finds a dead-lettered one by the filter and retries it from the page until it is delivered', async () => {
    const page = await open('/web/notifications.html');
    await page.waitForSelector('#feed[data-state="live"]');
    await rig.sims.setFaults('mailgun', { outage: true });
    const user = unique('dead');
    const id = await sendReset(user);
    await waitFor(
      'dead-lettered',
      () => notification(id),
      (n) => n.status === 'DEAD_LETTERED',
    );
    await rig.sims.setFaults('mailgun', { outage: false });

    await page.selectOption('#f-status', 'DEAD_LETTERED');
    await page.fill('#f-userId', user);
    await page.click('#apply');
    const row = page.locator(`#list tr[data-id="${id}"]`);
    // The filtered list replaces the unfiltered one (which has this row too) when its answer comes.
    await expect.poll(() => page.locator('#list tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.id))).toEqual([id]);
    await page.waitForSelector('#count-DEAD_LETTERED:has-text("DEAD_LETTERED 1")');
    await row.locator('button[data-action=retry]').click();
    await page.locator(`#list tr[data-id="${id}"][data-status="SENT"]`).waitFor({ timeout: 15_000 });
    const { providerMessageId } = await waitFor(
      'sent again',
      () => notification(id),
      (n) => n.status === 'SENT',
    );
    await rig.sims.emitMailgunEvent(providerMessageId!, 'delivered');
    await page.locator(`#list tr[data-id="${id}"][data-status="DELIVERED"]`).waitFor({ timeout: 10_000 });
  });
});

describe('the overview', () => {
  it('shows the late count rise when a critical notification misses its 15 s deadline', async () => {
    const page = await open('/web/');
    await page.waitForSelector('#late-critical');
    const before = Number(await page.textContent('#late-critical'));
    // Each attempt waits on the provider past its 9 s budget and is abandoned; once two have been, the
    // provider answers at once and the third attempt sends it, past the deadline.
    await rig.sims.setFaults('mailgun', { latencyMs: 9_500 });
    const user = unique('late');
    const id = await sendReset(user, { priority: 'HIGH' });
    await waitFor(
      'two abandoned attempts',
      () =>
        rig.api
          .request(`/v1/notifications/${id}`, { auth: tenant.key })
          .then(async (r) => (await r.json()) as { deliveryAttempts: unknown[]; deadlineAt: string }),
      (n) => n.deliveryAttempts.length >= 2 && Date.now() > Date.parse(n.deadlineAt),
      60_000,
    );
    await rig.sims.setFaults('mailgun', { latencyMs: 0 });
    await page.waitForSelector(`#late-critical:has-text("${before + 1}")`, { timeout: 30_000 });
    expect(await page.locator('#chart-critical rect.late').count()).toBeGreaterThan(0);
  });
});
