// A tenant's notifications, newest first, with the list filters and a (created_at, id) cursor. Every filter
// has an index in this order (db/schema/notifications.ts), so a page reads only its own rows.
import { and, asc, desc, eq, getTableColumns, gte, lt, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications, notificationStatusHistory } from '../../db/schema/index.js';
import { ownedRow } from '../tenants/owned.js';
import { notificationStatuses } from './status.js';

export type NotificationRow = typeof notifications.$inferSelect;

export interface NotificationFilters {
  status?: NotificationRow['status'] | undefined;
  /** Only those sent after their deadline. */
  late?: boolean | undefined;
  userId?: string | undefined;
  correlationId?: string | undefined;
  priority?: NotificationRow['priority'] | undefined;
  channel?: NotificationRow['channel'] | undefined;
  templateId?: string | undefined;
  /** The recipient as the list shows it: an address, an E.164 number, or the push tokens. */
  recipient?: string | undefined;
  /** Created at or after. */
  since?: Date | undefined;
  /** Created before. */
  until?: Date | undefined;
}

/** The list filters as a batch retry's workflow carries them (times as ISO strings): FAILED or DEAD_LETTERED ones. */
export type RetryFilters = Omit<NotificationFilters, 'status' | 'since' | 'until'> & {
  status?: 'FAILED' | 'DEAD_LETTERED' | undefined;
  since?: string | undefined;
  until?: string | undefined;
};

/** The filters as SQL conditions on the tenant's rows; each has an index in the list's order. */
export function filterConditions(owner: string, filters: NotificationFilters): (SQL | undefined)[] {
  const n = notifications;
  return [
    eq(n.owner, owner),
    filters.status ? eq(n.status, filters.status) : undefined,
    filters.late ? sql`${n.late}` : undefined,
    filters.userId ? eq(n.userId, filters.userId) : undefined,
    filters.correlationId ? eq(n.correlationId, filters.correlationId) : undefined,
    filters.priority ? eq(n.priority, filters.priority) : undefined,
    filters.channel ? eq(n.channel, filters.channel) : undefined,
    filters.templateId ? eq(n.templateId, filters.templateId) : undefined,
    // The prefix is what the index holds (db/schema/notifications.ts); the whole value decides.
    filters.recipient ? and(sql`left(${n.recipient}, 320) = left(${filters.recipient}, 320)`, eq(n.recipient, filters.recipient)) : undefined,
    filters.since ? gte(n.createdAt, filters.since) : undefined,
    filters.until ? lt(n.createdAt, filters.until) : undefined,
  ];
}

/**
 * A timestamp as the cursor carries it: UTC ISO 8601 with PostgreSQL's microseconds. A JS Date keeps only
 * milliseconds, and a cursor rounded to them skips the rows that share the last row's millisecond.
 */
export const exactTime = (column: AnyColumn): SQL<string> => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** A cursor's time as exactTime writes it (or an older cursor's milliseconds), or undefined. */
export function parseCursorTime(text: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(text)) return undefined;
  const at = new Date(text);
  // Only times this API could have issued: out-of-range dates would reach PostgreSQL and fail there.
  return Number.isNaN(at.getTime()) || at.getUTCFullYear() < 2000 || at.getUTCFullYear() > 9999 ? undefined : text;
}

export interface NotificationCursor {
  createdAt: string;
  id: string;
}

/** Up to `limit` rows after the cursor, and the cursor of the next page when there is one. */
export async function listNotifications(
  db: Database,
  owner: string,
  filters: NotificationFilters,
  limit: number,
  after?: NotificationCursor,
): Promise<{ rows: NotificationRow[]; next: NotificationCursor | null }> {
  const where: (SQL | undefined)[] = [
    ...filterConditions(owner, filters),
    // A row comparison, so the index starts the scan at the cursor instead of filtering up to it.
    after ? sql`(${notifications.createdAt}, ${notifications.id}) < (${after.createdAt}::timestamptz, ${after.id})` : undefined,
  ];
  const found = await db
    .select({ row: getTableColumns(notifications), at: exactTime(notifications.createdAt) })
    .from(notifications)
    .where(and(...where))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(limit + 1);
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page.map((r) => r.row), next: found.length > limit && last ? { createdAt: last.at, id: last.row.id } : null };
}

export interface StatusChange {
  from: NotificationRow['status'] | null;
  to: NotificationRow['status'];
  reason: string | null;
  at: Date;
}

/** One notification of the tenant with every status change it went through, oldest first. */
export async function notificationWithHistory(
  db: Database,
  tenant: string,
  id: string,
): Promise<{ notification: NotificationRow; history: StatusChange[] } | undefined> {
  const [notification] = await db
    .select()
    .from(notifications)
    .where(ownedRow(notifications, tenant, id));
  if (!notification) return undefined;
  const h = notificationStatusHistory;
  const history = await db
    .select({ from: h.fromStatus, to: h.toStatus, reason: h.reason, at: h.at })
    .from(h)
    .where(eq(h.notificationId, id))
    .orderBy(asc(h.id));
  return { notification, history };
}

/** Counts stop here: the page says "10,000+" rather than count a whole table on every refresh. */
export const COUNT_CAP = 10_000;
/**
 * The status counts read this many of the newest matches (and one more): a page is about what happens now,
 * and each counted row is a heap read when the filter's index does not hold the status.
 */
export const COUNTED_NEWEST = 1_000;

export interface StatusCounts {
  /** Per status, among the newest COUNTED_NEWEST + 1 matches (all of them when `capped` is false). */
  counts: Record<NotificationRow['status'], number>;
  /** More than COUNTED_NEWEST match: the counts describe the newest of them. */
  capped: boolean;
}

/**
 * How the tenant's notifications that match the filters divide by status, read from the newest COUNTED_NEWEST + 1
 * matches through the filter's own index: a filter that keeps a million rows costs what one that keeps ten
 * thousand does, and no refresh counts a whole table.
 */
export async function countByStatus(db: Database, owner: string, filters: NotificationFilters): Promise<StatusCounts> {
  const n = notifications;
  const counts = Object.fromEntries(notificationStatuses.map((s) => [s, 0])) as Record<NotificationRow['status'], number>;
  const byStatus = await db.execute<{ status: NotificationRow['status']; n: number }>(sql`
    select status, count(*)::int as n from (
      select ${n.status} as status from ${n} where ${and(...filterConditions(owner, filters))}
      order by ${n.createdAt} desc, ${n.id} desc limit ${COUNTED_NEWEST + 1}) newest
    group by status`);
  let total = 0;
  for (const row of byStatus) {
    counts[row.status] = row.n;
    total += row.n;
  }
  return { counts, capped: total > COUNTED_NEWEST };
}
