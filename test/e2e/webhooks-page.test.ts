// The webhooks page in a real browser (Debian's Chromium driven by playwright-core), with the webhooks worker
// and the receiver simulator: an endpoint registered from the page shows its secret once; a test event sent
// from the page arrives signed with it and reads SUCCEEDED 204; a failing receiver shows the failed attempt,
// its error and the next retry; a replay from the page (one delivery, or everything since a time) brings the
// same webhook-id again; the secret is rotated, the endpoint disabled, enabled and deleted.
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { useTenantKey } from '../helpers/api.js';
import { usePageRig } from '../helpers/browser.js';
import { unique } from '../helpers/config.js';
import { waitFor } from '../helpers/wait.js';
import { setReceiverFaults, setReceiverSecrets, useWebhookReceiver } from '../helpers/webhooks.js';

const rig = usePageRig('whkp', {
  roles: ['webhooks'],
  // A failed attempt is retried after 8 s: long enough for the page to show it waiting.
  env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_RETRY_DELAYS_SECONDS: '8' },
});
const receiver = useWebhookReceiver();
/** A tenant of this file's own: the page lists only the endpoint this file registers. */
const tenant = useTenantKey(() => rig.api, 'webhooks-page');

async function open(): Promise<Page> {
  const page = await rig.browser.newPage();
  await page.goto(`${rig.api.url}/web/webhooks.html`);
  await page.fill('#key', tenant.key);
  await page.click('#save-key');
  return page;
}

/** Each attempt the receiver had of one event (a retry and a replay carry the same webhook-id). */
const received = (name: string, webhookId: string) => receiver.ledger(name).filter((e) => e.webhookId === webhookId);

/** A row's cells by their class, read at once (the page redraws its tables every few seconds). */
const cellsOf = (row: Locator) =>
  row.evaluate((tr) => Object.fromEntries(Array.from(tr.querySelectorAll('td'), (td) => [td.className, td.textContent ?? ''])) as Record<string, string>);

