// What each delivery attempt leaves behind: a row for the notification's detail (provider, outcome, error,
// latency) and a count in the minute's delivery counters the overview reads. One statement does both, so
// an attempt is never in one and missing from the other.
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { NotificationRow } from './list.js';

export const attemptOutcomes = ['sent', 'transient', 'throttled', 'permanent'] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

/** Rows per counter key: concurrent sends add to one of these at random instead of queueing on one row. */
const SHARDS = 4;
/** How long the minute counters are kept: the overview shows the last hour; a day leaves room to look back. */
const STATS_RETENTION = '2 days';
/** Old counter rows removed per attempt: more than one minute's worth of new keys, so retention keeps up. */
const SWEEP_BATCH = 20;

export interface AttemptRecord {
  notification: Pick<NotificationRow, 'id' | 'owner' | 'priority' | 'channel' | 'createdAt' | 'deadlineAt'>;
  attempt: number;
  provider: string;
  outcome: AttemptOutcome;
  /** Redacted by the caller: never the message's content. */
  error?: string | undefined;
  startedAt: Date;
  endedAt: Date;
}

export async function recordAttempt(db: Database, record: AttemptRecord): Promise<void> {
  const { notification: n, outcome, endedAt } = record;
  const sent = outcome === 'sent';
  // End to end for a send: from acceptance to the provider's answer (what the deadline is measured on).
  const endToEndMs = sent ? Math.max(0, endedAt.getTime() - n.createdAt.getTime()) : 0;
  const late = sent && endedAt > n.deadlineAt;
  const minute = new Date(Math.floor(endedAt.getTime() / 60_000) * 60_000);
  await db.execute(sql`
    with attempt as (
      insert into notification_attempts (notification_id, attempt, provider, outcome, error, latency_ms, started_at)
      values (${n.id}, ${record.attempt}, ${record.provider}, ${outcome}, ${record.error ?? null},
              ${Math.max(0, endedAt.getTime() - record.startedAt.getTime())}, ${record.startedAt.toISOString()}::timestamptz)
    ), counted as (
      insert into notification_minute_stats as s
        (owner, minute, priority, channel, provider, shard, sent, late, failed, throttled, latency_ms_sum, latency_ms_max)
      values (${n.owner}, ${minute.toISOString()}::timestamptz, ${n.priority}::notification_priority, ${n.channel}::notification_channel,
              ${record.provider}, ${Math.floor(Math.random() * SHARDS)}, ${sent ? 1 : 0}, ${late ? 1 : 0}, ${sent ? 0 : 1},
              ${outcome === 'throttled' ? 1 : 0}, ${endToEndMs}, ${endToEndMs})
      on conflict (owner, minute, priority, channel, provider, shard) do update set
        sent = s.sent + excluded.sent, late = s.late + excluded.late, failed = s.failed + excluded.failed,
        throttled = s.throttled + excluded.throttled, latency_ms_sum = s.latency_ms_sum + excluded.latency_ms_sum,
        latency_ms_max = greatest(s.latency_ms_max, excluded.latency_ms_max)
    )
    delete from notification_minute_stats where ctid in (
      select ctid from notification_minute_stats where minute < now() - ${STATS_RETENTION}::interval
      limit ${SWEEP_BATCH} for update skip locked)
  `);
}
