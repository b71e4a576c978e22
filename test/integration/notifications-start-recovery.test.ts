// Admission commits the notification (with its outbox row) before it starts the workflow. A start that fails
// after the commit is forced here with a Temporal client whose interceptor refuses every start; the row must
// then be recovered — by the sweep, or by a repeat of the request — and sent exactly once, also when the
// recovery runs twice at once or after the run has already completed.
import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationStarts } from '../../db/schema/index.js';
import { admitNotification, type AdmissionRequest } from '../../lib/notifications/admission.js';
import { NotificationStarts, recoverUnstartedNotifications, runStartRecovery } from '../../lib/notifications/starts.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { testConfig, unique } from '../helpers/config.js';
import { notificationClient } from '../helpers/notifications.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';

let api: TestApi;
let refusing: TestApi;
let sims: ProviderSimulators;
let workers: RunningWorkers;
const env: Record<string, string> = { TASK_QUEUE_PREFIX: `${unique('rec')}-`, RATE_LIMIT_USER_COUNT: '1000' };

/** Temporal refusing every start, as when it is unreachable after the commit. */
const refuse: WorkflowClientInterceptor = {
  start: () => Promise.reject(new Error('forced: Temporal refused the start')),
  startWithDetails: () => Promise.reject(new Error('forced: Temporal refused the start')),
};

beforeAll(async () => {
  api = await startTestApi(env);
  sims = await startProviderSimulators({});
  Object.assign(env, sims.env);
  workers = await startRoleWorkers(testConfig(env), ['delivery', 'sms']);
  // A second API process whose starts all fail (same database, same Temporal for everything else).
  refusing = await startTestApi(env);
  const temporal = new Client({
    connection: refusing.deps.temporal.connection,
    namespace: refusing.deps.config.TEMPORAL_NAMESPACE,
    interceptors: { workflow: [refuse] },
  });
  refusing.deps.temporal = temporal;
  refusing.deps.notificationStarts = new NotificationStarts({ db: refusing.deps.db, temporal, config: refusing.deps.config });
}, 60_000);
afterAll(async () => {
  await workers?.stop();
  await sims?.close();
  await refusing?.close();
  await api?.close();
});

const smsRequest = (userId: string) => ({
  userId,
  type: 'SMS',
  templateId: 'ORDER_SHIPPED_SMS',
  to: '+15550199',
  templateParams: { orderId: 'R1', trackingUrl: 'https://t.example/r' },
});

async function outboxRow(id: string) {
  const [row] = await api.deps.db.select().from(notificationStarts).where(eq(notificationStarts.notificationId, id));
  return row;
}
const outboxHas = async (id: string) => (await outboxRow(id)) !== undefined;

async function sentTimes(id: string): Promise<number> {
  return (await sims.ledger('sms')).filter((m) => JSON.stringify(m).includes(id)).length;
}

async function workflowExists(workflowId: string): Promise<boolean> {
  return api.deps.temporal.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      () => true,
      () => false,
    );
}

