// One run of a mailbox's sync as state and its transitions: what signals asked for, the folders' tasks on
// the logical clock that orders them (see mailbox-sync-schedule.ts), removals waiting to be confirmed, the
// counters progress reports, and what the mailbox last showed. Deterministic and free of I/O (workflow
// code): the workflow runs the activities and timers and tells this what came of them; what the next run
// needs is carried into it.
import type { FolderListResult, MessagePagesOutcome, PageOutcome, PublishInput, SyncState } from '../activities/mailbox-sync.js';
import type { PushState } from './mailbox-sync-push.js';
import { FOLDER_LIST, newTask, resolvableRemovals, type BudgetState, type PendingRemoval, type SyncTask } from './mailbox-sync-schedule.js';

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

/** What a run hands the next when it continues as new (fields added later are optional: older runs lack them). */
export interface Carried {
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

/** How long a task waits after its 1st, 2nd… consecutive failure. */
const BACKOFF_MS = [5_000, 15_000, 60_000, 300_000, 900_000];
/** Progress is published at most this often while pages complete (and at once on a phase change). */
const PUBLISH_EVERY_MS = 2_000;
/** A round that changed nothing is published at most this often. */
const QUIET_ROUND_PUBLISH_MS = 60_000;

export class SyncRun {
  private paused: boolean;
  /** The grant was refused: nothing is read until a re-link. */
  private reauth: boolean;
  resyncRequested: boolean;
  unlinkRequested: boolean;
  /** Held while the mailbox's tenant is disabled, apart from the user's own pause. */
  private held: boolean;
  /** A re-link came: a REAUTH_REQUIRED still on the mailbox's row (not yet published over) is stale. */
  private relinked = false;
  /** A hold signalled in this run wins over the tenant's state as this run's first load read it. */
  private holdSignalled = false;

  private messagesIndexed: number;
  private roundsCompleted: number;
  private lastRoundAt: number | null;
  private lastRoundMs: number | null;
  private lastError: { message: string; at: number } | null;

  private tick = 0;
  /** A round of every task is wanted if it started after this tick. */
  roundWantedTick = 0;
  /** completedRoundStartTick that every task had passed when the last mailbox round was counted. */
  private countedRoundTick = 0;
  /** Something changed since the last mailbox round (a round without changes is published at most every minute). */
  private changedThisRound = true;

  /** The folder list's task and every folder's, by key. */
  readonly tasks = new Map<string, SyncTask>();
  /** Folders gone from the tree whose documents are still to be removed (after any page in flight). */
  private readonly removedFolders = new Map<string, SyncTask>();
  private pending: PendingRemoval[];
  /** Folder ids seen during a fresh folder-tree round; those missing at its end are gone. */
  private seenInFreshTree: Set<string> | undefined;

  /** Requests in flight: pages, and the push subscription's upkeep (a Graph request too). */
  inFlight = 0;
  upkeepInFlight = false;

  /** Something to publish; and the phase the mailbox shows, since when. */
  private dirty = true;
  private publishedPhase: SyncPhase | undefined;
  private lastPublishAt = 0;

  constructor(carried: Carried | undefined) {
    this.paused = carried?.paused ?? false;
    this.reauth = carried?.reauth ?? false;
    this.resyncRequested = carried?.resync ?? false;
    this.unlinkRequested = carried?.unlink ?? false;
    this.held = carried?.held ?? false;
    this.messagesIndexed = carried?.messagesIndexed ?? 0;
    this.roundsCompleted = carried?.roundsCompleted ?? 0;
    this.lastRoundAt = carried?.lastRoundAt ?? null;
    this.lastRoundMs = carried?.lastRoundMs ?? null;
    this.lastError = carried?.lastError ?? null;
    this.pending = (carried?.pendingRemovalSeqs ?? []).map((seq) => ({ seq, observedTick: 0 }));
  }

  /** Every task reads again (a poll, syncNow, a resume, a removal to confirm). */
  wantRound(): void {
    this.roundWantedTick = ++this.tick;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wantRound();
  }

