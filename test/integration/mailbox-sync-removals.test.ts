// Removals are confirmed however a run learned of them: a run started without carried state (the one
// before it terminated) loads them from PostgreSQL, and a batch whose attempt recorded a removal page but
// whose result never arrived (the worker died) still reports it from its checkpoint.
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, WorkerInterceptors } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessagePagesInput, PageOutcome, MessagePageResult } from '../../activities/mailbox-sync.js';
import { mailboxSyncWorkflowId, signalMailboxSync } from '../../lib/mailbox-sync/start-workflow.js';
import { startSyncRig, until, type SyncRig } from '../helpers/mailbox-sync.js';

/** The mailbox whose next batch with a removal loses its result after recording it, once. */
let loseResultOf: string | undefined;
let lostResults = 0;
/** A worker that dies after an attempt recorded its pages: the result never reaches Temporal, which retries. */
const interceptors: WorkerInterceptors = {
  activity: [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const result = await next(input);
          const args = input.args[0] as Partial<MessagePagesInput>;
          const outcome = result as PageOutcome<MessagePageResult>;
          if (ctx.info.activityType === 'syncMessagePage' && args.mailboxId === loseResultOf && outcome.outcome === 'page' && outcome.removed > 0) {
            loseResultOf = undefined;
            lostResults += 1;
            throw ApplicationFailure.retryable('the worker died before its result reached the server', 'ResultLost');
          }
          return result;
        },
      } satisfies ActivityInboundCallsInterceptor,
    }),
  ],
};

let rig: SyncRig;
beforeAll(async () => {
  rig = await startSyncRig({ workers: false });
  await rig.startWorkers({}, interceptors);
}, 60_000);
afterAll(async () => {
  await rig?.close();
});

describe('pending removals', () => {
  it('are confirmed by a run started without carried state after the one that saw them was terminated', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const [m] = await rig.outlook.messages(address, 'inbox');
    // The archive is held: no round of every folder completes, so the removal stays pending.
    await rig.outlook.configure({ holdFolders: ['archive'] });
    try {
      await rig.outlook.act(address, { type: 'delete', id: m!.id });
      await until('the removal to be recorded', async () => (await rig.pendingRemovals(mailboxId, m!.id)).length > 0);
      await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).terminate('lost with its history');
    } finally {
      await rig.outlook.configure({ holdFolders: [] });
    }
    // Started again as the API does, with no carried state.
    await signalMailboxSync(rig.api.deps.temporal, rig.api.deps.config, { id: mailboxId, accountId }, 'syncNow');
    const mirrored = await rig.waitForMirror(address, accountId, 30_000);
    expect(mirrored).toHaveLength(9);
    expect(mirrored.some((x) => x.id === m!.id)).toBe(false);
    await until('the pending removal to be dropped', async () => (await rig.pendingRemovals(mailboxId, m!.id)).length === 0);
  }, 90_000);

  it('are confirmed when a batch is retried after its removal page was recorded', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const [m] = await rig.outlook.messages(address, 'inbox');
    loseResultOf = mailboxId;
    const lostBefore = lostResults;
    await rig.outlook.act(address, { type: 'delete', id: m!.id });
    await until('an attempt with the removal to lose its result', () => Promise.resolve(lostResults > lostBefore));
    const mirrored = await rig.waitForMirror(address, accountId, 30_000);
    expect(mirrored).toHaveLength(9);
    expect(mirrored.some((x) => x.id === m!.id)).toBe(false);
    await until('the pending removal to be dropped', async () => (await rig.pendingRemovals(mailboxId, m!.id)).length === 0);
    // It took a retry: the attempt that recorded the removal is not the one whose result arrived.
    const history = await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).fetchHistory();
    expect(
      history.events!.some(
        (e) =>
          (e.activityTaskStartedEventAttributes?.attempt ?? 1) >= 2 && e.activityTaskStartedEventAttributes?.lastFailure?.message?.includes('result reached'),
      ),
    ).toBe(true);
  }, 90_000);
});
