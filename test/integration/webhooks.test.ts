// Outbound webhooks end to end, over real HTTP: the API registers endpoints, the engine records notification
// status changes, the projector and the endpoint workflows deliver them to the receiver simulator, signed in
// the Standard Webhooks format. Covers order per lane while the receiver fails and recovers, retries with
// Retry-After, giving up, 410 and a run of failures disabling an endpoint, secret rotation, address checks
// at registration and at connect time, one tenant's stuck endpoint not holding up another's, and a worker
// stopped mid-delivery causing at most a duplicate with the same webhook-id.
import { eq } from 'drizzle-orm';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { webhookDeliveries, webhookEndpoints } from '../../db/schema/index.js';
import { useTenantKey, newTenantKey } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { useDeliveryRig } from '../helpers/delivery.js';
import { quickRetries, smsNotification } from '../helpers/notifications.js';
import { until, waitFor } from '../helpers/wait.js';
import {
  accepted,
  bodyOf,
  jsonRequest,
  registerEndpoint,
  setReceiverFaults,
  setReceiverSecrets,
  useWebhookReceiver,
  type RegisteredEndpoint,
} from '../helpers/webhooks.js';

const rig = useDeliveryRig('whk', {
  webhooks: true,
  roles: ['delivery', 'email', 'sms', 'webhooks'],
  env: {
    // Medium-priority sends dead-letter after two quick attempts; low-priority ones retry for as long as a test needs.
    ...quickRetries('MEDIUM', 2),
    ...quickRetries('LOW', 1000),
    EMAIL_PROVIDER_SECONDARY: 'none',
    WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    // Three retries a second apart, then given up; a run of failures 8 s long disables the endpoint.
    WEBHOOK_RETRY_DELAYS_SECONDS: '1,1,1',
    WEBHOOK_DISABLE_AFTER_SECONDS: '8',
    WEBHOOK_TIMEOUT_MS: '10000',
  },
});
const receiver = useWebhookReceiver();
const tenant = useTenantKey(() => rig.api, 'webhooks');

const call = (path: string, method = 'GET', body?: unknown, auth = tenant.key) => rig.api.request(path, jsonRequest(method, body, auth));
const readJson = async <T>(path: string, auth = tenant.key): Promise<T> => {
  const response = await call(path, 'GET', undefined, auth);
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as T;
};
const register = (fields: Record<string, unknown>, auth = tenant.key) => registerEndpoint(rig.api, receiver, auth, fields);

interface Endpoint {
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
}
interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}
const deliveries = (endpoint: RegisteredEndpoint) => readJson<{ data: Delivery[] }>(`/v1/webhook-endpoints/${endpoint.id}/deliveries`).then((p) => p.data);
const endpointOf = (endpoint: RegisteredEndpoint) => readJson<Endpoint>(`/v1/webhook-endpoints/${endpoint.id}`);

async function sendTest(endpoint: RegisteredEndpoint, auth = tenant.key): Promise<Delivery> {
  const response = await call(`/v1/webhook-endpoints/${endpoint.id}/test`, 'POST', undefined, auth);
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()) as Delivery;
}

/**
 * An email notification to a fresh address, which the Mailgun simulator then reports delivered and opened:
 * the notification goes SENT, DELIVERED, OPENED.
 */
async function sendEmail(): Promise<string> {
  const to = `${unique('jane')}@example.com`;
  const response = await call('/v1/notifications', 'POST', {
    userId: unique('user'),
    type: 'EMAIL',
    templateId: 'PASSWORD_RESET',
    to,
    templateParams: { name: 'Jane', resetUrl: 'https://example.com/reset?t=1' },
  });
  expect(response.status, await response.clone().text()).toBe(202);
  const { id } = (await response.json()) as { id: string };
  const sent = await waitFor(
    'the provider accepted it',
    () => rig.sims.ledger('mailgun'),
    (l) => l.some((m) => String(m.to).includes(to)),
  );
  const messageId = String(sent.find((m) => String(m.to).includes(to))!.id);
  for (const [event, status] of [
    ['delivered', 'DELIVERED'],
    ['opened', 'OPENED'],
  ] as const) {
    await rig.sims.emitMailgunEvent(messageId, event);
    await waitFor(
      `${id} ${status}`,
      () => readJson<{ status: string }>(`/v1/notifications/${id}`),
      (n) => n.status === status,
    );
  }
  return id;
}