  resync(): void {
    this.resyncRequested = true;
  }

  relink(): void {
    this.relinked = true;
    if (this.reauth) {
      this.reauth = false;
      this.wantRound();
    }
  }

  unlink(): void {
    this.unlinkRequested = true;
  }

  tenantHold(held: boolean): void {
    this.holdSignalled = true;
    if (this.held && !held) this.wantRound();
    this.held = held;
  }

  /** The run's first load. `continued`: this run continues another, whose carried state is newer than the row. */
  started(state: SyncState, continued: boolean, now: number): void {
    // Removals pending in PostgreSQL: a run that starts without carried state (terminated and started again,
    // reset) learns of them here, and confirms them with its first round like carried ones.
    this.addPending(state.pendingRemovalSeqs);
    if (state.status === 'UNLINKING') this.unlinkRequested = true;
    // The tenant's state as PostgreSQL has it now: a hold or release signalled while no run was open is not lost.
    if (state.tenantDisabled !== undefined && !this.holdSignalled) this.held = state.tenantDisabled;
    // The row's status is what the last run published. A continued run has its own (carried, and newer: a
    // re-link may have come after the last publish); a first run takes the row's, unless a re-link came with it.
    if (state.status === 'REAUTH_REQUIRED' && !continued && !this.relinked) this.reauth = true;
    this.loadTasks(state, now);
  }

  /** A resync begins: its cursors are reset and its state reloaded before the loop goes on (a resync signalled meanwhile is another). */
  resyncStarted(): void {
    this.resyncRequested = false;
  }

  /** The state loaded after a resync's cursors were reset. */
  resynced(state: SyncState, now: number): void {
    this.loadTasks(state, now);
    this.addPending(state.pendingRemovalSeqs);
    this.dirty = true;
  }

  private loadTasks(state: SyncState, now: number): void {
    this.tasks.clear();
    this.tasks.set(
      FOLDER_LIST,
      newTask(
        FOLDER_LIST,
        'folders',
        { cursor: state.folderCursor, caughtUp: state.folderCursorCaughtUp, initialDone: state.folderCursorCaughtUp || state.folders.length > 0 },
        now,
      ),
    );
    for (const f of state.folders) this.tasks.set(f.folderId, newTask(f.folderId, f.name, f, now));
    // Every run starts with a round of every folder: it confirms carried removals and catches up at once.
    this.wantRound();
  }

  private addPending(seqs: number[] | undefined): void {
    const known = new Set(this.pending.map((p) => p.seq));
    for (const seq of seqs ?? []) if (!known.has(seq)) this.pending.push({ seq, observedTick: 0 });
  }

  /** Whether pages may be read now (the workflow adds its own: not while its history is full). */
  mayRead(): boolean {
    return !this.paused && !this.held && !this.reauth && !this.resyncRequested;
  }

  phase(): SyncPhase {
    if (this.unlinkRequested) return 'UNLINKING';
    if (this.reauth) return 'REAUTH_REQUIRED';
    if (this.paused || this.held) return 'PAUSED';
    return [...this.tasks.values()].every((t) => t.initialDone) ? 'LIVE' : 'INITIAL_SYNC';
  }

  private folderTasks(): SyncTask[] {
    return [...this.tasks.values()].filter((t) => t.key !== FOLDER_LIST);
  }

  /** The progress query's answer, but for push (the workflow's). */
  progress(mailboxId: string): Omit<MailboxSyncProgress, 'push'> {
    const folders = this.folderTasks();
    return {
      mailboxId,
      phase: this.phase(),
      foldersTotal: folders.length,
      foldersDone: folders.filter((t) => t.initialDone).length,
      messagesIndexed: this.messagesIndexed,
      roundsCompleted: this.roundsCompleted,
      lastRoundAt: this.lastRoundAt === null ? null : new Date(this.lastRoundAt).toISOString(),
      lastRoundMs: this.lastRoundMs,
      lastError: this.lastError?.message ?? null,
      lastErrorAt: this.lastError ? new Date(this.lastError.at).toISOString() : null,
      requestsInFlight: this.inFlight,
    };
  }

