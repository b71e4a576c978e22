// The schedule verbs behind the API: each checks the owner, validates, and keeps the row (the system of
// record for what and whose) and the Temporal Schedule (the clock) in step.
import type { Client } from '@temporalio/client';
import { and, desc, eq, lt, ne, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications, scheduleFirings, schedules } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { newId } from '../ids.js';
import { ContactMissingError } from '../notifications/recipients.js';
import { TemplateChannelError, TemplateNotFoundError, TemplateParamsError } from '../notifications/templates.js';
import { checkEvery, checkGaps, consumePreview, previewLimit, withinCap } from './limits.js';
import { openRequest, resolveRequest, sealRequest, type ScheduledRequest } from './request.js';
import { specField, timeIssues, type When } from './spec.js';
import {
  createTemporalSchedule,
  DEFAULT_CATCHUP_WINDOW_SECONDS,
  deleteTemporalSchedule,
  describeTemporalSchedule,
  nextRunTimes,
  temporalScheduleId,
  updateTemporalSchedule,
} from './temporal.js';
import { findOwned } from '../tenants/owned.js';

export interface ScheduleDeps {
  db: Database;
  temporal: Client;
  config: Config;
  encryptor: Encryptor;
}
export type ScheduleRow = typeof schedules.$inferSelect;
export type ScheduleStatus = ScheduleRow['status'];

export class ScheduleValidationError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid schedule: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ScheduleValidationError';
  }
}
export class ScheduleConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleConflictError';
  }
}

export interface ScheduleInput {
  name?: string | undefined;
  request: ScheduledRequest;
  when: When;
  catchupWindowSeconds?: number | undefined;
}

/** Template and directory checks a firing would fail on, as 400s naming the field. */
async function checkRequest(db: Database, request: ScheduledRequest): Promise<void> {
  try {
    await resolveRequest(db, request);
  } catch (error) {
    if (error instanceof TemplateNotFoundError)
      throw new ScheduleValidationError([{ path: 'notification.templateId', message: `unknown template ${error.templateId}` }]);
    if (error instanceof TemplateChannelError) throw new ScheduleValidationError([{ path: 'notification.type', message: error.message }]);
    if (error instanceof TemplateParamsError) {
      throw new ScheduleValidationError([
        ...error.missing.map((name) => ({ path: `notification.templateParams.${name}`, message: 'missing: the template uses this parameter' })),
        ...error.unknown.map((name) => ({ path: `notification.templateParams.${name}`, message: 'unknown: the template does not declare this parameter' })),
      ]);
    }
    if (error instanceof ContactMissingError)
      throw new ScheduleValidationError([
        {
          path: 'notification.userId',
          message: `user ${error.userId} has no contact point for ${error.channel} (set it with PUT /v1/users/${error.userId}, or give "to")`,
        },
      ]);
    throw error;
  }
}

const isInvalidArgument = (error: unknown): boolean => {
  const e = error as { code?: number; cause?: { code?: number } } | undefined;
  return e?.code === 3 || e?.cause?.code === 3; // gRPC INVALID_ARGUMENT
};

async function validate(deps: ScheduleDeps, input: ScheduleInput): Promise<void> {
  const issues = timeIssues(input.when);
  if (issues.length) throw new ScheduleValidationError(issues);
  checkEvery(input.when, deps.config.SCHEDULE_MIN_INTERVAL_SECONDS);
  await checkRequest(deps.db, input.request);
}

/**
 * Cron and calendar specs: the gaps between the run times Temporal computed for the schedule `id` (just
 * created or updated). With jitter those times are jittered, so the slots themselves are computed on a
 * throw-away copy of the spec without it.
 */
