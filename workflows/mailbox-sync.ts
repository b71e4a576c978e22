// One long-running workflow per linked mailbox (id `mailbox-sync-<mailboxId>`). It reads the folder
// tree's delta and every folder's message delta a page (or a few pages in a row) per activity, up to `lanes` requests at once
// (Outlook allows 4 per mailbox), then keeps polling each folder on its own clock, so a folder that has
// finished its initial sync is followed while bigger ones are still syncing. Removals are applied only
// after every folder has been read again (a move is a removal in one folder and an addition in
// another). Signals pause, resume, resync, relink, unlink and sync it now; `progress` reports it; it
// continues as new before its history grows large, reloading its cursors from PostgreSQL.
import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, log, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { MailboxSyncActivities, PublishInput, SyncState } from '../activities/mailbox-sync.js';
import { innermostMessage } from './failures.js';
import { MailboxPush, type LifecycleEvent, type PushState } from './mailbox-sync-push.js';
import { FOLDER_LIST, newTask, nextDue, pickDue, RequestBudget, resolvableRemovals, type BudgetState, type PendingRemoval, type SyncTask } from './mailbox-sync-schedule.js';

export const syncNowSignal = defineSignal('syncNow');
export const pauseSyncSignal = defineSignal('pause');
export const resumeSyncSignal = defineSignal('resume');
export const resyncSignal = defineSignal('resync');
export const relinkSignal = defineSignal('relink');
export const unlinkSignal = defineSignal('unlink');
/** The tenant was disabled (held) or enabled again: a hold pauses the sync apart from the user's own pause. */
export const tenantHoldSignal = defineSignal<[{ held: boolean }]>('tenantHold');
/** Graph's lifecycle notifications for the mailbox's subscription, forwarded by the webhook. */
export const subscriptionLifecycleSignal = defineSignal<[{ event: LifecycleEvent }]>('subscriptionLifecycle');

export type SyncPhase = 'INITIAL_SYNC' | 'LIVE' | 'PAUSED' | 'REAUTH_REQUIRED' | 'UNLINKING';

export interface MailboxSyncProgress {
  mailboxId: string;
  phase: SyncPhase;
  foldersTotal: number;
  foldersDone: number;
  /** Message documents written since the mailbox was linked. */
  messagesIndexed: number;
  roundsCompleted: number;
  lastRoundAt: string | null;
  lastRoundMs: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  requestsInFlight: number;
  /** A live push subscription: changes arrive by notification, and polling is the safety net. */
  push: { healthy: boolean; subscriptionId: string | null; expiresAt: string | null; pollIntervalMs: number };
}
export const syncProgressQuery = defineQuery<MailboxSyncProgress>('progress');

interface Carried {
  paused: boolean;
  reauth: boolean;
  resync: boolean;
  unlink: boolean;
  messagesIndexed: number;
  roundsCompleted: number;
  lastRoundAt: number | null;
  lastRoundMs: number | null;
  lastError: { message: string; at: number } | null;
  /** Removal stamps not yet applied; the next run confirms them with a fresh round of every folder. */
  pendingRemovalSeqs: number[];
  push?: PushState;
  /** The request budget's bucket (absent from runs before it was carried: a full one). */
  budget?: BudgetState;
  /** Held while its tenant is disabled (absent from runs before tenants: not held). */
  held?: boolean;
}

export interface MailboxSyncInput {
  mailboxId: string;
  accountId: string;
  carried?: Carried;
}

const BACKOFF_MS = [5_000, 15_000, 60_000, 300_000, 900_000];
/** Progress is published at most this often while pages complete (and at once on a phase change). */
const PUBLISH_EVERY_MS = 2_000;