  /** Whether to publish now: a new phase at once, other changes when nothing is in flight or every PUBLISH_EVERY_MS. */
  publishDue(now: number): boolean {
    return this.publishedPhase !== this.phase() || (this.dirty && (this.inFlight === 0 || now - this.lastPublishAt >= PUBLISH_EVERY_MS));
  }

  /** The mailbox shows another phase than this run's. */
  phaseUnpublished(): boolean {
    return this.publishedPhase !== this.phase();
  }

  /** What the mailbox is to show now; from here on, it does. */
  publication(mailboxId: string, now: number): PublishInput {
    const phase = this.phase();
    const folders = this.folderTasks();
    this.publishedPhase = phase;
    this.lastPublishAt = now;
    this.dirty = false;
    return {
      mailboxId,
      status: phase === 'INITIAL_SYNC' ? 'SYNCING' : phase,
      phase,
      foldersTotal: folders.length,
      foldersSynced: folders.filter((t) => t.initialDone).length,
      lastSyncAt: this.lastRoundAt,
      lastError: this.lastError,
    };
  }

  recordError(message: string, now: number): void {
    this.lastError = { message, at: now };
    this.dirty = true;
  }

  noteChange(): void {
    this.dirty = true;
    this.changedThisRound = true;
  }

  /** The provider refused the grant: the mailbox waits for a re-link. */
  grantRefused(reason: string, now: number): void {
    this.reauth = true;
    this.recordError(reason, now);
  }

  /** A task's page is dispatched; its first page starts a round. */
  pageStarted(task: SyncTask, now: number): void {
    const startsRound = task.caughtUp || task.cursor === null;
    task.inFlight = true;
    this.inFlight += 1;
    if (startsRound) {
      task.roundStartTick = ++this.tick;
      task.roundStartedAt = now;
      task.freshRound = task.cursor === null;
      if (task.key === FOLDER_LIST && task.freshRound) this.seenInFreshTree = new Set();
    }
  }

  pageSucceeded(task: SyncTask, now: number): void {
    task.failures = 0;
    task.readyAt = now;
  }

  /** Its activity gave up: the task backs off, longer after each failure in a row. */
  pageFailed(task: SyncTask, message: string, now: number): void {
    task.failures += 1;
    task.readyAt = now + BACKOFF_MS[Math.min(task.failures, BACKOFF_MS.length) - 1]!;
    this.recordError(message, now);
  }

  pageEnded(task: SyncTask): void {
    task.inFlight = false;
    this.inFlight -= 1;
  }

  upkeepStarted(): void {
    this.upkeepInFlight = true;
    this.inFlight += 1;
  }

  upkeepEnded(): void {
    this.upkeepInFlight = false;
    this.inFlight -= 1;
  }

  /** A page of the folder tree: folders added, renamed and gone; at the end of a fresh round, those not listed are gone. */
  folderListRead(task: SyncTask, result: PageOutcome<FolderListResult>, now: number): void {
    if (result.outcome === 'reauth') {
      this.grantRefused(result.reason, now);
      return;
    }
    if (result.outcome !== 'page') {
      // The tree's cursor expired: list every folder again; those not listed are gone.
      task.cursor = null;
      task.caughtUp = false;
      return;
    }
    for (const f of result.changed) {
      this.seenInFreshTree?.add(f.folderId);
      const known = this.tasks.get(f.folderId);
      if (known) known.name = f.name;
      else this.tasks.set(f.folderId, newTask(f.folderId, f.name, { cursor: null, caughtUp: false, initialDone: false }, now));
      this.noteChange();
    }
    for (const id of result.removed) {
      this.dropFolder(id);
      this.noteChange();
    }
    task.cursor = result.cursor;
    task.caughtUp = result.caughtUp;
    if (result.caughtUp) {
      if (task.freshRound && this.seenInFreshTree) for (const t of this.folderTasks()) if (!this.seenInFreshTree.has(t.key)) this.dropFolder(t.key);
      this.seenInFreshTree = undefined;
      this.finishRound(task, now);
    }
  }

