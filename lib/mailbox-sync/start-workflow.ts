// Starting and steering a mailbox's sync workflow: the boundary between the API (and OAuth callback)
// and the sync workers. Signals and the progress query are defined once, in the workflow module.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import {
  mailboxSync,
  pauseSyncSignal,
  relinkSignal,
  resumeSyncSignal,
  resyncSignal,
  subscriptionLifecycleSignal,
  syncNowSignal,
  syncProgressQuery,
  unlinkSignal,
  type MailboxSyncInput,
  type MailboxSyncProgress,
} from '../../workflows/mailbox-sync.js';

export const mailboxSyncWorkflowId = (mailboxId: string) => `mailbox-sync-${mailboxId}`;
export const mailboxSyncQueue = (config: Pick<Config, 'TASK_QUEUE_PREFIX'>) => taskQueue(config, 'mailbox-sync');

const signals = {
  syncNow: syncNowSignal,
  pause: pauseSyncSignal,
  resume: resumeSyncSignal,
  resync: resyncSignal,
  relink: relinkSignal,
  unlink: unlinkSignal,
} as const;
export type SyncSignal = keyof typeof signals;

/**
 * Starts the mailbox's workflow, or tells the running one (a re-link after REAUTH_REQUIRED, an unlink):
 * one call that works whether or not a run is open.
 */
export async function signalMailboxSync(
  client: Client,
  config: Pick<Config, 'TASK_QUEUE_PREFIX'>,
  mailbox: { id: string; accountId: string },
  signal: SyncSignal,
) {
  const input: MailboxSyncInput = { mailboxId: mailbox.id, accountId: mailbox.accountId };
  return client.workflow.signalWithStart(mailboxSync, {
    workflowId: mailboxSyncWorkflowId(mailbox.id),
    taskQueue: mailboxSyncQueue(config),
    args: [input],
    signal: signals[signal],
    signalArgs: [],
    searchAttributes: { AccountId: [mailbox.accountId], MailboxId: [mailbox.id] },
  });
}

/** Tells a running sync to read now (its IMAP watch saw a change); a sync that is not running is left alone. */
export async function nudgeMailboxSync(client: Client, workflowId: string): Promise<void> {
  try {
    await client.workflow.getHandle(workflowId).signal(syncNowSignal);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/** Tells the mailbox's workflow that its push is down (folders are then polled as without push) or back. */
export async function reportMailboxPush(client: Client, workflowId: string, event: 'interrupted' | 'restored'): Promise<void> {
  try {
    await client.workflow.getHandle(workflowId).signal(subscriptionLifecycleSignal, { event });
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/** The running workflow's progress, or undefined when it cannot answer now (no run, no worker in time). */
export async function queryMailboxSync(client: Client, mailboxId: string, timeoutMs = 2_000): Promise<MailboxSyncProgress | undefined> {
  const handle = client.workflow.getHandle(mailboxSyncWorkflowId(mailboxId));
  try {
    return await Promise.race([handle.query(syncProgressQuery), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())]);
  } catch {
    return undefined;
  }
}