const notificationTypes = ['notification.sent', 'notification.delivered', 'notification.opened'];

describe('endpoints', () => {
  it('are registered with a secret shown once, listed and read without it, and refused with a reason when unusable', async () => {
    const created = await call('/v1/webhook-endpoints', 'POST', { url: `${receiver.url}/hooks/x`, eventTypes: ['notification.sent'] });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; secret: string };
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(await readJson(`/v1/webhook-endpoints/${endpoint.id}`)).not.toHaveProperty('secret');
    const listed = await readJson<{ data: { id: string }[] }>('/v1/webhook-endpoints');
    expect(listed.data.map((e) => e.id)).toContain(endpoint.id);
    const [row] = await rig.api.deps.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id));
    expect(row!.secretSealed).not.toContain(endpoint.secret.slice(6, 20));

    const refused = async (body: Record<string, unknown>, reason: string) => {
      const response = await call('/v1/webhook-endpoints', 'POST', { eventTypes: ['notification.sent'], ...body });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(((await response.json()) as { reason: string }).reason).toBe(reason);
    };
    await refused({ url: 'http://169.254.169.254/latest/meta-data' }, 'refused_address');
    await refused({ url: 'http://10.1.2.3/hooks' }, 'refused_address');
    await refused({ url: 'http://[::1]:8080/hooks' }, 'refused_address');
    // localhost is 127.0.0.1, but only the address is on the allow-list.
    await refused({ url: 'http://localhost:9/hooks' }, 'refused_address');
    await refused({ url: 'http://no-such-host.invalid/hooks' }, 'unresolvable');
    await refused({ url: `${receiver.url}/hooks/x`, mailboxId: 'mbx_not_mine' }, 'unknown_mailbox');
    await refused({ url: 'ftp://127.0.0.1/hooks' }, 'scheme');
    const badType = await call('/v1/webhook-endpoints', 'POST', { url: `${receiver.url}/hooks/x`, eventTypes: ['message.exploded'] });
    expect(badType.status).toBe(400);

    // Another tenant's endpoint is unknown to this one.
    const other = await newTenantKey(rig.api, 'webhooks-other');
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}`, 'GET', undefined, other)).status).toBe(404);
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}/test`, 'POST', undefined, other)).status).toBe(404);
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}`, 'DELETE', undefined, other)).status).toBe(404);
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}`, 'DELETE')).status).toBe(204);
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(404);
  });

  it('get a signed test event whose webhook-id is the delivery’s event id, and list the delivery', async () => {
    const endpoint = await register({ eventTypes: ['notification.sent'] });
    const queued = await sendTest(endpoint);
    const [entry] = await waitFor(
      'the test event',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 1,
    );
    expect(entry!.verified).toBe(true);
    expect(entry!.webhookId).toBe(queued.eventId);
    expect(bodyOf(entry!)).toMatchObject({ type: 'webhook.test', data: { endpointId: endpoint.id } });
    const [listed] = await waitFor(
      'the delivery recorded',
      () => deliveries(endpoint),
      (d) => d[0]?.status === 'SUCCEEDED',
    );
    expect(listed).toMatchObject({ eventId: queued.eventId, attempts: 1, lastStatus: 204, lastError: null });
  });
});

