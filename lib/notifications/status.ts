// Notification status moves only forward. One SQL statement checks the allowed predecessor states,
// updates the row and writes the history row, so concurrent writers (workflow activities, webhooks
// arriving out of order) can never move a status backwards: a late "delivered" never overwrites "opened".
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

export const notificationStatuses = ['PENDING', 'RETRYING', 'SENT', 'DELIVERED', 'OPENED', 'FAILED', 'DEAD_LETTERED', 'CANCELLED'] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];

/** For each target status, the statuses it may be reached from. */
export const allowedFrom: Record<NotificationStatus, NotificationStatus[]> = {
  PENDING: ['DEAD_LETTERED', 'FAILED'], // only by an explicit retry
  RETRYING: ['PENDING', 'RETRYING'],
  // From CANCELLED too: a cancel that lands while the provider is accepting the message cannot take it back,
  // and the row must say what happened.
  SENT: ['PENDING', 'RETRYING', 'CANCELLED'],
  DELIVERED: ['SENT'],
  OPENED: ['SENT', 'DELIVERED'],
  FAILED: ['PENDING', 'RETRYING', 'SENT'],
  DEAD_LETTERED: ['PENDING', 'RETRYING'],
  CANCELLED: ['PENDING', 'RETRYING'], // only by the owner, before it is sent
};

const timestampColumn: Partial<Record<NotificationStatus, string>> = {
  SENT: 'sent_at',
  DELIVERED: 'delivered_at',
  OPENED: 'opened_at',
  FAILED: 'failed_at',
  DEAD_LETTERED: 'dead_lettered_at',
};

export interface TransitionOptions {
  reason?: string;
  /** Stored in error_message (null clears it). */
  errorMessage?: string | null;
  provider?: string;
  providerMessageId?: string;
  /** Counts a delivery attempt and stamps last_attempted_at. */
  attempt?: boolean;
  /** When the event happened (webhooks carry their own time); default now. */
  at?: Date;
}

export interface TransitionResult {
  applied: boolean;
  from: NotificationStatus | null;
  status: NotificationStatus | null;
}

export async function transitionStatus(db: Database, id: string, to: NotificationStatus, options: TransitionOptions = {}): Promise<TransitionResult> {
  const from = allowedFrom[to];
  const at = options.at ?? new Date();
  const column = timestampColumn[to];
  const rows = await db.execute<{ applied: boolean; from_status: NotificationStatus | null; status: NotificationStatus | null }>(sql`
    with current as (
      select status from notifications where id = ${id} for update
    ), changed as (
      update notifications n set
        status = ${to}::notification_status,
        ${column ? sql`${sql.identifier(column)} = coalesce(n.${sql.identifier(column)}, ${at.toISOString()}::timestamptz),` : sql``}
        error_message = case when ${options.errorMessage !== undefined} then ${options.errorMessage ?? null} else n.error_message end,
        provider = coalesce(${options.provider ?? null}, n.provider),
        provider_message_id = coalesce(${options.providerMessageId ?? null}, n.provider_message_id),
        delivery_attempts = n.delivery_attempts + ${options.attempt ? 1 : 0},
        last_attempted_at = case when ${options.attempt ?? false} then ${at.toISOString()}::timestamptz else n.last_attempted_at end,
        late = n.late or (${to === 'SENT'} and ${at.toISOString()}::timestamptz > n.deadline_at)
      from current
      where n.id = ${id} and current.status = any(${sql.raw(`array[${from.map((s) => `'${s}'`).join(',')}]::notification_status[]`)})
      returning current.status as from_status, n.status
    ), history as (
      insert into notification_status_history (notification_id, from_status, to_status, reason, at)
      select ${id}, from_status, status, ${options.reason ?? null}, ${at.toISOString()}::timestamptz from changed
    )
    select true as applied, from_status, status from changed
    union all
    select false, status, status from current where not exists (select 1 from changed)
  `);
  const row = rows[0];
  if (!row) return { applied: false, from: null, status: null };
  return { applied: row.applied, from: row.from_status, status: row.status };
}

/** Timestamps are still worth keeping when the status cannot move (e.g. "delivered" after "opened"). */
export async function recordEventTime(db: Database, id: string, event: 'DELIVERED' | 'OPENED', at: Date): Promise<void> {
  const column = timestampColumn[event]!;
  await db.execute(
    sql`update notifications set ${sql.identifier(column)} = coalesce(${sql.identifier(column)}, ${at.toISOString()}::timestamptz) where id = ${id}`,
  );
}

/**
 * The provider's idempotency key for a notification. It stays the same across attempts and across a retry
 * of a dead letter (an attempt that timed out may have been accepted: the provider drops the repeat), and
 * changes with each retry of a FAILED notification: the provider refused it or reported it failed after
 * accepting it, so the owner's retry must reach the provider as a new message, not as a duplicate.
 */
export function idempotencyKeyFor(id: string, resends: number): string {
  return resends === 0 ? `mailflow-${id}` : `mailflow-${id}-resend-${resends}`;
}

/** How many times a notification went from FAILED back to PENDING: a subquery, so the send reads it with the row. */
export function resendCount(id: SQLWrapper): SQL<number> {
  return sql<number>`(select count(*)::int from notification_status_history h
     where h.notification_id = ${id} and h.from_status = 'FAILED' and h.to_status = 'PENDING')`;
}
