// The sync workflow's scheduling rules: which folder reads next, and when a removal may be applied.
import { describe, expect, it } from 'vitest';
import { dueAt, FOLDER_LIST, newTask, nextDue, pickDue, RequestBudget, resolvableRemovals, type SyncTask } from '../../workflows/mailbox-sync-schedule.js';

const task = (key: string, patch: Partial<SyncTask> = {}): SyncTask => ({
  ...newTask(key, key, { cursor: null, caughtUp: false, initialDone: false }, 0),
  ...patch,
});
const caughtUp = (key: string, roundTick: number, at: number, patch: Partial<SyncTask> = {}) =>
  task(key, { cursor: 'delta', caughtUp: true, initialDone: true, completedRoundStartTick: roundTick, caughtUpAt: at, readyAt: at, ...patch });

describe('due times', () => {
  it('reads a folder mid-round at once, and a caught-up one only when a round is asked for after its last', () => {
    expect(dueAt(task('a', { cursor: 'next', readyAt: 500 }), 0)).toBe(500);
    expect(dueAt(caughtUp('b', 3, 1_000), 3)).toBe(Infinity);
    expect(dueAt(caughtUp('b', 3, 1_000), 4)).toBe(1_000);
    expect(dueAt(task('fresh', { readyAt: 5 }), 0)).toBe(5); // never read: due at once
  });

  it('waits out a backoff even when a round is wanted', () => {
    expect(dueAt(caughtUp('b', 3, 1_000, { readyAt: 60_000 }), 9)).toBe(60_000);
    expect(dueAt(task('a', { cursor: 'next', readyAt: 60_000 }), 0)).toBe(60_000);
  });

  it('picks the most overdue first, the folder list before folders at the same time, never one in flight, and at most the free slots', () => {
    const tasks = [
      task('x', { readyAt: 50 }),
      task(FOLDER_LIST, { readyAt: 50 }),
      task('y', { readyAt: 10 }),
      task('z', { readyAt: 0, inFlight: true }),
      caughtUp('w', 1, 0),
    ];
    expect(pickDue(tasks, 100, 4, 1).map((t) => t.key)).toEqual(['y', FOLDER_LIST, 'x']);
    expect(pickDue(tasks, 100, 4, 2).map((t) => t.key)).toEqual(['w', 'y', FOLDER_LIST, 'x']); // a round: w too
    expect(pickDue(tasks, 100, 1, 1).map((t) => t.key)).toEqual(['y']);
    expect(pickDue(tasks, 100, 0, 1)).toEqual([]);
    expect(nextDue([caughtUp('w', 1, 0), task('v', { cursor: 'next', readyAt: 5_000 })], 1)).toBe(5_000);
    expect(nextDue([caughtUp('w', 1, 0)], 1)).toBeUndefined(); // nothing before the next round
    expect(nextDue([task('z', { inFlight: true })], 0)).toBeUndefined();
  });

  it('lets a folder in its initial sync and caught-up folders take turns when a round comes: each page sends a folder to the back', () => {
    const big = task('big', { cursor: 'next', readyAt: 100 });
    const small = caughtUp('small', 1, 0);
    expect(pickDue([big, small], 30_500, 1, 1).map((t) => t.key)).toEqual(['big']);
    // The round timer fired (round 2): the small folder, ready since 0, goes before the big one's next page.
    big.readyAt = 30_400;
    expect(pickDue([big, small], 30_500, 1, 2).map((t) => t.key)).toEqual(['small']);
  });
});

describe('removals', () => {
  it('are applied only after every task, the folder list included, completed a round started after them', () => {
    const pending = [
      { seq: 7, observedTick: 10 },
      { seq: 9, observedTick: 20 },
    ];
    const tasks = [caughtUp(FOLDER_LIST, 15, 0), caughtUp('inbox', 25, 0), caughtUp('archive', 30, 0)];
    expect(resolvableRemovals(pending, tasks)).toEqual([{ seq: 7, observedTick: 10 }]);
    tasks[0]!.completedRoundStartTick = 21;
    expect(resolvableRemovals(pending, tasks).map((p) => p.seq)).toEqual([7, 9]);
  });

  it('wait for a folder that has never completed a round (it may hold a moved message)', () => {
    const tasks = [caughtUp(FOLDER_LIST, 50, 0), caughtUp('inbox', 50, 0), task('new-folder')];
    expect(resolvableRemovals([{ seq: 1, observedTick: 10 }], tasks)).toEqual([]);
  });
});

describe('the request budget', () => {
  it('allows a burst of the lanes, then refills at the rate, never above the burst', () => {
    const budget = new RequestBudget(2, 4, 0); // 2 per second, 4 deep
    expect([1, 2, 3, 4, 5].map(() => budget.take(0))).toEqual([true, true, true, true, false]);
    expect(budget.nextAt(0)).toBe(500);
    expect(budget.take(499)).toBe(false);
    expect(budget.take(500)).toBe(true);
    expect([1, 2, 3, 4, 5].map(() => budget.take(60_000))).toEqual([true, true, true, true, false]);
  });

  it("hands its bucket to the workflow's next run, spent tokens and all", () => {
    const budget = new RequestBudget(2, 4, 0);
    expect(budget.takeUpTo(0, 4)).toBe(4);
    const next = new RequestBudget(2, 4, 100, budget.carry(100)); // the next run starts at 100 ms
    expect(next.take(100)).toBe(false); // a fresh bucket would have had 4
    expect(next.nextAt(100)).toBe(500);
    expect(next.take(500)).toBe(true);
    // A run whose settings shrank the burst never starts with more than it.
    expect(new RequestBudget(2, 2, 0, { tokens: 4, at: 0 }).takeUpTo(0, 8)).toBe(2);
  });

  it('grants a batch of pages only the tokens it has, and takes back the ones a batch did not use', () => {
    const budget = new RequestBudget(2, 4, 0);
    expect(budget.takeUpTo(0, 8)).toBe(4); // never more than the bucket holds
    expect(budget.takeUpTo(0, 8)).toBe(0);
    expect(budget.takeUpTo(250, 8)).toBe(0); // half a token is not a request
    expect(budget.takeUpTo(1_000, 8)).toBe(2);
    budget.giveBack(1); // the batch caught up after one page
    expect(budget.takeUpTo(1_000, 8)).toBe(1);
    budget.giveBack(50);
    expect(budget.takeUpTo(1_000, 100)).toBe(4); // given-back tokens never overfill the bucket
  });
});
