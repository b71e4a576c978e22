// A tenant's notifications, newest first, with the list filters and a (created_at, id) cursor. Every filter
// has an index in this order (db/schema/notifications.ts), so a page reads only its own rows.
import { and, asc, desc, eq, getTableColumns, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications, notificationStatusHistory } from '../../db/schema/index.js';
import { ownedRow } from '../tenants/owned.js';

export type NotificationRow = typeof notifications.$inferSelect;

export interface NotificationFilters {
  status?: NotificationRow['status'] | undefined;
  userId?: string | undefined;
  correlationId?: string | undefined;
  priority?: NotificationRow['priority'] | undefined;
  channel?: NotificationRow['channel'] | undefined;
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
    eq(notifications.owner, owner),
    filters.status ? eq(notifications.status, filters.status) : undefined,
    filters.userId ? eq(notifications.userId, filters.userId) : undefined,
    filters.correlationId ? eq(notifications.correlationId, filters.correlationId) : undefined,
    filters.priority ? eq(notifications.priority, filters.priority) : undefined,
    filters.channel ? eq(notifications.channel, filters.channel) : undefined,
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