describe('notification events', () => {
  it('arrive once each, verified, in order, and order holds while the receiver fails and recovers', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    // The first two attempts fail: the lane's first event is retried and nothing behind it overtakes it.
    await setReceiverFaults(receiver, endpoint.name, { failNext: { count: 2, status: 500 } });
    const id = await sendEmail();
    const events = await waitFor(
      'sent, delivered and opened',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 3,
      60_000,
    );
    expect(events.map((e) => bodyOf(e).type)).toEqual(notificationTypes);
    expect(events.every((e) => e.verified === true && bodyOf(e).data.notificationId === id)).toBe(true);
    const ledger = receiver.ledger(endpoint.name);
    expect(ledger.slice(0, 3).map((e) => [e.webhookId, e.answeredStatus])).toEqual([
      [events[0]!.webhookId, 500],
      [events[0]!.webhookId, 500],
      [events[0]!.webhookId, 204],
    ]);
    // Each event was attempted only after the one before it succeeded.
    const firstAttempt = (webhookId: string | null) => ledger.findIndex((e) => e.webhookId === webhookId);
    const success = (webhookId: string | null) => ledger.findIndex((e) => e.webhookId === webhookId && e.answeredStatus === 204);
    expect(firstAttempt(events[1]!.webhookId)).toBeGreaterThan(success(events[0]!.webhookId));
    expect(firstAttempt(events[2]!.webhookId)).toBeGreaterThan(success(events[1]!.webhookId));
  });

  it('honour Retry-After, and give a delivery up after the schedule so its lane goes on', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    await setReceiverFaults(receiver, endpoint.name, { failNext: { count: 1, status: 503, retryAfterSeconds: 3 } });
    await sendTest(endpoint);
    const tries = await waitFor(
      'the retried test event',
      () => Promise.resolve(receiver.ledger(endpoint.name)),
      (l) => l.some((e) => e.answeredStatus === 204),
    );
    expect(Date.parse(tries[1]!.receivedAt) - Date.parse(tries[0]!.receivedAt)).toBeGreaterThanOrEqual(2_900);

    // Four attempts (the first and three retries) all fail: given up, and the lane's next event goes out.
    await setReceiverFaults(receiver, endpoint.name, { failNext: { count: 4, status: 500 } });
    await sendEmail();
    const delivered = await waitFor(
      'delivered and opened after the given-up sent',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 3,
      60_000,
    );
    expect(delivered.slice(1).map((e) => bodyOf(e).type)).toEqual(['notification.delivered', 'notification.opened']);
    const list = await deliveries(endpoint);
    expect(list.find((d) => d.eventType === 'notification.sent')).toMatchObject({ status: 'FAILED', attempts: 4, lastStatus: 500 });
  });
});

describe('every other event type', () => {
  const sendSms = async (extra: Record<string, unknown> = {}) => {
    const response = await call('/v1/notifications', 'POST', smsNotification(unique('user'), extra));
    expect(response.status, await response.clone().text()).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };
  const statusOf = (id: string, status: string) =>
    waitFor(
      `${id} ${status}`,
      () => readJson<{ status: string }>(`/v1/notifications/${id}`),
      (n) => n.status === status,
      30_000,
    );

  it('notifications failed, dead-lettered and cancelled, and a schedule firing, arrive once each, verified', async () => {
    const endpoint = await register({ eventTypes: ['notification.failed', 'notification.dead_lettered', 'notification.cancelled', 'schedule.fired'] });
    const ids = { failed: '', dead: '', cancelled: '' };
    try {
      await rig.sims.setFaults('sms', { failNext: { count: 1, status: 400 } });
      ids.failed = await sendSms();
      await statusOf(ids.failed, 'FAILED');
      await rig.sims.setFaults('sms', { outage: true });
      ids.dead = await sendSms();
      await statusOf(ids.dead, 'DEAD_LETTERED');
      ids.cancelled = await sendSms({ priority: 'LOW' });
      await statusOf(ids.cancelled, 'RETRYING');
      expect((await call(`/v1/notifications/${ids.cancelled}/cancel`, 'POST')).status).toBe(200);
      await statusOf(ids.cancelled, 'CANCELLED');
    } finally {
      await rig.sims.setFaults('sms', { outage: false });
    }
    const schedule = await call('/v1/schedules', 'POST', {
      email: { sender: 'shop@example.com', receiver: 'jane@example.com', subject: 'Tick', content: 'Every second.' },
      when: { type: 'interval', everySeconds: 1 },
    });
    expect(schedule.status, await schedule.clone().text()).toBe(201);
    const scheduleId = ((await schedule.json()) as { id: string }).id;
    try {
      const events = await waitFor(
        'failed, dead-lettered, cancelled and fired',
        () => Promise.resolve(accepted(receiver, endpoint.name).map((e) => ({ ...bodyOf(e), verified: e.verified }))),
        (a) => a.some((e) => e.type === 'schedule.fired') && a.filter((e) => e.type.startsWith('notification.')).length >= 3,
        60_000,
      );
      const notifications = events.filter((e) => e.type.startsWith('notification.'));
      expect(notifications.map((e) => [e.type, e.data.notificationId]).sort()).toEqual(
        [
          ['notification.cancelled', ids.cancelled],
          ['notification.dead_lettered', ids.dead],
          ['notification.failed', ids.failed],
        ].sort(),
      );
      expect(events.find((e) => e.type === 'schedule.fired')!.data).toMatchObject({ scheduleId, outcome: 'CREATED' });
      expect(events.every((e) => e.verified === true)).toBe(true);
    } finally {
      expect((await call(`/v1/schedules/${scheduleId}`, 'DELETE')).status).toBe(204);
    }
  });
});

