// A tenant's notifications, newest first, with the list filters and a (created_at, id) cursor. Every filter
// has an index in this order (db/schema/notifications.ts), so a page reads only its own rows.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications } from '../../db/schema/index.js';

export type NotificationRow = typeof notifications.$inferSelect;

export interface NotificationFilters {
  status?: NotificationRow['status'] | undefined;
  userId?: string | undefined;
  correlationId?: string | undefined;
  priority?: NotificationRow['priority'] | undefined;
  channel?: NotificationRow['channel'] | undefined;
}

/** Up to `limit` rows after the cursor; one more is read so the caller knows whether a next page exists. */
export async function listNotifications(db: Database, owner: string, filters: NotificationFilters, limit: number,
  after?: { createdAt: Date; id: string }): Promise<{ rows: NotificationRow[]; more: boolean }> {
  const where: (SQL | undefined)[] = [
    eq(notifications.owner, owner),
    filters.status ? eq(notifications.status, filters.status) : undefined,
    filters.userId ? eq(notifications.userId, filters.userId) : undefined,
    filters.correlationId ? eq(notifications.correlationId, filters.correlationId) : undefined,
    filters.priority ? eq(notifications.priority, filters.priority) : undefined,
    filters.channel ? eq(notifications.channel, filters.channel) : undefined,
    // A row comparison, so the index starts the scan at the cursor instead of filtering up to it.
    after ? sql`(${notifications.createdAt}, ${notifications.id}) < (${after.createdAt.toISOString()}::timestamptz, ${after.id})` : undefined,
  ];
  const rows = await db.select().from(notifications).where(and(...where))
    .orderBy(desc(notifications.createdAt), desc(notifications.id)).limit(limit + 1);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}
