// The webhook receiver's contract: it records every attempt, verifies Standard Webhooks signatures against
// an endpoint's secrets, and answers what the faults say (statuses, slow answers, no answer), per endpoint.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/helpers/wait.js';
import { startWebhookReceiver, type AcceptedEvent, type ReceivedWebhook, type WebhookReceiver } from './server.js';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const secret = newSecret();

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver({});
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(async () => {
  await control('POST', 'reset');
});

interface Delivery {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/** A webhook as Mailflow sends it, signed with `signingSecret`. */
function delivery(signingSecret: string, id = `msg_${randomBytes(6).toString('hex')}`): Delivery {
  const body = JSON.stringify({ type: 'message.moved', timestamp: new Date().toISOString(), data: { messageId: 'm1', folder: 'Archive' } });
  const at = new Date();
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(signingSecret).sign(id, at, body),
    },
  };
}

const send = (endpoint: string, d: Delivery, signal?: AbortSignal) =>
  fetch(`${receiver.url}/hooks/${endpoint}`, { method: 'POST', headers: d.headers, body: d.body, ...(signal ? { signal } : {}) });

async function control(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${receiver.url}/_control/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

const setSecrets = async (endpoint: string, secrets: string[]) => expect((await control('PUT', `endpoints/${endpoint}/secrets`, { secrets })).status).toBe(200);
const setFaults = async (endpoint: string, faults: unknown) => expect((await control('PUT', `endpoints/${endpoint}/faults`, faults)).status).toBe(200);

const events = async (endpoint: string) => (await (await control('GET', `endpoints/${endpoint}/events`)).json()) as AcceptedEvent[];

/** The endpoint's ledger entry for this webhook-id once `done` holds for it. */
const entryOnce = (endpoint: string, id: string, done: (e: ReceivedWebhook) => boolean) =>
  waitUntil(`${endpoint} ${id}`, () => Promise.resolve(receiver.ledger(endpoint).find((e) => e.webhookId === id && done(e))), 10_000, 10);

describe('webhook receiver: signatures', () => {
  it('records a request signed with a registered secret as verified, and lists it among the endpoint’s events', async () => {
    await setSecrets('demo', [newSecret(), secret]);
    const d = delivery(secret);
    expect((await send('demo', d)).status).toBe(204);
    expect(receiver.ledger('demo')).toEqual([
      expect.objectContaining({
        endpoint: 'demo',
        webhookId: d.id,
        webhookTimestamp: d.headers['webhook-timestamp'],
        webhookSignature: d.headers['webhook-signature'],
        body: d.body,
        type: 'message.moved',
        verified: true,
        answeredStatus: 204,
        abandoned: false,
      }),
    ]);
    expect(await events('demo')).toEqual([{ id: d.id, type: 'message.moved', verified: true, data: { messageId: 'm1', folder: 'Archive' } }]);
  });

  it('says false for a wrong secret or a changed body, and null when the endpoint has no secret', async () => {
    await setSecrets('demo', [secret]);
    const wrong = delivery(newSecret());
    const changed = delivery(secret);
    await send('demo', wrong);
    await send('demo', { ...changed, body: changed.body.replace('Archive', 'Inbox') });
    await send('no-secret', delivery(secret));
    expect(receiver.ledger().map((e) => [e.endpoint, e.verified, e.answeredStatus])).toEqual([
      ['demo', false, 204],
      ['demo', false, 204],
      ['no-secret', null, 204],
    ]);
  });

  it('refuses a secret that is not one', async () => {
    expect((await control('PUT', 'endpoints/demo/secrets', { secrets: ['whsec_not base64!'] })).status).toBe(400);
    expect((await control('PUT', 'endpoints/demo/secrets', { secret })).status).toBe(400);
  });
});

describe('webhook receiver: faults', () => {
  it('records a refused attempt and its retry with the same webhook-id, and the event once', async () => {
    await setFaults('demo', { failNext: { count: 1, status: 500, retryAfterSeconds: 3 } });
    const d = delivery(secret);
    const refused = await send('demo', d);
    expect(refused.status).toBe(500);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect((await send('demo', d)).status).toBe(204);
    expect(receiver.ledger('demo').map((e) => [e.webhookId, e.answeredStatus])).toEqual([
      [d.id, 500],
      [d.id, 204],
    ]);
    expect(await events('demo')).toHaveLength(1);
  });

  it('answers 410 for an endpoint that is gone', async () => {
    await setFaults('gone', { failNext: { count: 1, status: 410 } });
    expect((await send('gone', delivery(secret))).status).toBe(410);
    expect(receiver.ledger('gone')[0]?.answeredStatus).toBe(410);
    expect(await events('gone')).toEqual([]);
  });

  it('keeps one endpoint’s faults to itself', async () => {
    await setFaults('tenant-a', { outage: true });
    expect((await send('tenant-a', delivery(secret))).status).toBe(503);
    expect((await send('tenant-b', delivery(secret))).status).toBe(204);
    expect(await (await control('GET', 'endpoints/tenant-a/faults')).json()).toMatchObject({ outage: true });
    expect(await (await control('GET', 'endpoints/tenant-b/faults')).json()).toMatchObject({ outage: false });
    const ledger = (await (await control('GET', 'ledger?endpoint=tenant-a')).json()) as ReceivedWebhook[];
    expect(ledger.map((e) => [e.endpoint, e.answeredStatus])).toEqual([['tenant-a', 503]]);
  });

  it('applies the receiver’s own faults to every endpoint, and reset clears faults and secrets', async () => {
    expect((await control('PUT', 'faults', { failNext: { count: 2, status: 502 } })).status).toBe(200);
    expect([(await send('tenant-a', delivery(secret))).status, (await send('tenant-b', delivery(secret))).status]).toEqual([502, 502]);
    expect((await control('PUT', 'faults', { hang: 'yes' })).status).toBe(400);
    await setSecrets('demo', [secret]);
    await setFaults('demo', { outage: true });
    await control('POST', 'reset');
    expect((await send('demo', delivery(secret))).status).toBe(204);
    expect(receiver.ledger('demo')[0]?.verified).toBeNull();
  });

  it('holds a request unanswered until the client gives up; the retry is answered', async () => {
    await setFaults('slow', { hangNext: { count: 1 } });
    const d = delivery(secret);
    const client = new AbortController();
    const first = send('slow', d, client.signal);
    const held = await entryOnce('slow', d.id, () => true);
    expect(held.answeredStatus).toBeNull();
    client.abort();
    await expect(first).rejects.toThrow();
    const abandoned = await entryOnce('slow', d.id, (e) => e.abandoned);
    expect(abandoned.answeredStatus).toBeNull();
    expect((await send('slow', d)).status).toBe(204);
    expect(await events('slow')).toMatchObject([{ id: d.id }]);
  });

  it('notes a client that times out during a slow answer', async () => {
    await setFaults('slow', { latencyMs: 60_000 });
    const d = delivery(secret);
    await expect(send('slow', d, AbortSignal.timeout(200))).rejects.toThrow();
    expect(await entryOnce('slow', d.id, (e) => e.abandoned)).toMatchObject({ answeredStatus: null });
  });

  it('refuses a body over 1 MB', async () => {
    const d = delivery(secret);
    expect((await send('demo', { ...d, body: 'x'.repeat(1024 * 1024 + 1) })).status).toBe(413);
  });
});

describe('webhook receiver: closing', () => {
  it('ends a request it is holding', async () => {
    const own = await startWebhookReceiver({});
    await fetch(`${own.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hang: true }) });
    const d = delivery(secret);
    const pending = fetch(`${own.url}/hooks/demo`, { method: 'POST', headers: d.headers, body: d.body });
    await waitUntil('the held request', () => Promise.resolve(own.ledger('demo')[0]), 10_000, 10);
    await own.close();
    await expect(pending).rejects.toThrow();
    await waitUntil('the handler to see the connection closed', () => Promise.resolve(own.ledger('demo')[0]?.abandoned || undefined), 10_000, 10);
  });
});
