// The templates page in a real browser (Debian's Chromium driven by playwright-core): open a template,
// preview it (HTML in a sandboxed frame, parameters escaped), publish a new version and see it listed,
// and test-send it to an address until the provider simulator has it and the notification is SENT.
import { describe, expect, it } from 'vitest';
import { usePageRig } from '../helpers/browser.js';
import { TEST_ADMIN_KEY, unique } from '../helpers/config.js';
import { notificationClient } from '../helpers/notifications.js';
import { waitUntil } from '../helpers/wait.js';

const rig = usePageRig('tplp');

/** An HTML email template of this test's own, so publishing changes nothing another test reads. */
async function createTemplate(): Promise<string> {
  const id = `CONSOLE_${unique('t')
    .replace(/[^a-z0-9]/gi, '_')
    .toUpperCase()}`.slice(0, 60);
  const response = await rig.api.request('/v1/templates', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, channel: 'EMAIL', subject: 'Order {{orderId}}', body: '<p>Hi {{name}}, order <b>{{orderId}}</b> shipped.</p>', format: 'html' }),
  });
  expect(response.status).toBe(201);
  return id;
}

describe('the templates page', () => {
  it('previews a template, publishes a new version, and test-sends it until the provider has it', async () => {
    const id = await createTemplate();
    const page = await rig.browser.newPage();
    await page.goto(`${rig.api.url}/web/templates.html`);
    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    const row = page.locator(`#templates tr[data-template-id="${id}"]`);
    expect(await row.locator('.version').textContent()).toBe('1');
    await row.locator('button[data-action=open]').click();
    await page.locator('#versions tr[data-version="1"]').waitFor();

    // One field per declared parameter, prefilled.
    expect(await page.locator('#preview-params input').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).dataset.param))).toEqual([
      'orderId',
      'name',
    ]);
    expect(await page.inputValue('#param-name')).not.toBe('');
    await page.fill('#param-name', '<img src=x onerror=alert(1)>Jane');
    await page.fill('#param-orderId', 'A&1');
    await page.click('#preview-button');
    await page.waitForSelector('#preview-subject:has-text("Order A&1")');
    expect(await page.textContent('#preview-text')).toContain('Hi <img src=x onerror=alert(1)>Jane, order A&1 shipped.');
    // The HTML renders sandboxed, the parameter as text rather than markup.
    expect(await page.getAttribute('#preview-html', 'sandbox')).toBe('');
    const frame = page.frameLocator('#preview-html');
    await frame.locator('b', { hasText: 'A&1' }).waitFor();
    expect(await frame.locator('p').textContent()).toBe('Hi <img src=x onerror=alert(1)>Jane, order A&1 shipped.');
    expect(await frame.locator('img').count()).toBe(0);

    // A blank field is a missing parameter: the preview says so and keeps the placeholder.
    await page.fill('#param-orderId', '');
    await page.click('#preview-button');
    await page.waitForSelector('#preview-result:has-text("missing: orderId")');
    expect(await page.textContent('#preview-subject')).toBe('Order {{orderId}}');
    await page.fill('#param-orderId', 'A1');

    // A key without the admin scope is refused, and the page says why.
    const sender = await rig.api.request('/v1/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: unique('no-admin'), scopes: ['send', 'read'] }),
    });
    await page.fill('#key', ((await sender.json()) as { key: string }).key);
    await page.click('#save-key');
    const newBody = '<p>Hello {{name}}, your order <b>{{orderId}}</b> is on its way: {{trackingUrl}}</p>';
    await page.fill('#edit-body', newBody);
    await page.fill('#edit-params', '');
    await page.click('#publish');
    await page.waitForSelector('#publish-result:has-text("admin")');
    expect(await page.locator('#versions tr').count()).toBe(1);

    await page.fill('#key', TEST_ADMIN_KEY);
    await page.click('#save-key');
    await page.click('#publish');
    await page.waitForSelector('#publish-result:has-text("published version 2")');
    await page.locator('#versions tr[data-version="2"]').waitFor();
    expect(await page.locator('#versions tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.version))).toEqual(['2', '1']);
    await row.locator('.version', { hasText: '2' }).waitFor();
    const stored = (await (await rig.api.request(`/v1/templates/${id}`)).json()) as { version: number; body: string; params: string[] };
    expect(stored).toMatchObject({ version: 2, body: newBody, params: ['orderId', 'name', 'trackingUrl'] });
    // The new version's parameter has a field of its own.
    expect(await page.inputValue('#param-trackingUrl')).toMatch(/^https:\/\//);
    await page.fill('#param-trackingUrl', 'https://t.example/A1');

    // The test send: the new notification's id links to its page, and its status follows delivery.
    const address = `${unique('console')}@example.com`;
    await page.fill('#send-to', address);
    await page.click('#send-button');
    await page.waitForSelector('#send-link:has-text("ntf_")');
    const notificationId = (await page.textContent('#send-link'))!.trim();
    expect(await page.getAttribute('#send-link', 'href')).toBe(`/web/notifications.html?id=${notificationId}`);
    const sent = await notificationClient(rig.api).waitFor(notificationId, ['SENT', 'DELIVERED', 'OPENED'], 30_000);
    expect(sent.recipient).toBe(address);
    await page.waitForSelector('#send-status:has-text("SENT")', { timeout: 15_000 });
    const message = await waitUntil(`the provider to receive the mail to ${address}`, async () =>
      (await rig.sims.ledger('mailgun')).find((m) => JSON.stringify(m.to).includes(address)),
    );
    expect(JSON.stringify(message)).toContain('https://t.example/A1');
    expect(JSON.stringify(message)).toContain('is on its way');
    const detail = (await (await rig.api.request(`/v1/notifications/${notificationId}`)).json()) as {
      templateId: string;
      templateVersion: number;
      userId: string;
    };
    expect(detail).toMatchObject({ templateId: id, templateVersion: 2, userId: 'console-test' });
    expect(await page.textContent('#send-error')).toBe('');
  }, 90_000);
});
