// Starting notification workflows after admission commits. Admission stores the notification and a
// notification_starts row (the outbox) in one statement and commits; only then is the workflow started, so
// the workflow always finds its row, and no database connection waits on Temporal. The outbox row goes once
// Temporal has the run. A process that dies between commit and start, or a start Temporal refuses, leaves
// the row: the recovery sweep starts it again. The workflow id is the notification's and the start joins a
// running run (and never restarts a completed one), so a start repeated by the sweep, by a duplicate request
// or by two API processes is still one run, and the send activity's status check keeps it one message.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { deadlineMs } from './policy.js';
import { startNotificationWorkflow, type Priority, type StartableNotification } from './start-workflow.js';

/** The outbox row's `start` column, checked when the sweep reads it back. */
export const startableNotification: z.ZodType<StartableNotification> = z.object({
  notificationId: z.string(),
  channel: z.enum(['EMAIL', 'SMS', 'PUSH']),
  priority: z.enum(['critical', 'medium', 'low']),
  acceptedAt: z.number(),
  sendTaskQueue: z.string(),
  retry: z.object({ maximumAttempts: z.number(), initialIntervalMs: z.number(), maximumIntervalMs: z.number(), backoffCoefficient: z.number() }),
  userId: z.string().nullable(),
  correlationId: z.string().nullable(),
  scheduleId: z.string().nullable().optional(),
});

export interface StartsDeps {
  db: Database;
  temporal: Client;
  config: Pick<Config, 'TASK_QUEUE_PREFIX'>;
  logger?: Logger;
}

export interface StartsOptions {
  /** true (the API): start in the background and answer at once; false: the caller awaits the start. */
  background?: boolean;
  /** Starts in flight at once per process; more wait in memory (and the sweep covers a crash). */
  concurrency?: number;
  /** How long confirmed starts gather before one statement deletes their outbox rows. */
  flushMs?: number;
}

/** Starts one workflow; true when Temporal has the run (a run that already exists counts). */
async function startOnce(deps: StartsDeps, n: StartableNotification): Promise<boolean> {
  try {
    await startNotificationWorkflow(deps.temporal, deps.config, n);
    return true;
  } catch (error) {
    // The reuse policy refuses a second run after a completed one: the notification had its run.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return true;
    deps.logger?.warn({ notificationId: n.notificationId, err: error }, 'workflow start failed; the recovery sweep will start it');
    return false;
  }
}

async function forgetStarts(db: Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`delete from notification_starts where notification_id = any(${toTextArray(ids)}::text[])`);
}

/** A text[] literal as one parameter (drizzle expands a JS array into a list of parameters). */
function toTextArray(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}

export class NotificationStarts {
  private readonly background: boolean;
  private readonly concurrency: number;
  private readonly flushMs: number;
  /** Per priority, so a burst of MEDIUM starts never queues a CRITICAL one behind it. */
  private readonly waiting: Record<Priority, StartableNotification[]> = { critical: [], medium: [], low: [] };
  /** Ids waiting or in flight here: a sweep or a repeat never queues one twice. */
  private readonly pending = new Set<string>();
  private inFlight = 0;
  private confirmed: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private idle: (() => void)[] = [];

  constructor(
    private readonly deps: StartsDeps,
    options: StartsOptions = {},
  ) {
    this.background = options.background ?? true;
    // Enough to start far more runs a second than a server completes, and few enough that a burst's starts
    // do not queue up on a busy server ahead of a CRITICAL run's own operations.
    this.concurrency = options.concurrency ?? 8;
    this.flushMs = options.flushMs ?? 50;
  }

  /** Called once admission has committed the notification and its outbox row. */
  async afterCommit(n: StartableNotification): Promise<void> {
    if (this.background) {
      this.enqueue(n);
      return;
    }
    if (await startOnce(this.deps, n)) await forgetStarts(this.deps.db, [n.notificationId]).catch(() => undefined);
  }

  /** Queues a start in the background; false when this notification's start is already queued or in flight. */
  enqueue(n: StartableNotification): boolean {
    if (this.pending.has(n.notificationId)) return false;
    this.pending.add(n.notificationId);
    this.waiting[n.priority].push(n);
    this.pump();
    return true;
  }

