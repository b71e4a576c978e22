// An endpoint's deliveries: which are pending (for the dispatcher, in lane order), what each attempt came to,
// and what the tenant can list and replay.
import { and, desc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webhookDeliveries, webhookEndpoints } from '../../db/schema/index.js';
import { newId } from '../ids.js';
import { TEST_EVENT_TYPE } from './event-types.js';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryStatus = DeliveryRow['status'];

/** What sending a delivery needs of it; the payload as the JSON text that is sent, never parsed here. */
export type PendingDelivery = Pick<DeliveryRow, 'id' | 'eventId' | 'orderingKey' | 'attempts' | 'nextAttemptAt'> & { body: string };

/**
 * Up to `limit` of the endpoint's pending deliveries after `afterId`, in id order (each lane's order), those
 * waiting for a retry included: which are due is the dispatcher's to say (lib/webhooks/dispatch.ts). One
 * range of the pending index, no query per row, so a plan made on stale statistics (a queue table fills
 * faster than it is analyzed) can cost a scan of the backlog at worst: a search per row for a waiting
 * head, planned that way, cost 50-290 ms a batch.
 */
export async function pendingDeliveries(db: Database, endpointId: string, limit: number, afterId: number): Promise<PendingDelivery[]> {
  const d = webhookDeliveries;
  return db
    .select({
      id: d.id,
      eventId: d.eventId,
      orderingKey: d.orderingKey,
      body: sql<string>`${d.payload}::text`,
      attempts: d.attempts,
      nextAttemptAt: d.nextAttemptAt,
    })
    .from(d)
    .where(and(eq(d.endpointId, endpointId), eq(d.status, 'PENDING'), gt(d.id, afterId)))
    .orderBy(d.id)
    .limit(limit);
}

/** When the endpoint's next waiting head is due (ms since the epoch), or null when none waits. */
export async function nextDueAt(db: Database, endpointId: string): Promise<number | null> {
  const d = webhookDeliveries;
  const [row] = await db
    .select({ at: sql<Date | null>`min(${d.nextAttemptAt})` })
    .from(d)
    .where(and(eq(d.endpointId, endpointId), eq(d.status, 'PENDING'), sql`${d.attempts} > 0`));
  return row?.at ? new Date(row.at).getTime() : null;
}

export interface AttemptOutcome {
  id: number;
  /** PENDING: to be tried again at `nextAttemptAt`. */
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

/** The longest wait a Retry-After can ask for: an endpoint cannot park a delivery for longer. */
const RETRY_AFTER_MAX_MS = 24 * 3_600_000;

/**
 * When a failed delivery is tried again: the schedule's next delay, or later if the endpoint asked
 * (Retry-After, up to a day); null when the schedule is spent (given up).
 */
export function retryAt(attemptsBefore: number, delaysSeconds: readonly number[], retryAfterMs: number | undefined, now: number): Date | null {
  const delay = delaysSeconds[attemptsBefore];
  if (delay === undefined) return null;
  const asked = Math.min(retryAfterMs ?? 0, RETRY_AFTER_MAX_MS);
  return new Date(now + Math.max(delay * 1_000, asked));
}

/**
 * Records a batch of an endpoint's attempts in one statement. A delivery no longer pending (replayed,
 * deleted) is left alone. The endpoint is named so that each row is one probe whichever index the plan
 * takes: on stale statistics it took the pending index by id alone, a scan of that index per row (0.2-0.6
 * ms each).
 */
export async function recordAttempts(db: Database, endpointId: string, outcomes: AttemptOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({
    id: o.id,
    status: o.status,
    next_attempt_at: o.nextAttemptAt?.toISOString() ?? null,
    attempted_at: o.attemptedAt.toISOString(),
    status_code: o.statusCode,
    duration_ms: o.durationMs,
    error: o.error,
  }));
  await db.execute(sql`
    update ${webhookDeliveries} d set
      status = v.status::webhook_delivery_status,
      attempts = d.attempts + 1,
      next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
      last_attempt_at = v.attempted_at,
      last_status = v.status_code,
      last_duration_ms = v.duration_ms,
      last_error = v.error,
      completed_at = case when v.status <> 'PENDING' then now() end
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as v(id bigint, status text, next_attempt_at timestamptz, attempted_at timestamptz, status_code int, duration_ms int, error text)
    where d.endpoint_id = ${endpointId} and d.id = v.id and d.status = 'PENDING'`);
}