describe('the webhooks page', () => {
  it('registers an endpoint, shows its secret once, sends a test event, shows a failed attempt, replays, rotates, disables, enables and deletes', async () => {
    const page = await open();
    const name = unique('page-hook');
    await page.locator('#event-types input[value="notification.sent"]').check();
    await page.locator('#event-types input[value="notification.failed"]').check();
    // A private address is refused, with the field and why.
    await page.fill('#url', 'http://10.1.2.3/hooks');
    await page.click('#register-button');
    await page.waitForSelector('#register-result:has-text("refused: url: ")');
    expect(await page.locator('#secret-box').isHidden()).toBe(true);

    await page.fill('#url', `${receiver.url}/hooks/${name}`);
    await page.click('#register-button');

    // The secret, once, with the note; the endpoint listed and its (empty) deliveries open.
    await page.waitForSelector('#register-result:has-text("registered whe_")');
    const id = (await page.textContent('#register-result'))!.replace('registered ', '').trim();
    // Deleted however the test ends: a tenant with an endpoint has every change it records copied for webhooks.
    onTestFinished(async () => {
      await rig.api.request(`/v1/webhook-endpoints/${id}`, { method: 'DELETE', auth: tenant.key });
    });
    await page.locator('#secret-box').waitFor();
    const secret = (await page.textContent('#secret'))!;
    expect(secret).toMatch(/^whsec_/);
    expect(await page.textContent('#secret-box')).toContain('will not be shown again');
    expect(page.url()).not.toContain('whsec_');
    const row = page.locator(`#endpoints tr[data-id="${id}"]`);
    await row.waitFor();
    expect(await cellsOf(row)).toMatchObject({ types: 'notification.sent, notification.failed', state: 'enabled', failing: '—' });
    await page.locator(`#endpoint[data-id="${id}"]`).waitFor();
    await setReceiverSecrets(receiver, name, [secret]);

    // Another page (a new browser context) lists the endpoint but has no secret to show.
    const other = await open();
    await other.locator(`#endpoints tr[data-id="${id}"]`).waitFor();
    expect(await other.locator('#secret-box').isHidden()).toBe(true);
    expect(await other.content()).not.toContain(secret);
    await other.close();

    // A test event: delivered, verified with that secret, and read SUCCEEDED 204 on the page.
    await row.locator('button[data-action=test]').click();
    const delivered = page.locator('#deliveries tr[data-status="SUCCEEDED"]');
    await delivered.waitFor();
    const firstEvent = (await delivered.getAttribute('data-event-id'))!;
    expect(await cellsOf(delivered)).toMatchObject({
      event: `webhook.test${firstEvent}`,
      attempts: '1',
      'http-status': '204',
      duration: expect.stringMatching(/^\d+ ms$/) as unknown,
      'next-retry': '—',
      'last-error': '—',
    });
    expect(received(name, firstEvent)).toMatchObject([{ verified: true, answeredStatus: 204, type: 'webhook.test' }]);

    // The receiver fails the next one: the page shows the attempt, its error and when it is tried again; the
    // retry then gets through.
    await setReceiverFaults(receiver, name, { failNext: { count: 1, status: 500 } });
    await row.locator('button[data-action=test]').click();
    const failing = page.locator('#deliveries tr[data-status="PENDING"]', { has: page.locator('td.http-status', { hasText: '500' }) });
    await failing.waitFor();
    const failedEvent = (await failing.getAttribute('data-event-id'))!;
    expect(failedEvent).not.toBe(firstEvent);
    const attempt = await cellsOf(page.locator(`#deliveries tr[data-event-id="${failedEvent}"]`));
    expect(attempt).toMatchObject({ attempts: '1', 'last-error': expect.stringMatching(/^HTTP 500: /) as unknown });
    expect(attempt['next-retry']).not.toBe('—');
    expect(received(name, failedEvent).map((e) => e.answeredStatus)).toEqual([500]);
    const retried = page.locator(`#deliveries tr[data-event-id="${failedEvent}"][data-status="SUCCEEDED"]`);
    await retried.waitFor({ timeout: 30_000 });
    expect(await cellsOf(retried)).toMatchObject({ attempts: '2', 'http-status': '204', 'next-retry': '—', 'last-error': '—' });

    // Replaying the first delivery sends its event again with the same webhook-id: a second delivery of it.
    await page.locator(`#deliveries tr[data-event-id="${firstEvent}"] button[data-action=replay]`).click();
    await page.waitForSelector(`#replay-result:has-text("${firstEvent} queued again")`);
    await waitFor(
      'the replayed test event',
      () => Promise.resolve(received(name, firstEvent)),
      (entries) => entries.length === 2,
    );
    expect(received(name, firstEvent).every((e) => e.verified === true && e.answeredStatus === 204)).toBe(true);
    await page.locator(`#deliveries tr[data-event-id="${firstEvent}"][data-status="SUCCEEDED"]`).nth(1).waitFor();

    // Every event since before the first: the three deliveries so far, sent again.
    const since = Math.floor(Date.now() / 1000) * 1000 - 60_000; // whole seconds: the field's step
    await page.$eval('#since', (input: HTMLInputElement, at: number) => (input.valueAsNumber = at - new Date(at).getTimezoneOffset() * 60_000), since);
    await page.click('#replay-since-button');
    await page.waitForSelector('#replay-result:has-text("3 events queued again")');
    await waitFor(
      'every event replayed',
      () => Promise.resolve([received(name, firstEvent).length, received(name, failedEvent).filter((e) => e.answeredStatus === 204).length]),
      ([first, failed]) => first === 4 && failed === 2,
    );

    // A new secret, shown once; the receiver knows only it, and a test event still verifies.
    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button[data-action=rotate]').click();
    await page.waitForSelector('#result:has-text("secret rotated")');
    const rotated = (await page.textContent('#secret'))!;
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await setReceiverSecrets(receiver, name, [rotated]);
    await row.locator('button[data-action=test]').click();
    await page.waitForSelector('#result:has-text("test event")');
    const third = (await page.textContent('#result'))!.replace('test event ', '').replace(' queued', '');
    await page.locator(`#deliveries tr[data-event-id="${third}"][data-status="SUCCEEDED"]`).waitFor();
    expect(received(name, third)).toMatchObject([{ verified: true, answeredStatus: 204 }]);

    // Disabled with its reason, then enabled again.
    await row.locator('button[data-action=disable]').click();
    await page.locator(`#endpoints tr[data-id="${id}"][data-enabled="false"]`).waitFor();
    expect((await cellsOf(row)).state).toBe('disabled: disabled by the tenant');
    const read = () => rig.api.request(`/v1/webhook-endpoints/${id}`, { auth: tenant.key }).then((r) => r.json() as Promise<{ enabled: boolean }>);
    expect(await read()).toMatchObject({ enabled: false });
    await row.locator('button[data-action=enable]').click();
    await page.locator(`#endpoints tr[data-id="${id}"][data-enabled="true"]`).waitFor();
    expect((await cellsOf(row)).state).toBe('enabled');
    expect(await read()).toMatchObject({ enabled: true });

    // Deleted after confirming: gone from the page and the API.
    page.once('dialog', (dialog) => {
      expect(dialog.message()).toContain(name);
      void dialog.accept();
    });
    await row.locator('button[data-action=delete]').click();
    await row.waitFor({ state: 'detached' });
    await page.locator('#endpoint').waitFor({ state: 'hidden' });
    expect((await rig.api.request(`/v1/webhook-endpoints/${id}`, { auth: tenant.key })).status).toBe(404);
    expect(await page.textContent('#error')).toBe('');
  }, 120_000);
});