  /**
   * Waits (at most `timeoutMs`: Temporal may be down) for the starts queued and in flight, then deletes the
   * outbox rows of those Temporal confirmed; what is left is the recovery sweep's.
   */
  async drain(timeoutMs = 5_000): Promise<void> {
    const idle = (async () => {
      while (this.queued() > 0 || this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      idle,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await this.flush();
  }

  private queued(): number {
    return this.waiting.critical.length + this.waiting.medium.length + this.waiting.low.length;
  }

  private pump(): void {
    // CRITICAL starts never wait for a slot: a burst of MEDIUM starts in flight on a busy server must not
    // delay one (their number is bounded by admission's rate limits).
    while (this.waiting.critical.length > 0) this.launch(this.waiting.critical.shift()!);
    while (this.inFlight < this.concurrency && this.queued() > 0) this.launch(this.nextByDeadline());
  }

  /**
   * Of the MEDIUM and LOW starts at the head of their queues (each in about acceptance order, so deadline
   * order), the one due first: a burst of MEDIUM never holds back a LOW accepted long enough ago to be due sooner.
   */
  private nextByDeadline(): StartableNotification {
    const [medium, low] = [this.waiting.medium[0], this.waiting.low[0]];
    const due = (n: StartableNotification | undefined) => (n ? n.acceptedAt + deadlineMs[n.priority] : Infinity);
    return (due(low) < due(medium) ? this.waiting.low.shift() : this.waiting.medium.shift()) ?? this.waiting.low.shift()!;
  }

  private launch(n: StartableNotification): void {
    this.inFlight++;
    void startOnce(this.deps, n)
      .then((ok) => {
        if (ok) this.confirm(n.notificationId);
      })
      .finally(() => {
        this.pending.delete(n.notificationId);
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queued() === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
  }

  private confirm(id: string): void {
    this.confirmed.push(id);
    this.flushTimer ??= setTimeout(() => {
      void this.flush();
    }, this.flushMs);
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const ids = this.confirmed.splice(0);
    // One delete at a time: a failed one only leaves rows for the sweep, whose starts join the runs.
    this.flushing = this.flushing
      .then(() => forgetStarts(this.deps.db, ids))
      .catch((error: unknown) => {
        this.deps.logger?.warn({ err: error, count: ids.length }, 'could not clear confirmed workflow starts; the sweep will');
      });
    return this.flushing;
  }
}

/**
 * Claims up to `limit` outbox rows at least `olderThanSeconds` old, oldest first, by stamping them now: a row
 * claimed by one process's sweep is not old again for another `olderThanSeconds`, so sweeps in several
 * processes share the work instead of repeating it (skip locked), and a claim whose process dies comes back.
 */
async function claimUnstarted(deps: StartsDeps, options: { olderThanSeconds: number; limit?: number }): Promise<StartableNotification[]> {
  const rows = await deps.db.execute<{ notification_id: string; start: unknown }>(sql`
    update notification_starts set created_at = now() where notification_id in (
      select notification_id from notification_starts
       where created_at <= now() - make_interval(secs => ${options.olderThanSeconds})
         -- A deployment starts only its own (TASK_QUEUE_PREFIX isolates deployments sharing a namespace).
         and starts_with(start->>'sendTaskQueue', ${deps.config.TASK_QUEUE_PREFIX})
       order by created_at limit ${options.limit ?? 200} for update skip locked)
    returning notification_id, start`);
  return rows.flatMap((row) => {
    const parsed = startableNotification.safeParse(row.start);
    if (parsed.success) return [parsed.data];
    deps.logger?.error({ notificationId: row.notification_id }, 'unreadable workflow start in the outbox; left for an operator');
    return [];
  });
}

/**
 * Starts (awaited) the workflows of notifications committed at least `olderThanSeconds` ago whose start was
 * never confirmed; answers how many Temporal now has.
 */
export async function recoverUnstartedNotifications(deps: StartsDeps, options: { olderThanSeconds: number; limit?: number }): Promise<number> {
  const claimed = await claimUnstarted(deps, options);
  const started = (await Promise.all(claimed.map(async (n) => ((await startOnce(deps, n)) ? n.notificationId : null)))).filter(
    (id): id is string => id !== null,
  );
  await forgetStarts(deps.db, started);
  if (started.length > 0)
    deps.logger?.warn({ count: started.length, notificationIds: started.slice(0, 20) }, 'started workflows whose start had not been confirmed');
  return started.length;
}

/**
 * Every `intervalSeconds`, claims the rows at least that old and hands them to this process's starts (which
 * skip those already waiting there, e.g. behind a slow Temporal), so recovery never adds a second stream
 * of starts to a server that is already behind.
 */
export function runStartRecovery(deps: StartsDeps, starts: NotificationStarts, intervalSeconds: number): { stop: () => Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(async () => {
        const claimed = await claimUnstarted(deps, { olderThanSeconds: intervalSeconds });
        const handed = claimed.filter((n) => starts.enqueue(n)).length;
        if (handed > 0)
          deps.logger?.warn(
            { count: handed, notificationIds: claimed.slice(0, 20).map((n) => n.notificationId) },
            'starting workflows whose start had not been confirmed',
          );
      })
      .catch((error: unknown) => deps.logger?.warn({ err: error }, 'workflow start recovery failed; next round retries'));
  }, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
