// The mailbox-sync workflow's scheduling rules, as pure functions: which folder's delta to read next,
// and when a removal seen in one folder may be applied. Deterministic and free of I/O (workflow code).
//
// Order is kept with a logical clock (`tick`) that the workflow advances at every dispatch and every
// completion it processes. A round "started after" an event when its first page was dispatched at a
// later tick; that page's request then reached the provider after the event (causality), which wall
// clocks on different machines cannot promise.

export const FOLDER_LIST = '#folders';

export interface SyncTask {
  /** FOLDER_LIST, or a folder id. */
  key: string;
  name: string;
  cursor: string | null;
  /** The cursor is a delta link: the task has read everything up to its last round. */
  caughtUp: boolean;
  initialDone: boolean;
  inFlight: boolean;
  /** Tick at which the first page of the current round was dispatched. */
  roundStartTick: number | null;
  /** roundStartTick of the last round that caught up; null before the first. */
  completedRoundStartTick: number | null;
  /** Workflow time the current round started, and the last one caught up (for the poll interval). */
  roundStartedAt: number | null;
  caughtUpAt: number | null;
  /** Not before this time (set after a failure: backoff). */
  readyAt: number;
  failures: number;
  /** This round began with no cursor (a fresh delta). */
  freshRound: boolean;
}

export function newTask(key: string, name: string, state: { cursor: string | null; caughtUp: boolean; initialDone: boolean }, now: number): SyncTask {
  return {
    key,
    name,
    cursor: state.cursor,
    caughtUp: state.caughtUp,
    initialDone: state.initialDone,
    inFlight: false,
    roundStartTick: null,
    completedRoundStartTick: null,
    roundStartedAt: null,
    caughtUpAt: null,
    readyAt: now,
    failures: 0,
    freshRound: false,
  };
}

/**
 * When the task should next read a page (workflow time; Infinity: not until a round is asked for).
 * Mid-round tasks are due at once. Caught-up ones wait for the next mailbox round (the poll timer,
 * syncNow, a removal to confirm, a resume): rounds are per mailbox, so an idle mailbox wakes once per
 * interval for all its folders, and folders that finished their initial sync are still polled every
 * round while others sync.
 */
export function dueAt(task: SyncTask, roundWantedTick: number): number {
  if (!task.caughtUp) return task.readyAt;
  if (task.completedRoundStartTick === null || roundWantedTick > task.completedRoundStartTick) return task.readyAt;
  return Infinity;
}

/** The tasks to dispatch now, most overdue first (so folders mid-initial-sync take turns with polls). */
export function pickDue(tasks: Iterable<SyncTask>, now: number, slots: number, roundWantedTick: number): SyncTask[] {
  if (slots <= 0) return [];
  return [...tasks]
    .filter((t) => !t.inFlight && dueAt(t, roundWantedTick) <= now)
    .sort((a, b) => dueAt(a, roundWantedTick) - dueAt(b, roundWantedTick) || (a.key === FOLDER_LIST ? -1 : b.key === FOLDER_LIST ? 1 : 0))
    .slice(0, slots);
}

/** The earliest due time among tasks not in flight, or undefined if none is due before the next round. */
export function nextDue(tasks: Iterable<SyncTask>, roundWantedTick: number): number | undefined {
  let earliest: number | undefined;
  for (const t of tasks) {
    if (t.inFlight) continue;
    const due = dueAt(t, roundWantedTick);
    if (due !== Infinity && (earliest === undefined || due < earliest)) earliest = due;
  }
  return earliest;
}

export interface PendingRemoval {
  seq: number;
  observedTick: number;
}

/**
 * The removals that may be applied: those observed before every task (the
 * folder list included, so a folder created for a move counts) has completed a round started after
 * them. A move's destination has then been read, so a message still in the source folder is gone.
 */
export function resolvableRemovals(pending: PendingRemoval[], tasks: Iterable<SyncTask>): PendingRemoval[] {
  let oldestRound = Infinity;
  for (const t of tasks) oldestRound = Math.min(oldestRound, t.completedRoundStartTick ?? -Infinity);
  return pending.filter((p) => p.observedTick < oldestRound);
}

/** A budget's state, carried into the workflow's next run. */
export interface BudgetState {
  tokens: number;
  at: number;
}

/**
 * Paces one mailbox's Graph requests under Outlook's 10,000 per 10 minutes: a token bucket in workflow
 * time, `burst` deep, refilled at `ratePerSecond`, so any 10 minutes hold at most burst + 600 × rate
 * requests. Every request (pages, subscriptions) takes a token; the workflow is the mailbox's only
 * dispatcher, so the budget holds however many workers run, and each run hands its bucket to the next
 * (a fresh full bucket per run would add a burst every few hundred requests).
 */
export class RequestBudget {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
    carried?: BudgetState,
  ) {
    this.tokens = carried ? Math.min(burst, carried.tokens) : burst;
    this.at = carried ? Math.min(now, carried.at) : now;
  }

  /** The bucket as it is now, for the next run. */
  carry(now: number): BudgetState {
    this.refill(now);
    return { tokens: this.tokens, at: this.at };
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerSecond);
    this.at = now;
  }

  take(now: number): boolean {
    return this.takeUpTo(now, 1) === 1;
  }

  /** Takes as many whole tokens as there are, up to `most` (a batch of pages: one token per request it may make). */
  takeUpTo(now: number, most: number): number {
    this.refill(now);
    const taken = Math.max(0, Math.min(most, Math.floor(this.tokens)));
    this.tokens -= taken;
    return taken;
  }

  /** Gives back tokens a batch did not use (it caught up, or met a removal, before its last page). */
  giveBack(count: number): void {
    this.tokens = Math.min(this.burst, this.tokens + count);
  }

  /** When the next token is there (now, if one is). */
  nextAt(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? now : now + Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