export async function mailboxSync(input: MailboxSyncInput): Promise<void> {
  const { mailboxId, accountId } = input;
  const c = input.carried;
  let paused = c?.paused ?? false;
  let reauth = c?.reauth ?? false;
  let resyncRequested = c?.resync ?? false;
  let unlinkRequested = c?.unlink ?? false;
  let held = c?.held ?? false;
  let messagesIndexed = c?.messagesIndexed ?? 0;
  let roundsCompleted = c?.roundsCompleted ?? 0;
  let lastRoundAt = c?.lastRoundAt ?? null;
  let lastRoundMs = c?.lastRoundMs ?? null;
  let lastError = c?.lastError ?? null;
  let tick = 0;
  /** completedRoundStartTick that every task had passed when the last mailbox round was counted. */
  let countedRoundTick = 0;
  /** Something changed since the last mailbox round (a round without changes is published at most every minute). */
  let changedThisRound = true;
  let roundWantedTick = 0;
  let wake = false;
  let inFlight = 0;
  const tasks = new Map<string, SyncTask>();
  /** Folders gone from the tree whose documents are still to be removed (after any page in flight). */
  const removedFolders = new Map<string, SyncTask>();
  let pending: PendingRemoval[] = (c?.pendingRemovalSeqs ?? []).map((seq) => ({ seq, observedTick: 0 }));
  /** Folder ids seen during a fresh folder-tree round; those missing at its end are gone. */
  let seenInFreshTree: Set<string> | undefined;

  const signalled = () => { wake = true; };
  setHandler(syncNowSignal, () => { roundWantedTick = ++tick; signalled(); });
  setHandler(pauseSyncSignal, () => { paused = true; signalled(); });
  setHandler(resumeSyncSignal, () => { paused = false; roundWantedTick = ++tick; signalled(); });
  setHandler(resyncSignal, () => { resyncRequested = true; signalled(); });
  /** A re-link came: a REAUTH_REQUIRED still on the mailbox's row (not yet published over) is stale. */
  let relinked = false;
  setHandler(relinkSignal, () => { relinked = true; if (reauth) { reauth = false; roundWantedTick = ++tick; } signalled(); });
  setHandler(unlinkSignal, () => { unlinkRequested = true; signalled(); });
  /** A hold signalled in this run wins over the tenant's state as this run's first load read it. */
  let holdSignalled = false;
  setHandler(tenantHoldSignal, ({ held: now }) => {
    holdSignalled = true;
    if (held && !now) roundWantedTick = ++tick;
    held = now;
    signalled();
  });
  let push: MailboxPush | undefined = undefined;
  const lifecycleBeforeStart: LifecycleEvent[] = [];
  setHandler(subscriptionLifecycleSignal, ({ event }) => {
    if (push) push.lifecycle(event, Date.now());
    else lifecycleBeforeStart.push(event);
    roundWantedTick = ++tick;
    signalled();
  });

  const folderTasks = () => [...tasks.values()].filter((t) => t.key !== FOLDER_LIST);
  const syncedPhase = (): SyncPhase => ([...tasks.values()].every((t) => t.initialDone) ? 'LIVE' : 'INITIAL_SYNC');
  const currentPhase = (): SyncPhase => (unlinkRequested ? 'UNLINKING' : reauth ? 'REAUTH_REQUIRED' : paused || held ? 'PAUSED' : syncedPhase());
  setHandler(syncProgressQuery, (): MailboxSyncProgress => ({
    mailboxId, phase: currentPhase(), foldersTotal: folderTasks().length, foldersDone: folderTasks().filter((t) => t.initialDone).length,
    messagesIndexed, roundsCompleted, lastRoundAt: lastRoundAt === null ? null : new Date(lastRoundAt).toISOString(), lastRoundMs,
    lastError: lastError?.message ?? null, lastErrorAt: lastError ? new Date(lastError.at).toISOString() : null, requestsInFlight: inFlight,
    push: {
      healthy: push?.healthy(Date.now()) ?? false, subscriptionId: push?.carry().subscriptionId ?? null,
      expiresAt: push?.carry().expiresAt ? new Date(push.carry().expiresAt!).toISOString() : null,
      pollIntervalMs: push?.pollIntervalMs(Date.now(), settingsPollMs) ?? settingsPollMs,
    },
  }));

  const admin = proxyActivities<MailboxSyncActivities>({
    startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['MailboxNotFound'] },
  });
  const loadTasks = (state: SyncState) => {
    const now = Date.now();
    tasks.clear();
    tasks.set(FOLDER_LIST, newTask(FOLDER_LIST, 'folders', { cursor: state.folderCursor, caughtUp: state.folderCursorCaughtUp, initialDone: state.folderCursorCaughtUp || state.folders.length > 0 }, now));
    for (const f of state.folders) tasks.set(f.folderId, newTask(f.folderId, f.name, f, now));
    // Every run starts with a round of every folder: it confirms carried removals and catches up at once.
    roundWantedTick = ++tick;
  };

  const firstLoad = proxyActivities<MailboxSyncActivities>({
    startToCloseTimeout: '1 minute', retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumAttempts: 6 },
  });
  let settingsPollMs = 0;
  let state: SyncState;
  try {
    state = await firstLoad.loadSyncState({ mailboxId, firstRun: !input.carried });
  } catch {
    log.info('mailbox never became visible (its link was rolled back); sync ends', { mailboxId });
    return;
  }
  if (!state.exists) {
    log.info('mailbox no longer exists; sync ends', { mailboxId });
    return;
  }
  // Removals pending in PostgreSQL: a run that starts without carried state (terminated and started again,
  // reset) learns of them here, and confirms them with its first round like carried ones.
  const addPending = (seqs: number[] | undefined) => {
    const known = new Set(pending.map((p) => p.seq));
    for (const seq of seqs ?? []) if (!known.has(seq)) pending.push({ seq, observedTick: 0 });
  };
  addPending(state.pendingRemovalSeqs);
  if (state.status === 'UNLINKING') unlinkRequested = true;
  // The tenant's state as PostgreSQL has it now: a hold or release signalled while no run was open is not lost.
  if (state.tenantDisabled !== undefined && !holdSignalled) held = state.tenantDisabled;
  // The row's status is what the last run published. A continued run has its own (carried, and newer: a
  // re-link may have come after the last publish); a first run takes the row's, unless a re-link came with it.
  if (state.status === 'REAUTH_REQUIRED' && !input.carried && !relinked) reauth = true;
  const settings = state.settings;
  settingsPollMs = settings.pollIntervalMs;
  push = new MailboxPush(settings.push, c?.push);
  for (const event of lifecycleBeforeStart) push.lifecycle(event, Date.now());
  const budget = new RequestBudget(settings.requestsPerSecond, settings.requestBurst, Date.now(), c?.budget);
  const pollMs = () => push.pollIntervalMs(Date.now(), settings.pollIntervalMs);
  /** When the last timed round started; the next starts one interval later (push healthy or not, as it is now). */
  let lastTimedRoundAt = Date.now();
  const nextRoundAt = () => lastTimedRoundAt + pollMs();
  const pages = proxyActivities<MailboxSyncActivities>({
    startToCloseTimeout: settings.pageTimeoutMs, heartbeatTimeout: settings.heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: ['MailboxNotFound', 'ProviderRequestRefused'] },
  });
  loadTasks(state);

  // Status and progress go out one after another, never out of order.
  let publishing: Promise<void> = Promise.resolve();
  let publishedPhase: SyncPhase | undefined;
  let lastPublishAt = 0;
  let dirty = true;
  const publish = () => {
    const p = currentPhase();
    const status: PublishInput['status'] = p === 'INITIAL_SYNC' ? 'SYNCING' : p;
    const body: PublishInput = {
      mailboxId, status, phase: p, foldersTotal: folderTasks().length, foldersSynced: folderTasks().filter((t) => t.initialDone).length,
      lastSyncAt: lastRoundAt, lastError,
    };
    publishedPhase = p;
    lastPublishAt = Date.now();
    dirty = false;
    publishing = publishing.then(() => admin.publishMailbox(body)).catch((error: unknown) => { log.warn('could not publish mailbox progress', { error: innermostMessage(error) }); });
  };
  const recordError = (message: string) => {
    lastError = { message, at: Date.now() };
    dirty = true;
  };

  const noteChange = () => { dirty = true; changedThisRound = true; };

  /** A task caught up; when every task has caught up since the last mailbox round, that is a round. */
  const finishRound = (task: SyncTask) => {
    task.completedRoundStartTick = task.roundStartTick;
    task.caughtUpAt = Date.now();
    if (!task.initialDone) { task.initialDone = true; noteChange(); }
    const all = [...tasks.values()];
    if (!all.every((t) => t.caughtUp && t.completedRoundStartTick !== null)) return;
    const oldest = Math.min(...all.map((t) => t.completedRoundStartTick!));
    if (oldest <= countedRoundTick) return;
    countedRoundTick = Math.max(...all.map((t) => t.completedRoundStartTick!));
    const now = Date.now();
    roundsCompleted += 1;
    // Folders in their initial sync read page after page while others poll: a round takes its slowest folder's time.
    lastRoundMs = Math.max(...all.map((t) => (t.caughtUpAt ?? now) - (t.roundStartedAt ?? now)));
    lastRoundAt = now;
    if (changedThisRound || now - lastPublishAt >= 60_000) dirty = true;
    changedThisRound = false;
  };

  const dropFolder = (folderId: string) => {
    const task = tasks.get(folderId);
    if (!task) return;
    tasks.delete(folderId);
    removedFolders.set(folderId, task);
  };

  const runFolderListPage = async (task: SyncTask) => {
    const result = await pages.syncFolderList({ mailboxId, cursor: task.cursor });
    if (result.outcome === 'reauth') { reauth = true; recordError(result.reason); return; }
    if (result.outcome !== 'page') {
      // The tree's cursor expired: list every folder again; those not listed are gone.
      task.cursor = null;
      task.caughtUp = false;
      return;
    }
    const now = Date.now();
    for (const f of result.changed) {
      seenInFreshTree?.add(f.folderId);
      const known = tasks.get(f.folderId);
      if (known) known.name = f.name;
      else tasks.set(f.folderId, newTask(f.folderId, f.name, { cursor: null, caughtUp: false, initialDone: false }, now));
      noteChange();
    }
    for (const id of result.removed) { dropFolder(id); noteChange(); }
    task.cursor = result.cursor;
    task.caughtUp = result.caughtUp;
    if (result.caughtUp) {
      if (task.freshRound && seenInFreshTree) for (const t of folderTasks()) if (!seenInFreshTree.has(t.key)) dropFolder(t.key);
      seenInFreshTree = undefined;
      finishRound(task);
    }
  };

  const runMessagePage = async (task: SyncTask, maxPages: number) => {
    const result = await pages.syncMessagePage({
      mailboxId, accountId, folderId: task.key, folderName: task.name, cursor: task.cursor, pageSize: settings.pageSize, ...(maxPages > 1 ? { maxPages } : {}),
    });
    const observedTick = ++tick;
    // Tokens for pages the batch did not read (it caught up, or stopped at a removal) go back to the budget.
    budget.giveBack(maxPages - (result.outcome === 'page' ? result.pages ?? 1 : 1));
    // Every removal the batch recorded, those of a failed attempt before it too (results recorded before
    // `removalSeqs` name only the last page's).
    const removalSeqs = result.removalSeqs ?? (result.outcome === 'page' && result.removed > 0 ? [result.seq] : []);
    if (removalSeqs.length > 0) {
      for (const seq of removalSeqs) pending.push({ seq, observedTick });
      roundWantedTick = observedTick; // every folder reads again, so the removals can be confirmed
    }
    if (result.outcome === 'reauth') { reauth = true; recordError(result.reason); return; }
    if (result.outcome === 'gone') { dropFolder(task.key); return; }
    if (result.outcome === 'expired') {
      task.cursor = null;
      task.caughtUp = false;
      return;
    }
    messagesIndexed += result.written;
    if (result.written > 0) noteChange();
    task.cursor = result.cursor;
    task.caughtUp = result.caughtUp;
    if (result.caughtUp) finishRound(task);
  };

  const dispatch = (task: SyncTask, maxPages = 1) => {
    const startsRound = task.caughtUp || task.cursor === null;
    task.inFlight = true;
    inFlight += 1;
    if (startsRound) {
      task.roundStartTick = ++tick;
      task.roundStartedAt = Date.now();
      task.freshRound = task.cursor === null;
      if (task.key === FOLDER_LIST && task.freshRound) seenInFreshTree = new Set();
    }
    const run = task.key === FOLDER_LIST ? runFolderListPage(task) : runMessagePage(task, maxPages);
    void run.then(() => {
      task.failures = 0;
      task.readyAt = Date.now();
    }, (error: unknown) => {
      task.failures += 1;
      task.readyAt = Date.now() + BACKOFF_MS[Math.min(task.failures, BACKOFF_MS.length) - 1]!;
      recordError(innermostMessage(error));
      log.warn('sync page failed; backing off', { mailboxId, folder: task.key, failures: task.failures, error: innermostMessage(error) });
    }).finally(() => {
      task.inFlight = false;
      inFlight -= 1;
      wake = true;
    });
  };

  let pushBusy = false;
  /** Subscription upkeep runs in a lane like a page (it is a Graph request too). */
  const keepPushAlive = () => {
    pushBusy = true;
    inFlight += 1;
    void push.upkeep(pages, mailboxId, () => Date.now()).then((result) => {
      if (result.reauth) { reauth = true; recordError(result.reauth); }
      if (result.failed) log.warn('push unavailable; polling', { mailboxId, reason: result.failed });
    }, (error: unknown) => {
      push.failed(Date.now());
      log.warn('push subscription upkeep failed; polling', { mailboxId, error: innermostMessage(error) });
    }).finally(() => {
      pushBusy = false;
      inFlight -= 1;
      wake = true;
    });
  };

  const settle = async () => {
    // Folders gone from the tree lose their documents once no page of theirs is in flight.
    for (const [id, task] of removedFolders) {
      if (task.inFlight) continue;
      removedFolders.delete(id);
      await admin.removeFolder({ mailboxId, accountId, folderId: id });
      noteChange();
    }
    const ready = resolvableRemovals(pending, tasks.values());
    if (ready.length > 0) {
      const seqs = [...new Set(ready.map((p) => p.seq))];
      pending = pending.filter((p) => !ready.includes(p));
      const { deleted } = await admin.resolveRemovals({ mailboxId, accountId, seqs });
      if (deleted > 0) noteChange();
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

  for (;;) {
    await settle();
    if (unlinkRequested) break;
    if (resyncRequested && inFlight === 0) {
      resyncRequested = false;
      await admin.requestFreshDelta({ mailboxId });
      state = await admin.loadSyncState({ mailboxId, firstRun: false });
      loadTasks(state);
      addPending(state.pendingRemovalSeqs);
      dirty = true;
    }
    const draining = historyFull();
    if (draining && inFlight === 0) break;
    const canDispatch = !paused && !held && !reauth && !resyncRequested && !draining;
    if (canDispatch) {
      if (!pushBusy && (push.dueAt() ?? Infinity) <= Date.now() && inFlight < settings.lanes && budget.take(Date.now())) keepPushAlive();
      if (Date.now() >= nextRoundAt()) {
        roundWantedTick = ++tick;
        lastTimedRoundAt = Date.now();
      }
      for (const task of pickDue(tasks.values(), Date.now(), settings.lanes - inFlight, roundWantedTick)) {
        // A folder that is not caught up (an initial sync, a fresh delta) may read several pages in a row, one
        // budget token each; a poll of a caught-up folder reads one.
        const most = task.key !== FOLDER_LIST && !task.caughtUp ? settings.pagesPerActivity ?? 1 : 1;
        const granted = budget.takeUpTo(Date.now(), most);
        if (granted === 0) break;
        dispatch(task, granted);
      }
    }

    if (publishedPhase !== currentPhase() || (dirty && (inFlight === 0 || Date.now() - lastPublishAt >= PUBLISH_EVERY_MS))) publish();

    wake = false;
    const taskDue = canDispatch && inFlight < settings.lanes ? nextDue(tasks.values(), roundWantedTick) : undefined;
    const pushDue = canDispatch && !pushBusy && inFlight < settings.lanes ? push.dueAt() : undefined;
    const firstDue = Math.min(taskDue ?? Infinity, pushDue ?? Infinity, canDispatch ? nextRoundAt() : Infinity);
    // Something is due but the request budget is spent: come back when a token is there.
    if (firstDue !== Infinity) armTimer(Math.max(firstDue, budget.nextAt(Date.now())));
    // Page completions and signals wake the loop too; progress is published as they come.
    await condition(() => wake);
  }

  if (unlinkRequested) {
    await condition(() => inFlight === 0);
    publish();
    await publishing;
    await admin.purgeMailbox({ mailboxId });
    return;
  }
  // A phase the row does not show yet (a re-link, a pause as the history filled) is published before the next
  // run starts; histories that never reached this point with a change of phase schedule nothing new here.
  if (publishedPhase !== currentPhase()) publish();
  await publishing;
  await condition(allHandlersFinished);
  await continueAsNew<typeof mailboxSync>({
    mailboxId, accountId,
    carried: {
      paused, reauth, resync: resyncRequested, unlink: unlinkRequested, messagesIndexed, roundsCompleted, lastRoundAt, lastRoundMs, lastError,
      pendingRemovalSeqs: [...new Set(pending.map((p) => p.seq))], push: push.carry(), budget: budget.carry(Date.now()), held,
    },
  });
}
