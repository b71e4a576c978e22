// One long-running workflow per linked mailbox (id `mailbox-sync-<mailboxId>`). It reads the folder
// tree's delta and every folder's message delta a page (or a few pages in a row) per activity, up to `lanes` requests at once
// (Outlook allows 4 per mailbox), then keeps polling each folder on its own clock, so a folder that has
// finished its initial sync is followed while bigger ones are still syncing. Removals are applied only
// after every folder has been read again (a move is a removal in one folder and an addition in
// another). Signals pause, resume, resync, relink, unlink and sync it now; `progress` reports it; it
// continues as new before its history grows large, reloading its cursors from PostgreSQL. A run's state and
// its transitions are SyncRun's (mailbox-sync-run.ts), so this function holds what Temporal records:
// activities, timers and waits, in an order that recorded histories replay.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { MailboxSyncActivities, SyncSettings, SyncState } from '../activities/mailbox-sync.js';
import { innermostMessage } from './failures.js';
import { MailboxPush, type LifecycleEvent } from './mailbox-sync-push.js';
import { FOLDER_LIST, nextDue, pickDue, RequestBudget, type SyncTask } from './mailbox-sync-schedule.js';
import { SyncRun, type Carried, type MailboxSyncProgress } from './mailbox-sync-run.js';

export type { MailboxSyncProgress, SyncPhase } from './mailbox-sync-run.js';

export const syncNowSignal = defineSignal('syncNow');
export const pauseSyncSignal = defineSignal('pause');
export const resumeSyncSignal = defineSignal('resume');
export const resyncSignal = defineSignal('resync');
export const relinkSignal = defineSignal('relink');
export const unlinkSignal = defineSignal('unlink');
/** The tenant was disabled (held) or enabled again: a hold pauses the sync apart from the user's own pause. */
export const tenantHoldSignal = defineSignal<[{ held: boolean }]>('tenantHold');
/**
 * Push lifecycle events: Graph's notifications for the mailbox's subscription, forwarded by the webhook; the
 * IMAP watcher's word that its connection is down or back.
 */
export const subscriptionLifecycleSignal = defineSignal<[{ event: LifecycleEvent }]>('subscriptionLifecycle');
export const syncProgressQuery = defineQuery<MailboxSyncProgress>('progress');

export interface MailboxSyncInput {
  mailboxId: string;
  accountId: string;
  carried?: Carried;
}

/**
 * A run's first load: the mailbox row of a link that was rolled back never becomes visible, so it is
 * retried for some 15 seconds only.
 */
const { loadSyncState: loadFirstState } = proxyActivities<MailboxSyncActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumAttempts: 6 },
});

/** Bookkeeping in PostgreSQL and the index: retried as long as it takes, unless the mailbox is gone. */
const { loadSyncState, requestFreshDelta, removeFolder, resolveRemovals, publishMailbox, purgeMailbox } = proxyActivities<MailboxSyncActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['MailboxNotFound'] },
});

/**
 * Requests to the provider (pages, and the push subscription's upkeep), timed by the settings the run
 * loaded: a request plus indexing its page, and a heartbeat timeout that retries a dead worker's page soon.
 */
function providerRequests(settings: SyncSettings) {
  const { syncFolderList, syncMessagePage, ensureSubscription, renewSubscription } = proxyActivities<MailboxSyncActivities>({
    startToCloseTimeout: settings.pageTimeoutMs,
    heartbeatTimeout: settings.heartbeatTimeoutMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 8,
      nonRetryableErrorTypes: ['MailboxNotFound', 'ProviderRequestRefused'],
    },
  });
  return { syncFolderList, syncMessagePage, ensureSubscription, renewSubscription };
}

