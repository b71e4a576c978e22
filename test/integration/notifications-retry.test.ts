// POST /v1/notifications/{id}/retry always leaves exactly one live run behind a PENDING row, or answers 409.
// The delivery workflow worker here is the real workflow code with a dead-letter activity that can be held
// after it has written DEAD_LETTERED: the run is then open but about to fail, the window the retry must survive.
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { transitionStatus } from '../../lib/notifications/status.js';
import { notificationWorkflowQueue } from '../../lib/notifications/start-workflow.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { testConfig, unique } from '../helpers/config.js';
import { notificationClient, signedWebhook, smsNotification, WEBHOOK_SIGNING_KEY } from '../helpers/notifications.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { installQuietRuntime, workflowBundle } from '../helpers/temporal.js';
import { deferred } from '../helpers/wait.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';

let api: TestApi;
let sims: ProviderSimulators;
let senders: RunningWorkers;
let connection: NativeConnection;
let delivery: Worker;
let deliveryRun: Promise<void>;
const env: Record<string, string> = {
  TASK_QUEUE_PREFIX: `${unique('rty')}-`,
  MAILGUN_WEBHOOK_SIGNING_KEY: WEBHOOK_SIGNING_KEY,
  RATE_LIMIT_USER_COUNT: '1000',
  NOTIFICATION_MAX_ATTEMPTS_MEDIUM: '2',
  NOTIFICATION_RETRY_INITIAL_MS_MEDIUM: '100',
  NOTIFICATION_RETRY_MAX_MS_MEDIUM: '200',
  EMAIL_PROVIDER_SECONDARY: 'none',
};

/** A gate the dead-letter activity waits on after writing DEAD_LETTERED, while `hold` is set. */
let hold: { written: ReturnType<typeof deferred<string>>; release: ReturnType<typeof deferred<void>> } | undefined;

beforeAll(async () => {
  api = await startTestApi(env);
  sims = await startProviderSimulators({ webhookUrl: `${api.url}/v1/webhooks/mailgun`, webhookSigningKey: WEBHOOK_SIGNING_KEY });
  Object.assign(env, sims.env);
  senders = await startRoleWorkers(testConfig(env), ['email', 'sms']);
  installQuietRuntime();
  connection = await NativeConnection.connect({ address: inject('services').TEMPORAL_ADDRESS });
  delivery = await Worker.create({
    connection,
    taskQueue: notificationWorkflowQueue(testConfig(env), 'medium'),
    workflowBundle: workflowBundle(),
    activities: {
      async deadLetterNotification(input: { notificationId: string; error: string }) {
        await transitionStatus(api.deps.db, input.notificationId, 'DEAD_LETTERED', { reason: 'retries exhausted', errorMessage: input.error });
        const gate = hold;
        if (gate) {
          gate.written.resolve(input.notificationId);
          await gate.release.promise;
        }
      },
    },
  });
  deliveryRun = delivery.run();
}, 60_000);
afterAll(async () => {
  hold?.release.resolve();
  delivery?.shutdown();
  await deliveryRun;
  await connection?.close();
  await senders?.stop();
  await sims?.close();
  await api?.close();
});
beforeEach(async () => {
  await sims.resetAll();
});

const email = (to: string) => ({
  userId: unique('user'),
  type: 'EMAIL',
  templateId: 'ORDER_SHIPPED_CONFIRMATION',
  to,
  templateParams: { name: 'Jane', orderId: 'ABC123', itemName: 'Laptop', trackingUrl: 'https://t.example/ABC123' },
});

