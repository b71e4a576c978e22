// Delivery end to end over real HTTP and a real Temporal server: API → workflow → channel worker →
// provider simulator, then signed webhooks back. Each behaviour the issue names is exercised here.
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { useDeliveryRig } from '../helpers/delivery.js';
import { formOf } from '../helpers/requests.js';
import { notificationClient, signedWebhook as signed } from '../helpers/notifications.js';
import { unique } from '../helpers/config.js';

const rig = useDeliveryRig('dlv', {
  webhooks: true,
  roles: ['delivery', 'email', 'sms', 'push'],
  env: {
    NOTIFICATION_MAX_ATTEMPTS_MEDIUM: '3',
    NOTIFICATION_RETRY_INITIAL_MS_MEDIUM: '200',
    NOTIFICATION_RETRY_MAX_MS_MEDIUM: '400',
    NOTIFICATION_MAX_ATTEMPTS_LOW: '3',
    NOTIFICATION_RETRY_INITIAL_MS_LOW: '200',
    NOTIFICATION_RETRY_MAX_MS_LOW: '400',
    EMAIL_CIRCUIT_FAILURES: '2',
    EMAIL_CIRCUIT_COOLDOWN_MS: '1500',
  },
});
beforeEach(async () => {
  await rig.sims.resetAll();
});

const { post, get, waitFor } = notificationClient(() => rig.api);

/** The row turns FAILED or DEAD_LETTERED just before the run ends: wait for the end, then check it failed. */
async function expectRunFailed(id: string): Promise<void> {
  const handle = rig.api.deps.temporal.workflow.getHandle(`notification-${id}`);
  await expect(handle.result()).rejects.toThrow();
  expect((await handle.describe()).status.name).toBe('FAILED');
}

