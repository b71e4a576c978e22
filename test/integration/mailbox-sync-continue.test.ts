// What a run hands the next when it continues as new, with runs of 100 history events: a push subscription
// Graph removed is not taken back from the record, and a re-link that arrives as the history fills is not
// lost to the REAUTH_REQUIRED still on the mailbox's row. The moment is forced: the run is idle (paused, or
// waiting for a re-link) and signals fill its history, one workflow task each.
import type { WorkflowHandle } from '@temporalio/client';
import { expect, it } from 'vitest';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { syncNowSignal, syncProgressQuery, type mailboxSync } from '../../workflows/mailbox-sync.js';
import { until, withSyncRig, type SyncRig } from '../helpers/mailbox-sync.js';

const EVENTS_PER_RUN = 100;
/** A signal's workflow task: signaled, task scheduled, task started; then task completed. */
const EVENTS_TO_TASK_START = 3;

type Handle = WorkflowHandle<typeof mailboxSync>;

/** The current run once it waits with nothing scheduled (no timer, no activity, its last task completed). */
async function idleRun(rig: SyncRig, mailboxId: string): Promise<{ runId: string; length: number }> {
  let idle: { runId: string; length: number } | undefined;
  await until(
    'the run to be idle',
    async () => {
      const { runId } = await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).describe();
      const events = (await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId), runId).fetchHistory()).events ?? [];
      const count = (has: (e: (typeof events)[number]) => unknown) => events.filter(has).length;
      const timers = count((e) => e.timerStartedEventAttributes) - count((e) => e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes);
      const activities =
        count((e) => e.activityTaskScheduledEventAttributes) -
        count(
          (e) =>
            e.activityTaskCompletedEventAttributes ??
            e.activityTaskFailedEventAttributes ??
            e.activityTaskTimedOutEventAttributes ??
            e.activityTaskCanceledEventAttributes,
        );
      if (timers !== 0 || activities !== 0 || !events.at(-1)?.workflowTaskCompletedEventAttributes) return false;
      idle = { runId, length: events.length };
      return true;
    },
    90_000,
  );
  return idle!;
}

/**
 * Fills the idle run's history with syncNow signals until one more signal would start a workflow task at the
 * run's limit: that signal's task then ends the run. Answers the run it leaves so.
 */
async function fillHistory(rig: SyncRig, mailboxId: string): Promise<string> {
  const handle: Handle = rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId));
  for (;;) {
    const { runId, length } = await idleRun(rig, mailboxId);
    if (length + EVENTS_TO_TASK_START >= EVENTS_PER_RUN) return runId;
    await handle.signal(syncNowSignal);
  }
}

const runStatus = async (rig: SyncRig, mailboxId: string, runId: string) =>
  (await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId), runId).describe()).status.name;

it("resumes after a re-link that arrives as the run's history fills", async () => {
  await withSyncRig({ env: { SYNC_HISTORY_EVENTS_PER_RUN: String(EVENTS_PER_RUN) } }, async (rig) => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 5 });
    await rig.waitForMirror(address, accountId);
    await rig.outlook.revoke(address);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    const full = await fillHistory(rig, mailboxId);
    // The re-link's signal is the one whose task finds the history full.
    expect((await rig.link(accountId, address)).status).toBe(302);
    await until('the run to continue as new', async () => (await runStatus(rig, mailboxId, full)) === 'CONTINUED_AS_NEW');
    await rig.outlook.act(address, { type: 'newMail', subject: 'After the re-link' });
    expect(await rig.waitForMirror(address, accountId, 30_000)).toHaveLength(6);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE', 30_000);
  });
}, 180_000);

it('subscribes afresh after a subscriptionRemoved that the run did not act on before continuing as new', async () => {
  await withSyncRig(
    { workers: false, env: { SYNC_HISTORY_EVENTS_PER_RUN: String(EVENTS_PER_RUN), SYNC_POLL_INTERVAL_SECONDS: '60', SYNC_PUSH_POLL_INTERVAL_SECONDS: '120' } },
    async (rig) => {
      await rig.startWorkers({ GRAPH_NOTIFICATION_URL: `${rig.api.url}/v1/webhooks/graph` });
      const { address, accountId, mailboxId } = await rig.linkNew({ messages: 5 });
      await rig.waitForMirror(address, accountId);
      const handle: Handle = rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId));
      await until('the subscription', async () => (await handle.query(syncProgressQuery)).push.healthy);
      const removed = (await handle.query(syncProgressQuery)).push.subscriptionId!;
      // Paused, the run does no upkeep: the removal is carried, not acted on.
      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/pause`, { method: 'POST' })).status).toBe(202);
      await rig.waitForMailbox(mailboxId, (m) => m.status === 'PAUSED' && m.sync.progress?.requestsInFlight === 0);
      await rig.outlook.lifecycle(address, 'subscriptionRemoved');
      await until('the removal to reach the run', async () => (await handle.query(syncProgressQuery)).push.subscriptionId === null);
      // Signals fill the paused run's history (timers may fire in between: no count is needed here).
      const full = (await handle.describe()).runId;
      await until(
        'the run to continue as new',
        async () => {
          if ((await runStatus(rig, mailboxId, full)) === 'CONTINUED_AS_NEW') return true;
          await handle.signal(syncNowSignal);
          return false;
        },
        60_000,
      );
      expect((await handle.query(syncProgressQuery)).push).toMatchObject({ healthy: false, subscriptionId: null });

      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resume`, { method: 'POST' })).status).toBe(202);
      await until(
        'a new subscription',
        async () => {
          const push = (await handle.query(syncProgressQuery)).push;
          return push.healthy && push.subscriptionId !== removed;
        },
        30_000,
      );
      const active = (await rig.outlook.subscriptions(address)).filter((s) => s.state === 'active');
      expect(active.map((s) => s.id)).toEqual([(await handle.query(syncProgressQuery)).push.subscriptionId]);
      // And push works: a change arrives well within the two-minute safety poll.
      const [m] = await rig.outlook.messages(address, 'inbox');
      await rig.outlook.act(address, { type: 'flag', id: m!.id, flagStatus: m!.flagStatus === 'flagged' ? 'notFlagged' : 'flagged' });
      await rig.waitForMirror(address, accountId, 20_000);
    },
  );
}, 180_000);

it('resumes after a re-link that starts a new run, the one waiting for it having been terminated', async () => {
  await withSyncRig({}, async (rig) => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 5 });
    await rig.waitForMirror(address, accountId);
    await rig.outlook.revoke(address);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).terminate('lost with its history');
    // The re-link starts a run with its signal; the row still says REAUTH_REQUIRED when that run reads it.
    expect((await rig.link(accountId, address)).status).toBe(302);
    await rig.outlook.act(address, { type: 'newMail', subject: 'After the re-link' });
    expect(await rig.waitForMirror(address, accountId, 30_000)).toHaveLength(6);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE', 30_000);
  });
}, 120_000);