describe('POST /v1/notifications/{id}/retry', () => {
  it('sends again a notification that a failed webhook moved to FAILED after its run completed', async () => {
    const c = notificationClient(api);
    const address = `${unique('jane')}@example.com`;
    const created = await c.post('/v1/notifications', email(address));
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const sent = await c.waitFor(id, ['SENT']);
    const handle = api.deps.temporal.workflow.getHandle(sent.workflowId);
    await handle.result();

    const bounce = signedWebhook(sent.providerMessageId!, 'failed', {
      severity: 'permanent',
      reason: 'bounce',
      'delivery-status': { description: 'mailbox full' },
    });
    expect((await c.post('/v1/webhooks/mailgun', bounce)).status).toBe(200);
    expect((await c.get(id)).status).toBe('FAILED');
    // The bounce suppressed the address: the owner takes it off the list before sending again.
    expect((await api.request(`/v1/suppressions/${encodeURIComponent(address)}`, { method: 'DELETE' })).status).toBe(204);

    const retried = await c.post(`/v1/notifications/${id}/retry`, {});
    expect(retried.status, await retried.clone().text()).toBe(202);
    expect(await retried.json()).toMatchObject({ id, status: 'PENDING' });
    const again = await c.waitFor(id, ['SENT']);
    expect(again.history.map((h) => h.to)).toEqual(['PENDING', 'SENT', 'FAILED', 'PENDING', 'SENT']);
    // SENT is written by the run's last activity; the run completes one workflow task later.
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    // Sent again for real: a new provider idempotency key, so the provider does not drop it as a repeat.
    const ledger = await sims.ledger('mailgun');
    expect(ledger.map((e) => e.idempotencyKey)).toEqual([`mailflow-${id}`, `mailflow-${id}-resend-1`]);
    expect(again.providerMessageId).not.toBe(sent.providerMessageId);
  });

  it('starts a new run when the previous one has dead-lettered but not yet closed, and exactly one run is left', async () => {
    const c = notificationClient(api);
    await sims.setFaults('sms', { outage: true });
    hold = { written: deferred<string>(), release: deferred<void>() };
    const created = await c.post('/v1/notifications', smsNotification());
    const { id, workflowId } = (await created.json()) as { id: string; workflowId: string };
    expect(await hold.written.promise).toBe(id);
    // The old run is open, blocked just after writing DEAD_LETTERED.
    const handle = api.deps.temporal.workflow.getHandle(workflowId);
    const oldRun = (await handle.describe()).runId;
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await sims.setFaults('sms', { outage: false });

    const retried = await c.post(`/v1/notifications/${id}/retry`, {});
    expect(retried.status, await retried.clone().text()).toBe(202);
    const gate = hold;
    hold = undefined;
    gate.release.resolve();

    const n = await c.waitFor(id, ['SENT']);
    expect(n.history.map((h) => h.to)).toEqual(['PENDING', 'RETRYING', 'RETRYING', 'DEAD_LETTERED', 'PENDING', 'SENT']);
    const latest = await handle.describe();
    expect(latest.runId).not.toBe(oldRun);
    expect(['RUNNING', 'COMPLETED']).toContain(latest.status.name);
    await handle.result();
    expect((await api.deps.temporal.workflow.getHandle(workflowId, oldRun).describe()).status.name).toBe('TERMINATED');
    expect(await sims.ledger('sms')).toHaveLength(1);
  });

  it('answers 409 to a second retry of the same failure (one run), and to a retry of a notification that is not failed', async () => {
    const c = notificationClient(api);
    await sims.setFaults('sms', { outage: true });
    const created = await c.post('/v1/notifications', smsNotification());
    const { id, workflowId } = (await created.json()) as { id: string; workflowId: string };
    await c.waitFor(id, ['DEAD_LETTERED']);
    await expect(api.deps.temporal.workflow.getHandle(workflowId).result()).rejects.toThrow();
    await sims.setFaults('sms', { latencyMs: 1_000, outage: false });
    const answers = await Promise.all([1, 2, 3].map(() => c.post(`/v1/notifications/${id}/retry`, {})));
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409, 409]);
    await c.waitFor(id, ['SENT']);
    expect((await c.post(`/v1/notifications/${id}/retry`, {})).status).toBe(409);
    expect(await sims.ledger('sms')).toHaveLength(1);
  });
});