describe('disabling', () => {
  it('a 410 disables the endpoint with the reason; enabling it sends what waited', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    await setReceiverFaults(receiver, endpoint.name, { failNext: { count: 1, status: 410 } });
    await sendTest(endpoint);
    const disabled = await waitFor(
      'disabled',
      () => endpointOf(endpoint),
      (e) => !e.enabled,
    );
    expect(disabled.disabledReason).toMatch(/410/);
    expect((await call(`/v1/webhook-endpoints/${endpoint.id}`, 'PATCH', { enabled: true })).status).toBe(200);
    await waitFor(
      'the test event after enabling',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 1,
    );
    expect((await endpointOf(endpoint)).disabledReason).toBeNull();
  });

  it('a run of failures as long as WEBHOOK_DISABLE_AFTER_SECONDS disables the endpoint and says why', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    await setReceiverFaults(receiver, endpoint.name, { outage: true });
    // Test events keep failing (each given up after its retries) until the run is long enough.
    const disabled = await waitFor(
      'disabled after a run of failures',
      async () => {
        const state = await endpointOf(endpoint);
        if (state.enabled && (await deliveries(endpoint)).every((d) => d.status !== 'PENDING')) await sendTest(endpoint);
        return state;
      },
      (e) => !e.enabled,
      60_000,
      500,
    );
    expect(disabled.disabledReason).toMatch(/every delivery has failed since .*HTTP 503/);
    expect(disabled.failingSince).not.toBeNull();
  });
});

describe('signing secrets', () => {
  it('rotate with an overlap in which both sign, and without one the old secret no longer verifies', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    const rotate = async (overlapSeconds: number) => {
      const response = await call(`/v1/webhook-endpoints/${endpoint.id}/secret/rotate`, 'POST', { overlapSeconds });
      expect(response.status).toBe(200);
      return ((await response.json()) as { secret: string }).secret;
    };
    const second = await rotate(3_600);
    expect(second).not.toBe(endpoint.secret);
    // The receiver still knows only the first secret: it verifies during the overlap.
    await sendTest(endpoint);
    const [first] = await waitFor(
      'signed with both',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 1,
    );
    expect(first!.verified).toBe(true);
    expect(first!.webhookSignature!.split(' ')).toHaveLength(2);

    const third = await rotate(0);
    await sendTest(endpoint);
    const [, next] = await waitFor(
      'signed with the newest only',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 2,
    );
    expect(next!.webhookSignature!.split(' ')).toHaveLength(1);
    expect(next!.verified).toBe(false);
    await setReceiverSecrets(receiver, endpoint.name, [third]);
    await sendTest(endpoint);
    const [, , last] = await waitFor(
      'verified with the new secret',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 3,
    );
    expect(last!.verified).toBe(true);
  });
});

