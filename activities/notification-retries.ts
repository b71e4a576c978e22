// The batch retry's activities: the snapshot of what matches, then each notification retried by the same
// service call as a single retry (which takes the row lock and refuses a row no longer failed), with the
// batch's progress written in the same transaction, so it counts each retry exactly once.
import type { Client } from '@temporalio/client';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { notificationRetryBatches, notifications } from '../db/schema/index.js';
import { NotificationNotFoundError, NotificationStatusError, retryNotification } from '../lib/notifications/admission.js';
import { filterConditions, type NotificationFilters, type RetryFilters } from '../lib/notifications/list.js';
import type { ActivityDeps } from './deps.js';

const retryable = ['FAILED', 'DEAD_LETTERED'] as const;

export function createNotificationRetryActivities(deps: ActivityDeps, temporal: Client) {
  const { db } = deps;
  return {
    /** Up to `max` of the tenant's retryable notifications matching the filters, newest first; the batch's total. */
    async selectRetryCandidates(input: { batchId: string; tenant: string; filters: RetryFilters; max: number }): Promise<string[]> {
      const { since, until, status, ...rest } = input.filters;
      const filters: NotificationFilters = { ...rest, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined };
      const rows = await db
        .select({ id: notifications.id })
        .from(notifications)
        .where(and(...filterConditions(input.tenant, filters), inArray(notifications.status, status ? [status] : [...retryable])))
        .orderBy(desc(notifications.createdAt), desc(notifications.id))
        .limit(input.max);
      await db.update(notificationRetryBatches).set({ total: rows.length }).where(eq(notificationRetryBatches.id, input.batchId));
      return rows.map((r) => r.id);
    },

    async retryChunk(input: { batchId: string; tenant: string; ids: string[]; offset: number }): Promise<void> {
      for (const [i, id] of input.ids.entries()) {
        await db.transaction(async (tx) => {
          let retried = 0;
          try {
            await retryNotification(tx, temporal, deps.config, input.tenant, id);
            retried = 1;
          } catch (error) {
            if (!(error instanceof NotificationStatusError || error instanceof NotificationNotFoundError)) throw error;
          }
          // `processed` is a position, so an attempt that repeats a chunk does not count its skips twice.
          await tx
            .update(notificationRetryBatches)
            .set({
              retried: sql`${notificationRetryBatches.retried} + ${retried}`,
              processed: sql`greatest(${notificationRetryBatches.processed}, ${input.offset + i + 1})`,
            })
            .where(eq(notificationRetryBatches.id, input.batchId));
        });
      }
    },

    async finishRetryBatch(input: { batchId: string }): Promise<void> {
      await db
        .update(notificationRetryBatches)
        .set({ finishedAt: sql`coalesce(${notificationRetryBatches.finishedAt}, now())` })
        .where(eq(notificationRetryBatches.id, input.batchId));
    },
  };
}

export type NotificationRetryActivities = ReturnType<typeof createNotificationRetryActivities>;
