// Determinism: the notification workflow replays histories recorded from real runs (sent first time, sent
// after transient failures, dead-lettered, failed permanently, and a retry's new run). The committed ones
// (test/fixtures/histories/notification-*.json) come from an earlier version of the code, so a change that
// breaks replay of running notifications fails here. `RECORD_HISTORIES=1` writes fresh ones from the
// current code (into `HISTORIES_DIR`, default that folder).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { testConfig, unique } from '../helpers/config.js';
import { notificationClient, smsNotification } from '../helpers/notifications.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { itReplaysCommittedHistories, recordHistories, replay } from '../helpers/histories.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';

describe('notification workflow replay', () => {
  itReplaysCommittedHistories('notification-', 4);

  describe('histories recorded now', () => {
    let api: TestApi;
    let sims: ProviderSimulators;
    let workers: RunningWorkers;
    const env: Record<string, string> = {
      TASK_QUEUE_PREFIX: `${unique('rpl')}-`,
      RATE_LIMIT_USER_COUNT: '1000',
      EMAIL_PROVIDER_SECONDARY: 'none',
      NOTIFICATION_MAX_ATTEMPTS_MEDIUM: '3',
      NOTIFICATION_RETRY_INITIAL_MS_MEDIUM: '100',
      NOTIFICATION_RETRY_MAX_MS_MEDIUM: '200',
    };
    beforeAll(async () => {
      api = await startTestApi(env);
      sims = await startProviderSimulators({});
      Object.assign(env, sims.env);
      workers = await startRoleWorkers(testConfig(env), ['delivery', 'email', 'sms']);
    }, 60_000);
    afterAll(async () => {
      await workers?.stop();
      await sims?.close();
      await api?.close();
    });

    it('replays a sent, a retried, a dead-lettered, a failed and a re-run notification', async () => {
      const c = notificationClient(api);
      const email = () => ({
        userId: unique('user'),
        type: 'EMAIL',
        templateId: 'ORDER_SHIPPED_CONFIRMATION',
        to: `${unique('r')}@example.com`,
        templateParams: { name: 'J', orderId: 'A1', itemName: 'L', trackingUrl: 'https://t.example/1' },
      });
      const submit = async (body: unknown) => (await (await c.post('/v1/notifications', body)).json()) as { id: string; workflowId: string };
      const settle = async (workflowId: string) => {
        await api.deps.temporal.workflow
          .getHandle(workflowId)
          .result()
          .catch(() => undefined);
      };

      const sent = await submit(email());
      await settle(sent.workflowId);
      await sims.setFaults('sms', { failNext: { count: 2, status: 503 } });
      const retried = await submit(smsNotification());
      await settle(retried.workflowId);
      await sims.setFaults('sms', { outage: true });
      const dead = await submit(smsNotification());
      await c.waitFor(dead.id, ['DEAD_LETTERED']);
      await settle(dead.workflowId);
      const deadRun = (await api.deps.temporal.workflow.getHandle(dead.workflowId).describe()).runId;
      await sims.setFaults('sms', { outage: false });
      expect((await c.post(`/v1/notifications/${dead.id}/retry`, {})).status).toBe(202);
      await c.waitFor(dead.id, ['SENT']);
      await settle(dead.workflowId);
      await sims.setFaults('mailgun', { failNext: { count: 1, status: 400 } });
      const failed = await submit(email());
      await c.waitFor(failed.id, ['FAILED']);
      await settle(failed.workflowId);

      const handle = (workflowId: string, runId?: string) => api.deps.temporal.workflow.getHandle(workflowId, runId);
      const recorded = [
        { name: 'notification-sent', workflowId: sent.workflowId, history: await handle(sent.workflowId).fetchHistory() },
        { name: 'notification-retried', workflowId: retried.workflowId, history: await handle(retried.workflowId).fetchHistory() },
        { name: 'notification-dead-lettered', workflowId: dead.workflowId, history: await handle(dead.workflowId, deadRun).fetchHistory() },
        { name: 'notification-dead-lettered-retry', workflowId: dead.workflowId, history: await handle(dead.workflowId).fetchHistory() },
        { name: 'notification-failed', workflowId: failed.workflowId, history: await handle(failed.workflowId).fetchHistory() },
      ];
      expect(await replay(recorded)).toEqual([]);
      recordHistories(recorded);
    }, 120_000);
  });
});
