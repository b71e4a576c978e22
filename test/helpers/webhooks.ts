// Outbound webhook tests: the receiver simulator (a real HTTP server with a ledger and faults), and
// endpoints registered through the API that point at it.
import { expect, onTestFinished } from 'vitest';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../../simulators/webhook-receiver/server.js';
import type { TestApi } from './api.js';
import { unique } from './config.js';
import { useRig } from './rig.js';

export type { ReceivedWebhook, WebhookReceiver };

export const useWebhookReceiver = (): WebhookReceiver => useRig(() => startWebhookReceiver({ host: '127.0.0.1' }));

export interface RegisteredEndpoint {
  id: string;
  secret: string;
  /** The receiver's name for it: its ledger entries carry it. */
  name: string;
}

type Api = Pick<TestApi, 'request'>;

export const jsonRequest = (method: string, body?: unknown, auth?: string) => ({
  method,
  headers: { 'content-type': 'application/json' },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  ...(auth === undefined ? {} : { auth }),
});

/**
 * Registers an endpoint at the receiver under a new name (with `auth`, or the admin key), and tells the
 * receiver its secret. It is deleted when the test ends: the test database is shared, and a tenant with
 * an endpoint has every change it records copied for webhooks.
 */
export async function registerEndpoint(
  api: Api,
  receiver: WebhookReceiver,
  auth: string | undefined,
  fields: Record<string, unknown>,
): Promise<RegisteredEndpoint> {
  const name = unique('hook');
  const response = await api.request('/v1/webhook-endpoints', jsonRequest('POST', { url: `${receiver.url}/hooks/${name}`, ...fields }, auth));
  expect(response.status, await response.clone().text()).toBe(201);
  const { id, secret } = (await response.json()) as { id: string; secret: string };
  onTestFinished(async () => {
    await api.request(`/v1/webhook-endpoints/${id}`, jsonRequest('DELETE', undefined, auth));
  });
  await setReceiverSecrets(receiver, name, [secret]);
  return { id, secret, name };
}

export async function setReceiverSecrets(receiver: WebhookReceiver, name: string, secrets: string[]): Promise<void> {
  const response = await fetch(`${receiver.url}/_control/endpoints/${name}/secrets`, { method: 'PUT', body: JSON.stringify({ secrets }) });
  expect(response.status).toBe(200);
}

export async function setReceiverFaults(receiver: WebhookReceiver, name: string, faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${receiver.url}/_control/endpoints/${name}/faults`, { method: 'PUT', body: JSON.stringify(faults) });
  expect(response.status, await response.clone().text()).toBe(200);
}

/** The events the endpoint answered 2xx to, once per webhook-id, in arrival order. */
export const accepted = (receiver: WebhookReceiver, name: string) =>
  receiver
    .ledger(name)
    .filter(
      (e, i, all) =>
        e.answeredStatus !== null &&
        e.answeredStatus < 300 &&
        !e.abandoned &&
        all.findIndex((f) => f.webhookId === e.webhookId && f.answeredStatus !== null && f.answeredStatus < 300) === i,
    );

export const bodyOf = (entry: ReceivedWebhook) => JSON.parse(entry.body) as { type: string; timestamp: string; data: Record<string, unknown> };
