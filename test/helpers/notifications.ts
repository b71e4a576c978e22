// Shared pieces of the notification tests: signed Mailgun webhooks, polling a notification's status.
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestApi } from './api.js';
import { unique } from './config.js';

/** An order-shipped SMS, for a user of its own unless named, with `extra` fields over it. */
export const smsNotification = (userId = unique('user'), extra: Record<string, unknown> = {}) => ({
  userId,
  type: 'SMS',
  templateId: 'ORDER_SHIPPED_SMS',
  to: '+15550100',
  templateParams: { orderId: 'A1', trackingUrl: 'https://t.example/1' },
  ...extra,
});

export const WEBHOOK_SIGNING_KEY = 'test-webhook-signing-key-0123456789';

export interface NotificationBody {
  id: string;
  status: string;
  attempts: number;
  recipient: string;
  provider: string | null;
  providerMessageId: string | null;
  errorMessage: string | null;
  workflowId: string;
  sentAt: string | null;
  deliveredAt: string | null;
  openedAt: string | null;
  late: boolean;
  history: { from: string | null; to: string; reason: string | null; at: string }[];
}

/** A Mailgun webhook for `messageId`, signed with `WEBHOOK_SIGNING_KEY` at `timestamp` (seconds). */
export function signedWebhook(messageId: string, event: string, extra: Record<string, unknown> = {}, timestamp = Math.floor(Date.now() / 1000)) {
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', WEBHOOK_SIGNING_KEY).update(`${timestamp}${token}`).digest('hex');
  return {
    signature: { timestamp: String(timestamp), token, signature },
    'event-data': { id: randomBytes(11).toString('hex'), event, timestamp: Date.now() / 1000, message: { headers: { 'message-id': messageId } }, ...extra },
  };
}

/** `api` may be a getter, for a client made before the API is started (in a file's beforeAll). */
export function notificationClient(api: Pick<TestApi, 'request'> | (() => Pick<TestApi, 'request'>), auth?: string) {
  const request: TestApi['request'] = (path, init) => (typeof api === 'function' ? api() : api).request(path, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), ...(auth ? { auth } : {}) });
  const get = async (id: string) => (await (await request(`/v1/notifications/${id}`, auth ? { auth } : {})).json()) as NotificationBody;
  async function waitFor(id: string, statuses: string[], timeoutMs = 20_000): Promise<NotificationBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = await get(id);
      if (statuses.includes(n.status)) return n;
      if (Date.now() > deadline) throw new Error(`notification ${id} is ${n.status}, expected ${statuses.join('|')}: ${JSON.stringify(n)}`);
      await sleep(100);
    }
  }
  return { post, get, waitFor };
}

/** Settings for a priority's retries to come quickly (every 200–400 ms), `attempts` in all: a test's dead letters in a second. */
export const quickRetries = (priority: 'MEDIUM' | 'LOW' | 'CRITICAL', attempts: number): Record<string, string> => ({
  [`NOTIFICATION_MAX_ATTEMPTS_${priority}`]: String(attempts),
  [`NOTIFICATION_RETRY_INITIAL_MS_${priority}`]: '200',
  [`NOTIFICATION_RETRY_MAX_MS_${priority}`]: '400',
});
