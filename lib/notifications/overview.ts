// The figures the overview shows for notifications, read without counting the notifications table: the
// backlog through its partial index (capped), the last hour from the minute counters that each delivery
// attempt adds to (attempts.ts), and each provider's circuit as the workers last reported it.
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { COUNT_CAP, type NotificationRow } from './list.js';
import { deadlineMs, priorities, type Priority } from './policy.js';

type Channel = NotificationRow['channel'];

export interface PriorityFigures {
  priority: Priority;
  deadlineMs: number;
  /** Waiting to be sent (PENDING or RETRYING), counted up to COUNT_CAP + 1. */
  backlog: number;
  oldestWaitingAt: Date | null;
  /** How long the oldest has waited; compare with deadlineMs. */
  oldestWaitingMs: number | null;
  sentLastHour: number;
  lateLastHour: number;
}

export interface ProviderFigures {
  channel: Channel;
  provider: string;
  sentLastHour: number;
  sentPerMinute: number;
  failedLastHour: number;
  throttledLastHour: number;
  /** The circuit as the workers last reported it (email failover only): the worst state any worker is in. */
  circuit: { state: string; workers: number; since: Date } | null;
}

export interface MinutePoint {
  minute: Date;
  sent: number;
  late: number;
  /** Mean and worst acceptance-to-sent time of the minute's sends (0 when none). */
  meanLatencyMs: number;
  maxLatencyMs: number;
}

export interface NotificationOverview {
  at: Date;
  priorities: PriorityFigures[];
  providers: ProviderFigures[];
  /** The last hour per priority, a point a minute (minutes without sends are left out). */
  series: Record<Priority, MinutePoint[]>;
}

/** The send rate is the last few minutes' mean: the current minute alone is too jumpy to read. */
const RATE_MINUTES = 5;
const circuitRank: Record<string, number> = { open: 2, 'half-open': 1, closed: 0 };

async function backlogOf(db: Database, owner: string, priority: Priority) {
  const [row] = await db.execute<{ backlog: number; oldest: string | null }>(sql`
    select (select count(*)::int from (select 1 from notifications
              where owner = ${owner} and priority = ${priority}::notification_priority and status in ('PENDING', 'RETRYING')
              limit ${COUNT_CAP + 1}) capped) as backlog,
           (select created_at from notifications
              where owner = ${owner} and priority = ${priority}::notification_priority and status in ('PENDING', 'RETRYING')
              order by created_at limit 1) as oldest`);
  return { backlog: row?.backlog ?? 0, oldest: row?.oldest ? new Date(row.oldest) : null };
}

export async function notificationOverview(db: Database, owner: string, now = new Date()): Promise<NotificationOverview> {
  const hourAgo = new Date(now.getTime() - 60 * 60_000);
  const rateSince = new Date(now.getTime() - RATE_MINUTES * 60_000);
  const [backlogs, minutes, circuits] = await Promise.all([
    Promise.all(priorities.map((p) => backlogOf(db, owner, p))),
    db.execute<{
      minute: string;
      priority: Priority;
      channel: Channel;
      provider: string;
      sent: number;
      late: number;
      failed: number;
      throttled: number;
      latency_sum: number;
      latency_max: number;
    }>(sql`
      select minute, priority, channel, provider, sum(sent)::int as sent, sum(late)::int as late, sum(failed)::int as failed,
             sum(throttled)::int as throttled, sum(latency_ms_sum)::float8 as latency_sum, max(latency_ms_max)::int as latency_max
      from notification_minute_stats where owner = ${owner} and minute >= ${hourAgo.toISOString()}::timestamptz
      group by minute, priority, channel, provider order by minute`),
    db.execute<{ provider: string; state: string; changed_at: string }>(sql`select provider, state, changed_at from provider_circuits`),
  ]);

  const byPriority = new Map(priorities.map((p) => [p, { sent: 0, late: 0, points: new Map<number, MinutePoint & { latencySum: number }>() }]));
  const byProvider = new Map<string, ProviderFigures>();
  for (const m of minutes) {
    const minute = new Date(m.minute);
    const p = byPriority.get(m.priority)!;
    p.sent += m.sent;
    p.late += m.late;
    const point = p.points.get(minute.getTime()) ?? { minute, sent: 0, late: 0, meanLatencyMs: 0, maxLatencyMs: 0, latencySum: 0 };
    point.sent += m.sent;
    point.late += m.late;
    point.latencySum += m.latency_sum;
    point.maxLatencyMs = Math.max(point.maxLatencyMs, m.latency_max);
    p.points.set(minute.getTime(), point);

    const key = `${m.channel}\u0000${m.provider}`;
    const figures = byProvider.get(key) ?? {
      channel: m.channel,
      provider: m.provider,
      sentLastHour: 0,
      sentPerMinute: 0,
      failedLastHour: 0,
      throttledLastHour: 0,
      circuit: null,
    };
    figures.sentLastHour += m.sent;
    figures.failedLastHour += m.failed;
    figures.throttledLastHour += m.throttled;
    if (minute >= rateSince) figures.sentPerMinute += m.sent / RATE_MINUTES;
    byProvider.set(key, figures);
  }

  // A failover provider reports its circuit under its own name ("mailgun>smtp"); its sends are counted under
  // the provider that took each one, so the circuit is shown beside the email providers it names.
  const circuitOf = (provider: string) => {
    const rows = circuits.filter((c) => c.provider.split('>').includes(provider));
    if (rows.length === 0) return null;
    const worst = rows.reduce((a, b) => ((circuitRank[b.state] ?? 0) > (circuitRank[a.state] ?? 0) ? b : a));
    return { state: worst.state, workers: rows.filter((r) => r.state === worst.state).length, since: new Date(worst.changed_at) };
  };

  return {
    at: now,
    priorities: priorities.map((priority, i) => {
      const { backlog, oldest } = backlogs[i]!;
      const p = byPriority.get(priority)!;
      return {
        priority,
        deadlineMs: deadlineMs[priority],
        backlog,
        oldestWaitingAt: oldest,
        oldestWaitingMs: oldest ? Math.max(0, now.getTime() - oldest.getTime()) : null,
        sentLastHour: p.sent,
        lateLastHour: p.late,
      };
    }),
    providers: [...byProvider.values()].map((f) => ({
      ...f,
      sentPerMinute: Math.round(f.sentPerMinute * 10) / 10,
      circuit: f.channel === 'EMAIL' ? circuitOf(f.provider) : null,
    })),
    series: Object.fromEntries(
      priorities.map((priority) => [
        priority,
        [...byPriority.get(priority)!.points.values()].map(({ latencySum, ...point }) => ({
          ...point,
          meanLatencyMs: point.sent > 0 ? Math.round(latencySum / point.sent) : 0,
        })),
      ]),
    ) as Record<Priority, MinutePoint[]>,
  };
}