async function checkCadence(deps: ScheduleDeps, id: string, when: When): Promise<void> {
  if (when.type !== 'cron' && when.type !== 'calendar') return;
  const times = when.jitterSeconds
    ? await throwAwayRunTimes(deps, { ...when, jitterSeconds: 0 }, 10)
    : nextRunTimes(await describeTemporalSchedule(deps.temporal, id), 10);
  checkGaps(when, times, deps.config.SCHEDULE_MIN_INTERVAL_SECONDS);
}

/** Temporal computes the run times: a spec it refuses, or one with no run ahead, is the caller's 400. */
async function checkFires(deps: ScheduleDeps, id: string, when: When, apply: () => Promise<unknown>): Promise<void> {
  try {
    await apply();
  } catch (error) {
    // The server refuses a spec (INVALID_ARGUMENT); the SDK refuses some before sending (a TypeError).
    if (isInvalidArgument(error) || error instanceof TypeError)
      throw new ScheduleValidationError([{ path: specField(when), message: (error as Error).message }]);
    throw error;
  }
  // A one-off in the future (checked by timeIssues) fires; its slot may even be taken before a describe.
  if (when.type === 'once') return;
  // The server's scheduler fills in the run times just after a create or update: ask again briefly before
  // concluding that there are none.
  for (let attempt = 0; ; attempt++) {
    const description = await describeTemporalSchedule(deps.temporal, id);
    if (nextRunTimes(description, 1).length > 0) return;
    if (attempt >= 8) break;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new ScheduleValidationError([{ path: specField(when), message: 'never fires (no run time ahead within start and end)' }]);
}

export async function createSchedule(deps: ScheduleDeps, owner: string, input: ScheduleInput): Promise<ScheduleRow> {
  await validate(deps, input);
  const id = newId('sch');
  const catchupWindowSeconds = input.catchupWindowSeconds ?? DEFAULT_CATCHUP_WINDOW_SECONDS;
  const row = await withinCap(
    deps.db,
    deps.config,
    owner,
    async (tx) =>
      (
        await tx
          .insert(schedules)
          .values({
            id,
            owner,
            name: input.name ?? null,
            kind: input.request.kind,
            requestSealed: sealRequest(deps.encryptor, id, input.request),
            spec: input.when as Record<string, unknown>,
            startAt: input.when.startAt ? new Date(input.when.startAt) : null,
            endAt: input.when.endAt ? new Date(input.when.endAt) : null,
            jitterSeconds: input.when.jitterSeconds ?? 0,
            catchupWindowSeconds,
            temporalScheduleId: temporalScheduleId(id),
          })
          .returning()
      )[0]!,
  );
  // The row first: a firing that finds no row sends nothing. Any failure after it removes both.
  try {
    await checkFires(deps, id, input.when, () =>
      createTemporalSchedule(deps.temporal, deps.config, { scheduleId: id, name: input.name ?? null, when: input.when, catchupWindowSeconds }),
    );
    await checkCadence(deps, id, input.when);
  } catch (error) {
    await deleteTemporalSchedule(deps.temporal, id).catch(() => undefined);
    await deps.db.delete(schedules).where(eq(schedules.id, id));
    throw error;
  }
  return row;
}

export async function findSchedule(db: Database, owner: string, id: string): Promise<ScheduleRow | undefined> {
  return findOwned(db, schedules, owner, id);
}

function whenOf(row: ScheduleRow): When {
  return row.spec as When;
}

/**
 * How long after a slot Temporal may still start its firing: the jitter delays the start by up to
 * jitterSeconds after the slot, and a start missed while Temporal was down is still made within the
 * catch-up window after that jittered time. Archiving deletes the Temporal Schedule, so not before.
 */
function lateStartMs(row: Pick<ScheduleRow, 'jitterSeconds' | 'catchupWindowSeconds'>): number {
  return (row.jitterSeconds + row.catchupWindowSeconds) * 1000;
}

/**
 * Ended (its end, plus the time its last slot may still start, has passed) or spent (a one-off that fired,
 * or whose Temporal Schedule has nothing left): archived.
 */
export async function archiveIfExpired(deps: ScheduleDeps, row: ScheduleRow, now = new Date()): Promise<ScheduleRow> {
  if (row.status === 'ARCHIVED') return row;
  // The last slot is at or before endAt, but Temporal starts it up to the jitter later (and up to the
  // catch-up window after that): deleting the clock at endAt would drop it.
  if (row.endAt && row.endAt.getTime() + lateStartMs(row) <= now.getTime()) return archive(deps, row, 'ended');
  if (whenOf(row).type !== 'once') return row;
  const [fired] = await deps.db.select({ at: scheduleFirings.scheduledAt }).from(scheduleFirings).where(eq(scheduleFirings.scheduleId, row.id)).limit(1);
  if (fired) return archive(deps, row, 'fired');
  // Spent but not recorded: its firing may still be waiting for its jitter or for a worker, so only once
  // that could no longer be the case is it archived as missed.
  const at = Date.parse((whenOf(row) as { at: string }).at);
  if (now.getTime() - at < lateStartMs(row)) return row;
  const description = await describeTemporalSchedule(deps.temporal, row.id);
  if (!description || description.state.remainingActions === 0 || description.info.nextActionTimes.length === 0) return archive(deps, row, 'missed');
  return row;
}

export async function archive(deps: ScheduleDeps, row: ScheduleRow, reason: string): Promise<ScheduleRow> {
  await deleteTemporalSchedule(deps.temporal, row.id);
  const [updated] = await deps.db
    .update(schedules)
    .set({ status: 'ARCHIVED', archivedAt: new Date(), archiveReason: reason, updatedAt: new Date() })
    .where(and(eq(schedules.id, row.id), ne(schedules.status, 'ARCHIVED')))
    .returning();
  if (updated) return updated;
  // Archived meanwhile by another path (the firing, a read): answer with that record.
  const [current] = await deps.db.select().from(schedules).where(eq(schedules.id, row.id));
  return current ?? { ...row, status: 'ARCHIVED' };
}

export interface ListQuery {
  view: 'active' | 'archived' | 'all';
  status?: ScheduleStatus | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listSchedules(deps: ScheduleDeps, owner: string, q: ListQuery): Promise<{ rows: ScheduleRow[]; nextCursor: string | null }> {
  const filters: (SQL | undefined)[] = [
    eq(schedules.owner, owner),
    q.status ? eq(schedules.status, q.status) : undefined,
    q.view === 'active' ? ne(schedules.status, 'ARCHIVED') : q.view === 'archived' ? eq(schedules.status, 'ARCHIVED') : undefined,
    q.cursor ? lt(schedules.id, q.cursor) : undefined,
  ];
  const rows = await deps.db
    .select()
    .from(schedules)
    .where(and(...filters))
    .orderBy(desc(schedules.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const checked = await Promise.all(page.map((row) => archiveIfExpired(deps, row)));
  return { rows: checked, nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

export async function updateSchedule(deps: ScheduleDeps, row: ScheduleRow, patch: Partial<ScheduleInput>): Promise<ScheduleRow> {
  if (row.status === 'ARCHIVED') throw new ScheduleConflictError(`schedule ${row.id} is archived`);
  const input: ScheduleInput = {
    name: patch.name ?? row.name ?? undefined,
    request: patch.request ?? openRequest(deps.encryptor, row.id, row.requestSealed),
    when: patch.when ?? whenOf(row),
    catchupWindowSeconds: patch.catchupWindowSeconds ?? row.catchupWindowSeconds,
  };
  if (patch.when) {
    const issues = timeIssues(input.when);
    if (issues.length) throw new ScheduleValidationError(issues);
    checkEvery(input.when, deps.config.SCHEDULE_MIN_INTERVAL_SECONDS);
  }
  if (patch.request) await checkRequest(deps.db, input.request);
  const previous = await describeTemporalSchedule(deps.temporal, row.id);
  await checkFires(deps, row.id, input.when, () =>
    updateTemporalSchedule(deps.temporal, deps.config, {
      scheduleId: row.id,
      name: input.name ?? null,
      when: input.when,
      catchupWindowSeconds: input.catchupWindowSeconds!,
    }),
  )
    .then(() => (patch.when ? checkCadence(deps, row.id, input.when) : undefined))
    .catch(async (error: unknown) => {
      // Put the clock back as it was: the row has not changed.
      if (previous)
        await deps.temporal.schedule
          .getHandle(temporalScheduleId(row.id))
          .update(() => ({ ...previous, state: { ...previous.state } }))
          .catch(() => undefined);
      throw error;
    });
  const [updated] = await deps.db
    .update(schedules)
    .set({
      name: input.name ?? null,
      kind: input.request.kind,
      requestSealed: sealRequest(deps.encryptor, row.id, input.request),
      spec: input.when,
      startAt: input.when.startAt ? new Date(input.when.startAt) : null,
      endAt: input.when.endAt ? new Date(input.when.endAt) : null,
      jitterSeconds: input.when.jitterSeconds ?? 0,
      catchupWindowSeconds: input.catchupWindowSeconds!,
      updatedAt: new Date(),
    })
    .where(eq(schedules.id, row.id))
    .returning();
  return updated!;
}

function live(row: ScheduleRow) {
  if (row.status === 'ARCHIVED') throw new ScheduleConflictError(`schedule ${row.id} is archived`);
}

export async function pauseSchedule(deps: ScheduleDeps, row: ScheduleRow, note: string | undefined): Promise<ScheduleRow> {
  live(row);
  await deps.temporal.schedule.getHandle(temporalScheduleId(row.id)).pause(note || 'paused');
  return setPaused(deps, row, { status: 'PAUSED', pauseNote: note ?? null });
}

export async function unpauseSchedule(deps: ScheduleDeps, row: ScheduleRow): Promise<ScheduleRow> {
  live(row);
  await deps.temporal.schedule.getHandle(temporalScheduleId(row.id)).unpause('unpaused');
  return setPaused(deps, row, { status: 'ACTIVE', pauseNote: null });
}

/** Records what Temporal's Schedule was just told: paused (with its note) or active again. */
async function setPaused(deps: ScheduleDeps, row: ScheduleRow, state: { status: 'PAUSED' | 'ACTIVE'; pauseNote: string | null }): Promise<ScheduleRow> {
  const [updated] = await deps.db
    .update(schedules)
    .set({ ...state, updatedAt: new Date() })
    .where(eq(schedules.id, row.id))
    .returning();
  return updated!;
}

/** Fires now, as an extra slot at the current time (paused or not). */
export async function triggerSchedule(deps: ScheduleDeps, row: ScheduleRow): Promise<void> {
  live(row);
  await deps.temporal.schedule.getHandle(temporalScheduleId(row.id)).trigger('ALLOW_ALL');
}

/** The schedule and its firing record go; the notifications it created stay. */
export async function deleteSchedule(deps: ScheduleDeps, row: ScheduleRow): Promise<void> {
  await deleteTemporalSchedule(deps.temporal, row.id);
  await deps.db.delete(schedules).where(eq(schedules.id, row.id));
}

export interface FiringView {
  scheduledAt: Date;
  firedAt: Date;
  outcome: string;
  detail: string | null;
  notificationId: string | null;
  notificationStatus: string | null;
}

export async function recentFirings(db: Database, scheduleId: string, limit = 20): Promise<FiringView[]> {
  const rows = await db
    .select({
      scheduledAt: scheduleFirings.scheduledAt,
      firedAt: scheduleFirings.firedAt,
      outcome: scheduleFirings.outcome,
      detail: scheduleFirings.detail,
      notificationId: scheduleFirings.notificationId,
      notificationStatus: notifications.status,
    })
    .from(scheduleFirings)
    .leftJoin(notifications, eq(notifications.id, scheduleFirings.notificationId))
    .where(eq(scheduleFirings.scheduleId, scheduleId))
    .orderBy(desc(scheduleFirings.scheduledAt))
    .limit(limit);
  return rows;
}

export interface ScheduleStats {
  firings: number;
  sent: number;
  delivered: number;
  opened: number;
  failed: number;
  deadLettered: number;
}

/** Reporting per schedule: its firings, and how the notifications they created fared. */
export async function scheduleStats(db: Database, scheduleId: string): Promise<ScheduleStats> {
  const [row] = await db
    .select({
      firings: sql<number>`count(*)::int`,
      sent: sql<number>`count(${notifications.sentAt})::int`,
      delivered: sql<number>`count(${notifications.deliveredAt})::int`,
      opened: sql<number>`count(${notifications.openedAt})::int`,
      failed: sql<number>`count(*) filter (where ${notifications.status} = 'FAILED')::int`,
      deadLettered: sql<number>`count(*) filter (where ${notifications.status} = 'DEAD_LETTERED')::int`,
    })
    .from(scheduleFirings)
    .leftJoin(notifications, eq(notifications.id, scheduleFirings.notificationId))
    .where(eq(scheduleFirings.scheduleId, scheduleId));
  return row ?? { firings: 0, sent: 0, delivered: 0, opened: 0, failed: 0, deadLettered: 0 };
}

export async function lastOutcomes(db: Database, ids: string[]): Promise<Map<string, FiringView>> {
  if (ids.length === 0) return new Map();
  const rows = await db.execute<{
    schedule_id: string;
    scheduled_at: string;
    fired_at: string;
    outcome: string;
    detail: string | null;
    notification_id: string | null;
    status: string | null;
  }>(sql`
    select distinct on (f.schedule_id) f.schedule_id, f.scheduled_at, f.fired_at, f.outcome, f.detail, f.notification_id, n.status
    from ${scheduleFirings} f left join ${notifications} n on n.id = f.notification_id
    where f.schedule_id in ${sql`(${sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    )})`}
    order by f.schedule_id, f.scheduled_at desc`);
  return new Map(
    [...rows].map((r) => [
      r.schedule_id,
      {
        scheduledAt: new Date(r.scheduled_at),
        firedAt: new Date(r.fired_at),
        outcome: r.outcome,
        detail: r.detail,
        notificationId: r.notification_id,
        notificationStatus: r.status,
      },
    ]),
  );
}

export { describeTemporalSchedule, nextRunTimes };

/**
 * The next run times of a spec before it is saved, for the API key `apiKey`: Temporal computes them for a
 * paused, throw-away Schedule (a paused Schedule never fires), so the preview is exactly what the saved
 * schedule will do. Each call creates and deletes a Temporal Schedule, so each key has a rate limit
 * (RateLimitExceededError).
 */
export async function previewRunTimes(deps: ScheduleDeps, apiKey: string, when: When, count = 5): Promise<Date[]> {
  const issues = timeIssues(when);
  if (issues.length) throw new ScheduleValidationError(issues);
  await consumePreview(deps.db, previewLimit(deps.config, apiKey));
  return throwAwayRunTimes(deps, when, count);
}

async function throwAwayRunTimes(deps: ScheduleDeps, when: When, count: number): Promise<Date[]> {
  const id = `preview-${newId('sch')}`;
  try {
    await checkFires(deps, id, when, () =>
      createTemporalSchedule(deps.temporal, deps.config, {
        scheduleId: id,
        name: 'preview',
        when,
        catchupWindowSeconds: DEFAULT_CATCHUP_WINDOW_SECONDS,
        paused: { note: 'preview only: never fires' },
      }),
    );
    return nextRunTimes(await describeTemporalSchedule(deps.temporal, id), count);
  } finally {
    await deleteTemporalSchedule(deps.temporal, id).catch(() => undefined);
  }
}
