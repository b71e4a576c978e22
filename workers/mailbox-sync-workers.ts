// Worker specs for mailbox sync: the mailboxSync workflows and their activities on one queue. Graph's
// per-mailbox limit (4 requests in flight) is kept by each mailbox's workflow; the activity slots here
// bound what one process does for all of its mailboxes together.
import { createMailboxSyncActivities } from '../activities/mailbox-sync.js';
import type { ActivityDeps } from '../activities/deps.js';
import { MailProviders } from '../lib/mailbox-sync/providers.js';
import { ImapIdleWatcher } from '../lib/mailbox-sync/imap/watcher.js';
import { mailboxSyncQueue, nudgeMailboxSync, reportMailboxPush } from '../lib/mailbox-sync/start-workflow.js';
import { connectTemporalClient } from '../lib/temporal/connection.js';
import type { BackgroundService } from './worker-spec.js';
import type { WorkerSpec } from './worker-spec.js';

export function mailboxSyncSpecs(deps: ActivityDeps): WorkerSpec[] {
  const activities = createMailboxSyncActivities(deps, { index: deps.mailIndex, providers: new MailProviders(deps.config, deps.secrets, deps.db) });
  return [
    {
      taskQueue: mailboxSyncQueue(deps.config),
      workflows: true,
      activities,
      maxConcurrentActivityTaskExecutions: deps.config.SYNC_ACTIVITY_SLOTS,
      // An idle mailbox's workflow waits on a timer; evicted from the cache, it costs no worker memory and
      // is replayed from history when it wakes (its history is kept short by continue-as-new).
      maxCachedWorkflows: deps.config.SYNC_CACHED_WORKFLOWS,
      // Most of many mailboxes' workflows are not cached, so most of their tasks come on the shared queue, not
      // the worker's sticky one: poll both equally (the default gives the shared queue 2 of 10 polls).
      nonStickyToStickyPollRatio: 1,
    },
  ];
}

/** The IMAP IDLE watcher beside the sync worker: it holds watch connections outside the activity slots. */
export async function imapWatcherService(deps: ActivityDeps): Promise<BackgroundService | undefined> {
  if (deps.config.IMAP_WATCHES_PER_WORKER === 0) return undefined;
  const client = await connectTemporalClient(deps.config);
  const watcher = new ImapIdleWatcher({
    ...deps,
    notify: (workflowId) => nudgeMailboxSync(client, workflowId),
    report: (workflowId, event) => reportMailboxPush(client, workflowId, event),
  });
  watcher.start();
  return {
    async stop() {
      await watcher.stop();
      await client.connection.close();
    },
  };
}