describe('a notification whose workflow start failed after commit', () => {
  it('is stored with its outbox row, answered 202, and started by the sweep: sent exactly once', async () => {
    const response = await notificationClient(refusing).post('/v1/notifications', smsRequest(unique('user')));
    expect(response.status).toBe(202);
    const { id, workflowId } = (await response.json()) as { id: string; workflowId: string };
    await refusing.deps.notificationStarts.drain();
    const pending = await outboxRow(id);
    expect(pending).toBeDefined();
    expect(await workflowExists(workflowId)).toBe(false);

    // Two sweeps at once (two API processes): the rows are locked, so one starts it and the other skips it.
    const deps = { db: api.deps.db, temporal: api.deps.temporal, config: api.deps.config };
    const recovered = await Promise.all([
      recoverUnstartedNotifications(deps, { olderThanSeconds: 0 }),
      recoverUnstartedNotifications(deps, { olderThanSeconds: 0 }),
    ]);
    expect(recovered[0] + recovered[1]).toBeGreaterThanOrEqual(1);
    expect(await outboxHas(id)).toBe(false);
    const sent = await notificationClient(api).waitFor(id, ['SENT']);
    expect(sent.attempts).toBe(1);
    await api.deps.temporal.workflow.getHandle(workflowId).result();
    const runId = (await api.deps.temporal.workflow.getHandle(workflowId).describe()).runId;

    // The process died after the start but before it cleared the row: the next sweep's start finds the
    // completed run, starts nothing, and clears the row.
    await api.deps.db.insert(notificationStarts).values(pending!);
    expect(await recoverUnstartedNotifications(deps, { olderThanSeconds: 0 })).toBe(1);
    expect(await outboxHas(id)).toBe(false);
    expect((await api.deps.temporal.workflow.getHandle(workflowId).describe()).runId).toBe(runId);
    expect(await sentTimes(id)).toBe(1);
  });

  it('is started by a repeat of the request with the same Idempotency-Key', async () => {
    const body = smsRequest(unique('user'));
    const key = { 'idempotency-key': unique('key') };
    const first = await notificationClient(refusing).post('/v1/notifications', body, key);
    expect(first.status).toBe(202);
    const { id, workflowId } = (await first.json()) as { id: string; workflowId: string };
    await refusing.deps.notificationStarts.drain();
    expect(await workflowExists(workflowId)).toBe(false);

    const repeat = await notificationClient(api).post('/v1/notifications', body, key);
    expect(repeat.status).toBe(200);
    expect(await repeat.json()).toMatchObject({ id, duplicate: true });
    await notificationClient(api).waitFor(id, ['SENT']);
    await api.deps.notificationStarts.drain();
    expect(await outboxHas(id)).toBe(false);
    expect(await sentTimes(id)).toBe(1);
  });

  it('awaited starts (schedule firings) leave the row too when the start fails, and the sweep sends it', async () => {
    const failing = new Client({
      connection: api.deps.temporal.connection,
      namespace: api.deps.config.TEMPORAL_NAMESPACE,
      interceptors: { workflow: [refuse] },
    });
    const request: AdmissionRequest = {
      scope: 'admin',
      fingerprint: {},
      userId: unique('user'),
      channel: 'SMS',
      priority: 'critical',
      recipients: ['+15550198'],
      text: 'Your code is 123456',
    };
    const { notification, created } = await admitNotification(
      { db: api.deps.db, temporal: failing, config: api.deps.config, encryptor: api.deps.encryptor },
      request,
    );
    expect(created).toBe(true);
    expect(await outboxHas(notification.id)).toBe(true);
    await recoverUnstartedNotifications({ db: api.deps.db, temporal: api.deps.temporal, config: api.deps.config }, { olderThanSeconds: 0 });
    await notificationClient(api).waitFor(notification.id, ['SENT']);
    expect(await sentTimes(notification.id)).toBe(1);
  });

  it('a batch admitted by an API whose starts all fail (as one that died after its commit) is started by the next API: each item sent exactly once', async () => {
    const items = Array.from({ length: 45 }, (_, i) => ({
      ...smsRequest(unique('user')),
      priority: (['HIGH', 'MEDIUM', 'LOW'] as const)[i % 3],
      idempotencyKey: unique('batch-key'),
    }));
    const response = await notificationClient(refusing).post('/v1/notifications/batch', { items });
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as { results: { outcome: string; id: string }[] };
    expect(results.map((r) => r.outcome)).toEqual(items.map(() => 'accepted'));
    const ids = results.map((r) => r.id);
    await refusing.deps.notificationStarts.drain();
    const waiting = await api.deps.db.select().from(notificationStarts).where(inArray(notificationStarts.notificationId, ids));
    expect(waiting).toHaveLength(items.length);

    // The next API process: its recovery claims the rows and hands them to its own starts.
    const deps = { db: api.deps.db, temporal: api.deps.temporal, config: api.deps.config };
    const starts = new NotificationStarts(deps);
    const recovery = runStartRecovery(deps, starts, 1);
    try {
      for (const id of ids) await notificationClient(api).waitFor(id, ['SENT'], 60_000);
    } finally {
      await recovery.stop();
    }
    await starts.drain();
    expect(await api.deps.db.select().from(notificationStarts).where(inArray(notificationStarts.notificationId, ids))).toHaveLength(0);
    for (const id of ids) expect(await sentTimes(id)).toBe(1);
  }, 120_000);
});