export async function mailboxSync(input: MailboxSyncInput): Promise<void> {
  const { mailboxId, accountId } = input;
  const run = new SyncRun(input.carried);
  /** Signals, completions and timers wake the loop. */
  let wake = false;
  /** A signal's handler: `handle` changes the run, then the loop wakes. */
  const onSignal = <Args extends unknown[]>(signal: SignalDefinition<Args>, handle: (...args: Args) => void) =>
    setHandler(signal, (...args: Args) => {
      handle(...args);
      wake = true;
    });
  onSignal(syncNowSignal, () => run.wantRound());
  onSignal(pauseSyncSignal, () => run.pause());
  onSignal(resumeSyncSignal, () => run.resume());
  onSignal(resyncSignal, () => run.resync());
  onSignal(relinkSignal, () => run.relink());
  onSignal(unlinkSignal, () => run.unlink());
  onSignal(tenantHoldSignal, ({ held }) => run.tenantHold(held));
  /** Made once the settings are loaded; lifecycle events that come before wait for it. */
  let push: MailboxPush | undefined = undefined;
  const lifecycleBeforeStart: LifecycleEvent[] = [];
  onSignal(subscriptionLifecycleSignal, ({ event }) => {
    if (push) push.lifecycle(event, Date.now());
    else lifecycleBeforeStart.push(event);
    run.wantRound();
  });
  let settingsPollMs = 0;
  setHandler(syncProgressQuery, (): MailboxSyncProgress => ({
    ...run.progress(mailboxId),
    push: {
      healthy: push?.healthy(Date.now()) ?? false,
      subscriptionId: push?.carry().subscriptionId ?? null,
      expiresAt: push?.carry().expiresAt ? new Date(push.carry().expiresAt!).toISOString() : null,
      pollIntervalMs: push?.pollIntervalMs(Date.now(), settingsPollMs) ?? settingsPollMs,
    },
  }));

  let state: SyncState;
  try {
    state = await loadFirstState({ mailboxId, firstRun: !input.carried });
  } catch {
    log.info('mailbox never became visible (its link was rolled back); sync ends', { mailboxId });
    return;
  }
  if (!state.exists) {
    log.info('mailbox no longer exists; sync ends', { mailboxId });
    return;
  }
  const settings = state.settings;
  settingsPollMs = settings.pollIntervalMs;
  push = new MailboxPush(settings.push, input.carried?.push);
  for (const event of lifecycleBeforeStart) push.lifecycle(event, Date.now());
  const budget = new RequestBudget(settings.requestsPerSecond, settings.requestBurst, Date.now(), input.carried?.budget);
  /** When the last timed round started; the next starts one interval later (push healthy or not, as it is now). */
  let lastTimedRoundAt = Date.now();
  const nextRoundAt = () => lastTimedRoundAt + push.pollIntervalMs(Date.now(), settings.pollIntervalMs);
  const provider = providerRequests(settings);
  run.started(state, input.carried !== undefined, Date.now());

  // Status and progress go out one after another, never out of order.
  let publishing: Promise<void> = Promise.resolve();
  const publish = () => {
    const body = run.publication(mailboxId, Date.now());
    publishing = publishing
      .then(() => publishMailbox(body))
      .catch((error: unknown) => {
        log.warn('could not publish mailbox progress', { error: innermostMessage(error) });
      });
  };

  const readFolderList = async (task: SyncTask) => {
    const result = await provider.syncFolderList({ mailboxId, cursor: task.cursor });
    run.folderListRead(task, result, Date.now());
  };

  const readMessages = async (task: SyncTask, maxPages: number) => {
    const result = await provider.syncMessagePage({
      mailboxId,
      accountId,
      folderId: task.key,
      folderName: task.name,
      cursor: task.cursor,
      pageSize: settings.pageSize,
      ...(maxPages > 1 ? { maxPages } : {}),
    });
    // Tokens for pages the batch did not read (it caught up, or stopped at a removal) go back to the budget.
    budget.giveBack(maxPages - (result.outcome === 'page' ? (result.pages ?? 1) : 1));
    run.messagePagesRead(task, result, Date.now());
  };

  const dispatch = (task: SyncTask, maxPages = 1) => {
    run.pageStarted(task, Date.now());
    const page = task.key === FOLDER_LIST ? readFolderList(task) : readMessages(task, maxPages);
    void page
      .then(
        () => {
          run.pageSucceeded(task, Date.now());
        },
        (error: unknown) => {
          run.pageFailed(task, innermostMessage(error), Date.now());
          log.warn('sync page failed; backing off', { mailboxId, folder: task.key, failures: task.failures, error: innermostMessage(error) });
        },
      )
      .finally(() => {
        run.pageEnded(task);
        wake = true;
      });
  };

  /** Subscription upkeep runs in a lane like a page (it is a Graph request too). */
  const keepPushAlive = () => {
    run.upkeepStarted();
    void push
      .upkeep(provider, mailboxId, () => Date.now())
      .then(
        (result) => {
          if (result.reauth) run.grantRefused(result.reauth, Date.now());
          if (result.failed) log.warn('push unavailable; polling', { mailboxId, reason: result.failed });
        },
        (error: unknown) => {
          push.failed(Date.now());
          log.warn('push subscription upkeep failed; polling', { mailboxId, error: innermostMessage(error) });
        },
      )
      .finally(() => {
        run.upkeepEnded();
        wake = true;
      });
  };

  /** Folders gone from the tree lose their documents, and confirmed removals are applied. */
  const settle = async () => {
    for (const folderId of run.foldersToRemove()) {
      await removeFolder({ mailboxId, accountId, folderId });
      run.noteChange();
    }
    const seqs = run.takeResolvableRemovals();
    if (seqs.length > 0) {
      const { deleted } = await resolveRemovals({ mailboxId, accountId, seqs });
      if (deleted > 0) run.noteChange();
    }
  };

  /**
   * One timer for the next deadline, armed only when the deadline moves earlier: re-arming it on every turn
   * would add two history events per page. A timer that fires for a deadline since moved just wakes the loop.
   */
  let armedAt: number | undefined;
  const armTimer = (at: number) => {
    if (armedAt !== undefined && armedAt <= at) return;
    armedAt = at;
    void sleep(Math.max(at - Date.now(), 1)).then(() => {
      if (armedAt === at) armedAt = undefined;
      wake = true;
    });
  };

  const historyFull = () => workflowInfo().historyLength >= settings.historyEventsPerRun || workflowInfo().continueAsNewSuggested;

  // A page that ends while settle() awaits its activities can make more removals resolvable: its wake must
  // not be cleared after settle(), or they wait for the next timed round. Runs recorded before this change
  // replay as they ran.
  const wakeBeforeSettle = patched('mailbox-sync-wake-before-settle');
  for (;;) {
    if (wakeBeforeSettle) wake = false;
    await settle();
    if (run.unlinkRequested) break;
    if (run.resyncRequested && run.inFlight === 0) {
      run.resyncStarted();
      await requestFreshDelta({ mailboxId });
      state = await loadSyncState({ mailboxId, firstRun: false });
      run.resynced(state, Date.now());
    }
    const draining = historyFull();
    if (draining && run.inFlight === 0) break;
    const canDispatch = run.mayRead() && !draining;
    if (canDispatch) {
      if (!run.upkeepInFlight && (push.dueAt() ?? Infinity) <= Date.now() && run.inFlight < settings.lanes && budget.take(Date.now())) keepPushAlive();
      if (Date.now() >= nextRoundAt()) {
        run.wantRound();
        lastTimedRoundAt = Date.now();
      }
      for (const task of pickDue(run.tasks.values(), Date.now(), settings.lanes - run.inFlight, run.roundWantedTick)) {
        // A folder that is not caught up (an initial sync, a fresh delta) may read several pages in a row, one
        // budget token each; a poll of a caught-up folder reads one.
        const most = task.key !== FOLDER_LIST && !task.caughtUp ? (settings.pagesPerActivity ?? 1) : 1;
        const granted = budget.takeUpTo(Date.now(), most);
        if (granted === 0) break;
        dispatch(task, granted);
      }
    }

    if (run.publishDue(Date.now())) publish();

    if (!wakeBeforeSettle) wake = false;
    const taskDue = canDispatch && run.inFlight < settings.lanes ? nextDue(run.tasks.values(), run.roundWantedTick) : undefined;
    const pushDue = canDispatch && !run.upkeepInFlight && run.inFlight < settings.lanes ? push.dueAt() : undefined;
    const firstDue = Math.min(taskDue ?? Infinity, pushDue ?? Infinity, canDispatch ? nextRoundAt() : Infinity);
    // Something is due but the request budget is spent: come back when a token is there.
    if (firstDue !== Infinity) armTimer(Math.max(firstDue, budget.nextAt(Date.now())));
    // Page completions and signals wake the loop too; progress is published as they come.
    await condition(() => wake);
  }

  if (run.unlinkRequested) {
    await condition(() => run.inFlight === 0);
    publish();
    await publishing;
    await purgeMailbox({ mailboxId });
    return;
  }
  // A phase the row does not show yet (a re-link, a pause as the history filled) is published before the next
  // run starts; histories that never reached this point with a change of phase schedule nothing new here.
  if (run.phaseUnpublished()) publish();
  await publishing;
  await condition(allHandlersFinished);
  await continueAsNew<typeof mailboxSync>({ mailboxId, accountId, carried: run.carry(push.carry(), budget.carry(Date.now())) });
}