async function sendEmail(extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<string> {
  const response = await post(
    '/v1/notifications',
    {
      userId: unique('user'),
      type: 'EMAIL',
      templateId: 'ORDER_SHIPPED_CONFIRMATION',
      to: 'jane@example.com',
      templateParams: { name: 'Jane', orderId: 'ABC123', itemName: 'Laptop', trackingUrl: 'https://t.example/ABC123' },
      ...extra,
    },
    headers,
  );
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

async function sendSms(extra: Record<string, unknown> = {}): Promise<string> {
  const response = await post('/v1/notifications', {
    userId: unique('user'),
    type: 'SMS',
    templateId: 'ORDER_SHIPPED_SMS',
    to: '+15550100',
    templateParams: { orderId: 'A1', trackingUrl: 'https://t.example/1' },
    ...extra,
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

/** A Mailgun webhook as the delivery tests send it: for jane@example.com. */
const signedWebhook = (messageId: string, event: string, extra: Record<string, unknown> = {}, timestamp?: number) =>
  signed(messageId, event, { recipient: 'jane@example.com', ...extra }, timestamp);

describe('delivery', () => {
  it('sends through the provider with an idempotency key, then follows delivered and opened webhooks', async () => {
    const id = await sendEmail();
    const sent = await waitFor(id, ['SENT']);
    expect(sent).toMatchObject({ attempts: 1, provider: 'mailgun', errorMessage: null, late: false });
    const ledger = await rig.sims.ledger('mailgun');
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ idempotencyKey: `mailflow-${id}` });
    expect(JSON.stringify(ledger[0])).toContain('ABC123');

    await rig.sims.emitMailgunEvent(sent.providerMessageId!, 'delivered');
    await waitFor(id, ['DELIVERED']);
    await rig.sims.emitMailgunEvent(sent.providerMessageId!, 'opened');
    const opened = await waitFor(id, ['OPENED']);
    expect(opened.history.map((h) => h.to)).toEqual(['PENDING', 'SENT', 'DELIVERED', 'OPENED']);
    expect(opened.deliveredAt).not.toBeNull();
    expect(opened.openedAt).not.toBeNull();
  });

  it('keeps OPENED when delivered arrives after opened, and records the delivery time', async () => {
    const id = await sendEmail();
    const sent = await waitFor(id, ['SENT']);
    expect((await post('/v1/webhooks/mailgun', signedWebhook(sent.providerMessageId!, 'opened'))).status).toBe(200);
    expect((await post('/v1/webhooks/mailgun', signedWebhook(sent.providerMessageId!, 'delivered'))).status).toBe(200);
    const n = await get(id);
    expect(n.status).toBe('OPENED');
    expect(n.deliveredAt).not.toBeNull();
    expect(n.history.map((h) => h.to)).toEqual(['PENDING', 'SENT', 'OPENED']);
  });

  it('refuses forged, stale and replayed webhooks with 401 and changes nothing', async () => {
    const id = await sendEmail();
    const sent = await waitFor(id, ['SENT']);
    const forged = signedWebhook(sent.providerMessageId!, 'delivered');
    forged.signature.signature = createHmac('sha256', 'wrong-key').update(`${forged.signature.timestamp}${forged.signature.token}`).digest('hex');
    expect((await post('/v1/webhooks/mailgun', forged)).status).toBe(401);
    const stale = signedWebhook(sent.providerMessageId!, 'delivered', {}, Math.floor(Date.now() / 1000) - 3600);
    expect((await post('/v1/webhooks/mailgun', stale)).status).toBe(401);
    expect((await get(id)).status).toBe('SENT');

    const genuine = signedWebhook(sent.providerMessageId!, 'opened');
    expect((await post('/v1/webhooks/mailgun', genuine)).status).toBe(200);
    const replay = await post('/v1/webhooks/mailgun', genuine);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { detail: string }).detail).toContain('replayed');
    const n = await get(id);
    expect(n.status).toBe('OPENED');
    expect(n.history.filter((h) => h.to === 'OPENED')).toHaveLength(1);
  });

  it('retries transient failures with backoff, then succeeds', async () => {
    await rig.sims.setFaults('sms', { failNext: { count: 2, status: 503 } });
    const id = await sendSms();
    const n = await waitFor(id, ['SENT']);
    expect(n.attempts).toBe(3);
    expect(n.history.map((h) => h.to)).toEqual(['PENDING', 'RETRYING', 'RETRYING', 'SENT']);
    expect(await rig.sims.ledger('sms')).toHaveLength(1);
  });

  it("waits for the provider's Retry-After before trying again", async () => {
    await rig.sims.setFaults('sms', { failNext: { count: 1, status: 429, retryAfterSeconds: 2 } });
    const id = await sendSms();
    const n = await waitFor(id, ['SENT']);
    const retrying = n.history.find((h) => h.to === 'RETRYING')!;
    const sentAt = n.history.find((h) => h.to === 'SENT')!;
    expect(Date.parse(sentAt.at) - Date.parse(retrying.at)).toBeGreaterThanOrEqual(1_900);
  });

  it('fails at once, without retrying, when the provider refuses the message', async () => {
    await rig.sims.setFaults('mailgun', { failNext: { count: 1, status: 400 } });
    const id = await sendEmail();
    const n = await waitFor(id, ['FAILED']);
    expect(n.attempts).toBe(1);
    expect(n.errorMessage).toBeTruthy();
    await expectRunFailed(id);
  });

  it('dead-letters after the last retry, and sends again when retried', async () => {
    await rig.sims.setFaults('sms', { outage: true });
    const id = await sendSms();
    const dead = await waitFor(id, ['DEAD_LETTERED']);
    expect(dead.attempts).toBe(3);
    expect(dead.errorMessage).toBeTruthy();
    await expectRunFailed(id);

    await rig.sims.setFaults('sms', { outage: false });
    const retried = await post(`/v1/notifications/${id}/retry`, {});
    expect(retried.status).toBe(202);
    const n = await waitFor(id, ['SENT']);
    expect(n.history.map((h) => h.to)).toEqual(['PENDING', 'RETRYING', 'RETRYING', 'RETRYING', 'DEAD_LETTERED', 'PENDING', 'SENT']);
    expect(await rig.sims.ledger('sms')).toHaveLength(1);
  });

  it('fails over to the secondary email provider while the primary is down', async () => {
    await rig.sims.setFaults('mailgun', { outage: true });
    const ids = [await sendEmail(), await sendEmail(), await sendEmail()];
    const sent = await Promise.all(ids.map((id) => waitFor(id, ['SENT'], 30_000)));
    expect(sent.map((n) => n.provider)).toContain('smtp');
    expect((await rig.sims.ledger('smtp')).length).toBeGreaterThan(0);
    expect(await rig.sims.ledger('mailgun')).toHaveLength(0);

    // The primary recovers: after the cool-down a probe goes to it and closes the circuit.
    await rig.sims.setFaults('mailgun', { outage: false });
    await sleep(1_600);
    const after = await waitFor(await sendEmail(), ['SENT']);
    expect(after.provider).toBe('mailgun');
  });

  it('sends attachments stored outside the workflow, byte for byte', async () => {
    const pdf = randomBytes(300_000);
    const form = new FormData();
    form.set('sender', 'orders@shop.example');
    form.set('receiver', 'jane@example.com');
    form.set('subject', 'Your invoice');
    form.set('content', 'Attached.');
    form.set('priority', 'critical');
    form.append('attachment', new Blob([pdf], { type: 'application/pdf' }), 'invoice.pdf');
    form.append('attachment', new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'items.csv');
    const response = await rig.api.request('/v1/emails', { method: 'POST', body: form });
    expect(response.status, await response.clone().text()).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(id, ['SENT']);
    const [entry] = await rig.sims.ledger('mailgun');
    const { createHash } = await import('node:crypto');
    expect(JSON.stringify(entry)).toContain(createHash('sha256').update(pdf).digest('hex'));
    expect(JSON.stringify(entry)).toContain('invoice.pdf');
    expect(JSON.stringify(entry)).toContain('items.csv');

    const tooBig = formOf({ sender: 'a@b.example', receiver: 'c@d.example', subject: 's', content: 'c' });
    tooBig.append('attachment', new Blob([randomBytes(10 * 1024 * 1024 + 1)]), 'huge.bin');
    expect((await rig.api.request('/v1/emails', { method: 'POST', body: tooBig })).status).toBe(413);
    const bad = new FormData();
    bad.set('sender', 'nobody');
    expect((await rig.api.request('/v1/emails', { method: 'POST', body: bad })).status).toBe(400);
  });
});
