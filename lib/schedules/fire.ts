// One firing of a schedule: admits its notification through the same admission path as
// POST /v1/notifications and POST /v1/emails, keyed by the schedule and the slot's scheduled time (never the
// time the firing actually ran), and records the slot. A firing retried, replayed, backfilled or started
// twice for one slot therefore finds the slot's row or the notification's idempotency key and sends nothing
// more.
//
// A 429 at firing time is recorded on the firing (RATE_LIMITED) and skipped, not retried: the limit exists
// to protect the recipient from floods, a retried slot would land late and bunch up with the next one, and a
// recurring schedule that runs into it will do so again each time, which the firing list makes visible.
import { and, eq, sql } from 'drizzle-orm';
import { scheduleFirings, schedules } from '../../db/schema/index.js';
import { admitNotification, IdempotencyConflictError, type AdmissionDeps } from '../notifications/admission.js';
import { RateLimitExceededError } from '../notifications/rate-limit.js';
import { ContactMissingError } from '../notifications/recipients.js';
import { TemplateChannelError, TemplateNotFoundError, TemplateParamsError } from '../notifications/templates.js';
import { isTenantDisabled } from '../tenants/tenants.js';
import { scheduleMetrics } from './metrics.js';
import { openRequest, resolveRequest } from './request.js';

export type FiringOutcome = 'CREATED' | 'DUPLICATE' | 'RATE_LIMITED' | 'REJECTED';
export interface FiringInput {
  scheduleId: string;
  scheduledAt: Date;
  workflowId?: string | undefined;
}
export interface FiringResult {
  outcome: FiringOutcome | 'SKIPPED';
  notificationId: string | null;
  detail: string | null;
}

/** The idempotency key of a slot: the scheduled time to the millisecond, in UTC. */
export function firingIdempotencyKey(scheduleId: string, scheduledAt: Date): string {
  return `schedule:${scheduleId}:${scheduledAt.toISOString()}`;
}

const rejections = [TemplateNotFoundError, TemplateParamsError, ContactMissingError, TemplateChannelError];

export async function fireSchedule(deps: AdmissionDeps, input: FiringInput): Promise<FiringResult> {
  const { db } = deps;
  const [schedule] = await db.select().from(schedules).where(eq(schedules.id, input.scheduleId));
  // Deleted: nothing to send, nothing to record. Archived: a slot from before the archive (its firing was
  // already started, e.g. waiting for a worker) still sends; archiving deleted the clock, so no later one comes.
  // The slot is its nominal time (Temporal stamps the time before jitter), never later than the start of its
  // firing, which came before the archive: a jittered firing that runs after the archive still sends.
  if (!schedule) return { outcome: 'SKIPPED', notificationId: null, detail: 'deleted' };
  if (schedule.archivedAt && input.scheduledAt > schedule.archivedAt) return { outcome: 'SKIPPED', notificationId: null, detail: 'archived' };
  // A disabled tenant's schedules are paused in Temporal (lib/tenants/apply-state.ts); a firing that got
  // through before that sends nothing either.
  if (await isTenantDisabled(db, schedule.owner)) return { outcome: 'SKIPPED', notificationId: null, detail: 'tenant disabled' };

  const [recorded] = await db
    .select()
    .from(scheduleFirings)
    .where(and(eq(scheduleFirings.scheduleId, schedule.id), eq(scheduleFirings.scheduledAt, input.scheduledAt)));
  if (recorded) return { outcome: 'DUPLICATE', notificationId: recorded.notificationId, detail: 'slot already fired' };

  let result: Omit<FiringResult, 'outcome'> & { outcome: FiringOutcome };
  try {
    const request = await resolveRequest(db, openRequest(deps.encryptor, schedule.id, schedule.requestSealed));
    const { notification, created } = await admitNotification(deps, {
      ...request,
      scope: schedule.owner,
      scheduleId: schedule.id,
      idempotencyKey: firingIdempotencyKey(schedule.id, input.scheduledAt),
      // The slot is the request: an edit of the schedule between two attempts of one slot is still the same slot.
      fingerprint: { scheduleId: schedule.id, scheduledAt: input.scheduledAt.toISOString() },
    });
    // Not created: the key's notification was committed by an earlier attempt of this same slot that could not
    // record it (no row was found above), or by an attempt racing this one: the row's insert below tells which.
    result = { outcome: 'CREATED', notificationId: notification.id, detail: created ? null : 'admitted by an earlier attempt of this slot' };
  } catch (error) {
    if (error instanceof RateLimitExceededError) result = { outcome: 'RATE_LIMITED', notificationId: null, detail: `rate limit: ${error.limit.description}` };
    else if (error instanceof IdempotencyConflictError) result = { outcome: 'DUPLICATE', notificationId: error.notificationId, detail: 'slot already fired' };
    else if (rejections.some((type) => error instanceof type)) result = { outcome: 'REJECTED', notificationId: null, detail: (error as Error).message };
    else throw error; // database or Temporal trouble: the activity retries
  }

  // Two attempts racing for one slot: the notification is one (admission's lock), and the row keeps CREATED;
  // the attempt whose insert finds the row already there is the duplicate.
  const [row] = await db
    .insert(scheduleFirings)
    .values({
      scheduleId: schedule.id,
      scheduledAt: input.scheduledAt,
      outcome: result.outcome,
      notificationId: result.notificationId,
      detail: result.detail,
      workflowId: input.workflowId ?? null,
    })
    .onConflictDoUpdate({
      target: [scheduleFirings.scheduleId, scheduleFirings.scheduledAt],
      set: {
        outcome: sql`case when excluded.outcome = 'CREATED' then excluded.outcome else ${scheduleFirings.outcome} end`,
        notificationId: sql`coalesce(${scheduleFirings.notificationId}, excluded.notification_id)`,
      },
    })
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  if (row && !row.inserted && result.outcome === 'CREATED') result = { ...result, outcome: 'DUPLICATE', detail: 'slot already fired' };
  scheduleMetrics.firings.inc({ schedule_id: schedule.id, outcome: result.outcome });
  return result;
}
