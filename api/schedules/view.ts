// How a schedule looks to API clients: the row, the clock's next run times, and what its firings did.
import { z } from '@hono/zod-openapi';
import { counts } from '../openapi.js';
import type { FiringView, ScheduleRow, ScheduleStats } from '../../lib/schedules/service.js';
import { scheduledEmailSchema, scheduledNotificationSchema, whenSchema, type ScheduledRequest } from '../../lib/schedules/index.js';

export const firingSchema = z
  .object({
    scheduledAt: z.string().datetime(),
    firedAt: z.string().datetime(),
    outcome: z.enum(['CREATED', 'DUPLICATE', 'RATE_LIMITED', 'REJECTED']),
    detail: z.string().nullable(),
    notificationId: z.string().nullable(),
    notificationStatus: z.string().nullable(),
  })
  .openapi('ScheduleFiring');

export const scheduleSchema = z
  .object({
    id: z.string().openapi({ example: 'sch_01jd9z…' }),
    name: z.string().nullable(),
    status: z.enum(['ACTIVE', 'PAUSED', 'ARCHIVED']),
    kind: z.enum(['notification', 'email']),
    when: whenSchema,
    catchupWindowSeconds: z.number().int(),
    pauseNote: z.string().nullable(),
    temporalScheduleId: z.string(),
    nextRunTimes: z.array(z.string().datetime()).openapi({ description: 'The next (up to) 5 run times Temporal computed; empty when paused or archived' }),
    lastFiring: firingSchema.nullable(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
    archivedAt: z.string().datetime().nullable(),
    archiveReason: z.string().nullable(),
  })
  .openapi('Schedule');

export const scheduleDetailSchema = scheduleSchema
  .extend({
    notification: scheduledNotificationSchema.optional(),
    email: scheduledEmailSchema.optional(),
    recentFirings: z.array(firingSchema),
    stats: counts('firings', 'sent', 'delivered', 'opened', 'failed', 'deadLettered'),
  })
  .openapi('ScheduleDetail');

export function firingView(f: FiringView) {
  return { ...f, scheduledAt: f.scheduledAt.toISOString(), firedAt: f.firedAt.toISOString(), outcome: f.outcome as z.infer<typeof firingSchema>['outcome'] };
}

export function scheduleView(row: ScheduleRow, nextRunTimes: Date[], lastFiring: FiringView | undefined) {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    kind: row.kind as 'notification' | 'email',
    when: row.spec as z.infer<typeof whenSchema>,
    catchupWindowSeconds: row.catchupWindowSeconds,
    pauseNote: row.pauseNote,
    temporalScheduleId: row.temporalScheduleId,
    nextRunTimes: row.status === 'ACTIVE' ? nextRunTimes.map((d) => d.toISOString()) : [],
    lastFiring: lastFiring ? firingView(lastFiring) : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    archivedAt: row.archivedAt?.toISOString() ?? null,
    archiveReason: row.archiveReason,
  };
}

export function detailView(row: ScheduleRow, request: ScheduledRequest, nextRunTimes: Date[], firings: FiringView[], stats: ScheduleStats) {
  return {
    ...scheduleView(row, nextRunTimes, firings[0]),
    ...(request.kind === 'notification' ? { notification: request.notification } : { email: request.email }),
    recentFirings: firings.map(firingView),
    stats,
  };
}