/**
 * The endpoint's health after a batch: any success ends its run of failures; a run that has lasted
 * `disableAfterSeconds`, or a 410 Gone, disables it with the reason. Answers whether it is still enabled.
 */
export async function recordEndpointHealth(
  db: Database,
  endpointId: string,
  batch: { succeeded: boolean; failedAt: Date | null; gone: boolean; lastError: string | null },
  disableAfterSeconds: number,
): Promise<boolean> {
  const e = webhookEndpoints;
  const failing = batch.succeeded ? null : sql`coalesce(${e.failingSince}, ${batch.failedAt?.toISOString() ?? null}::timestamptz)`;
  const reason = batch.gone
    ? 'the endpoint answered 410 Gone'
    : sql`'every delivery has failed since ' || to_char(${failing} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; the last: ' || ${batch.lastError ?? 'unknown'}`;
  const disable = batch.gone ? sql`true` : batch.succeeded ? sql`false` : sql`(${failing}) < now() - make_interval(secs => ${disableAfterSeconds})`;
  const [row] = await db
    .update(e)
    .set({
      failingSince: failing,
      enabled: sql`${e.enabled} and not ${disable}`,
      disabledAt: sql`case when ${e.enabled} and ${disable} then now() else ${e.disabledAt} end`,
      disabledReason: sql`case when ${e.enabled} and ${disable} then ${reason} else ${e.disabledReason} end`,
    })
    .where(eq(e.id, endpointId))
    .returning({ enabled: e.enabled });
  return row?.enabled ?? false;
}

/** The tenant's deliveries to the endpoint, newest first, before `beforeId` and of one status when given. */
export async function listDeliveries(
  db: Database,
  owner: string,
  endpointId: string,
  options: { limit: number; beforeId?: number | undefined; status?: DeliveryStatus | undefined },
): Promise<DeliveryRow[]> {
  const d = webhookDeliveries;
  return db
    .select()
    .from(d)
    .where(
      and(
        eq(d.endpointId, endpointId),
        eq(d.owner, owner),
        options.beforeId !== undefined ? lt(d.id, options.beforeId) : undefined,
        options.status ? eq(d.status, options.status) : undefined,
      ),
    )
    .orderBy(desc(d.id))
    .limit(options.limit);
}

/** Most deliveries one replay may queue: a replay since a time is bounded. */
export const REPLAY_MAX = 10_000;

/**
 * Queues the event of each delivery again (the same `webhook-id` and body) at the end of its lane: one
 * delivery, or every delivery of the endpoint made since a time. Answers how many were queued.
 */
export async function replayDeliveries(db: Database, owner: string, endpointId: string, which: { deliveryId: number } | { since: Date }): Promise<number> {
  const chosen = 'deliveryId' in which ? sql`id = ${which.deliveryId}` : sql`created_at >= ${which.since.toISOString()}::timestamptz`;
  // Copied in id order, so each lane's replayed events keep their order.
  const queued = await db.execute<{ id: string }>(sql`
    insert into ${webhookDeliveries} (event_id, endpoint_id, owner, event_type, ordering_key, payload)
    select event_id, endpoint_id, owner, event_type, ordering_key, payload from ${webhookDeliveries}
    where endpoint_id = ${endpointId} and owner = ${owner} and ${chosen}
    order by id limit ${REPLAY_MAX}
    returning id`);
  return queued.length;
}

/** Queues a `webhook.test` event for the endpoint, in a lane of its own. */
export async function queueTestEvent(db: Database, owner: string, endpointId: string): Promise<DeliveryRow> {
  const eventId = newId('msg');
  const [row] = await db
    .insert(webhookDeliveries)
    .values({
      eventId,
      endpointId,
      owner,
      eventType: TEST_EVENT_TYPE,
      orderingKey: `test:${eventId}`,
      payload: { type: TEST_EVENT_TYPE, timestamp: new Date().toISOString(), data: { endpointId, message: 'A test event from Mailflow' } },
    })
    .returning();
  return row!;
}

/** Drops finished deliveries older than the retention. */
export async function pruneDeliveries(db: Database, retentionDays: number): Promise<number> {
  const rows = await db
    .delete(webhookDeliveries)
    .where(lt(webhookDeliveries.completedAt, sql`now() - make_interval(days => ${retentionDays})`))
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}