/**
 * Points the endpoint at `url` behind the API's back (as if its name now resolved there, or it answered
 * elsewhere), sends a test event, and answers the delivery once its first attempt is recorded.
 */
async function firstAttemptAt(endpoint: RegisteredEndpoint, url: string): Promise<Delivery> {
  await rig.api.deps.db.update(webhookEndpoints).set({ url }).where(eq(webhookEndpoints.id, endpoint.id));
  await sendTest(endpoint);
  const [first] = await waitFor(
    'the first attempt recorded',
    () => deliveries(endpoint),
    (d) => (d[0]?.attempts ?? 0) >= 1,
  );
  return first!;
}

describe('addresses', () => {
  it('are checked again at connect time: an endpoint whose host became private is never called', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    // As if its name resolved elsewhere after registration: the address it names now is not allowed.
    const refused = await firstAttemptAt(endpoint, `http://10.255.255.1:9/hooks/${endpoint.name}`);
    expect(refused.lastError).toMatch(/loopback, private, link-local or metadata/);
    expect(refused.lastStatus).toBeNull();
    expect(receiver.ledger(endpoint.name)).toHaveLength(0);
  });

  it('redirects are not followed', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    // A server of its own that answers every request with a redirect to the receiver.
    const redirecting = createServer((_, response) => response.writeHead(307, { location: `${receiver.url}/hooks/${endpoint.name}` }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = redirecting.address() as AddressInfo;
      const first = await firstAttemptAt(endpoint, `http://127.0.0.1:${port}/hooks`);
      expect(first).toMatchObject({ lastStatus: 307, status: 'PENDING' });
      expect(first.lastError).toMatch(/redirect, which is not followed/);
      expect(receiver.ledger(endpoint.name)).toHaveLength(0);
    } finally {
      await call(`/v1/webhook-endpoints/${endpoint.id}`, 'DELETE');
      redirecting.close();
    }
  });
});

describe('isolation and crashes', () => {
  it("one tenant's stuck endpoint does not hold up another tenant's deliveries", async () => {
    const otherTenant = await newTenantKey(rig.api, 'webhooks-stuck');
    const stuck = await register({ eventTypes: notificationTypes }, otherTenant);
    const healthy = await register({ eventTypes: notificationTypes });
    await setReceiverFaults(receiver, stuck.name, { hang: true });
    await sendTest(stuck, otherTenant);
    await until('the stuck endpoint holds a request', () => Promise.resolve(receiver.ledger(stuck.name).length > 0));
    await sendTest(healthy);
    await waitFor(
      "the healthy tenant's event",
      () => Promise.resolve(accepted(receiver, healthy.name)),
      (a) => a.length === 1,
    );
    // Delivered while the other endpoint was still holding its request unanswered.
    expect(receiver.ledger(stuck.name)[0]).toMatchObject({ answeredStatus: null, abandoned: false });
    await setReceiverFaults(receiver, stuck.name, { hang: false });
  });

  it('a worker stopped mid-delivery causes at most a duplicate, with the same webhook-id', async () => {
    const endpoint = await register({ eventTypes: notificationTypes });
    await setReceiverFaults(receiver, endpoint.name, { hangNext: { count: 1 } });
    const queued = await sendTest(endpoint);
    await until('the request is held', () => Promise.resolve(receiver.ledger(endpoint.name).length > 0));
    await rig.stopWorkers();
    await rig.startWorkers();
    const [entry] = await waitFor(
      'delivered after the restart',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length === 1,
      60_000,
    );
    expect(entry!.webhookId).toBe(queued.eventId);
    expect(new Set(receiver.ledger(endpoint.name).map((e) => e.webhookId))).toEqual(new Set([queued.eventId]));
    const [row] = await rig.api.deps.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, queued.eventId));
    expect(row!.status).toBe('SUCCEEDED');
  });
});