  /** A batch of a folder's pages; the removals it recorded wait until every task has read again since. */
  messagePagesRead(task: SyncTask, result: MessagePagesOutcome, now: number): void {
    const observedTick = ++this.tick;
    // Every removal the batch recorded, those of a failed attempt before it too (results recorded before
    // `removalSeqs` name only the last page's).
    const removalSeqs = result.removalSeqs ?? (result.outcome === 'page' && result.removed > 0 ? [result.seq] : []);
    if (removalSeqs.length > 0) {
      for (const seq of removalSeqs) this.pending.push({ seq, observedTick });
      this.roundWantedTick = observedTick; // every folder reads again, so the removals can be confirmed
    }
    if (result.outcome === 'reauth') {
      this.grantRefused(result.reason, now);
      return;
    }
    if (result.outcome === 'gone') {
      this.dropFolder(task.key);
      return;
    }
    if (result.outcome === 'expired') {
      task.cursor = null;
      task.caughtUp = false;
      return;
    }
    this.messagesIndexed += result.written;
    if (result.written > 0) this.noteChange();
    task.cursor = result.cursor;
    task.caughtUp = result.caughtUp;
    if (result.caughtUp) this.finishRound(task, now);
  }

  /** A task caught up; when every task has caught up since the last mailbox round, that is a round. */
  private finishRound(task: SyncTask, now: number): void {
    task.completedRoundStartTick = task.roundStartTick;
    task.caughtUpAt = now;
    if (!task.initialDone) {
      task.initialDone = true;
      this.noteChange();
    }
    const all = [...this.tasks.values()];
    if (!all.every((t) => t.caughtUp && t.completedRoundStartTick !== null)) return;
    const oldest = Math.min(...all.map((t) => t.completedRoundStartTick!));
    if (oldest <= this.countedRoundTick) return;
    this.countedRoundTick = Math.max(...all.map((t) => t.completedRoundStartTick!));
    this.roundsCompleted += 1;
    // Folders in their initial sync read page after page while others poll: a round takes its slowest folder's time.
    this.lastRoundMs = Math.max(...all.map((t) => (t.caughtUpAt ?? now) - (t.roundStartedAt ?? now)));
    this.lastRoundAt = now;
    if (this.changedThisRound || now - this.lastPublishAt >= QUIET_ROUND_PUBLISH_MS) this.dirty = true;
    this.changedThisRound = false;
  }

  private dropFolder(folderId: string): void {
    const task = this.tasks.get(folderId);
    if (!task) return;
    this.tasks.delete(folderId);
    this.removedFolders.set(folderId, task);
  }

  /**
   * The folders gone from the tree whose pages are no longer in flight, each taken off the list as it is
   * reached (the list is read live: a folder dropped while one is being removed is reached in the same pass).
   */
  *foldersToRemove(): Generator<string> {
    for (const [id, task] of this.removedFolders) {
      if (task.inFlight) continue;
      this.removedFolders.delete(id);
      yield id;
    }
  }

  /** The stamps of the removals that may be applied now, taken off the pending list. */
  takeResolvableRemovals(): number[] {
    const ready = resolvableRemovals(this.pending, this.tasks.values());
    if (ready.length === 0) return [];
    this.pending = this.pending.filter((p) => !ready.includes(p));
    return [...new Set(ready.map((p) => p.seq))];
  }

  carry(push: PushState, budget: BudgetState): Carried {
    return {
      paused: this.paused,
      reauth: this.reauth,
      resync: this.resyncRequested,
      unlink: this.unlinkRequested,
      messagesIndexed: this.messagesIndexed,
      roundsCompleted: this.roundsCompleted,
      lastRoundAt: this.lastRoundAt,
      lastRoundMs: this.lastRoundMs,
      lastError: this.lastError,
      pendingRemovalSeqs: [...new Set(this.pending.map((p) => p.seq))],
      push,
      budget,
      held: this.held,
    };
  }
}
