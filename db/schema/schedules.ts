// Scheduled mail (seed 002): a schedule is a notification or email request plus when to send it; each
// firing of its Temporal Schedule admits one notification, recorded here once per scheduled slot.
import { index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { parentRef, timestamptz, timestamptzNow } from './columns.js';

export const scheduleStatusEnum = pgEnum('schedule_status', ['ACTIVE', 'PAUSED', 'ARCHIVED']);
export const scheduleFiringOutcomeEnum = pgEnum('schedule_firing_outcome', ['CREATED', 'DUPLICATE', 'RATE_LIMITED', 'REJECTED']);

export const schedules = pgTable(
  'schedules',
  {
    id: text().primaryKey(), // sch_…
    // The tenant: the API key id (or "admin") that created it; a foreign id is a 404.
    owner: text().notNull(),
    name: text(),
    status: scheduleStatusEnum().notNull().default('ACTIVE'),
    kind: text().notNull(), // 'notification' | 'email': which admission form `request` holds
    // The request as the API took it, sealed (AES-256-GCM bound to the schedule id): it holds message content.
    requestSealed: text().notNull(),
    // The "when" as the API took it ({ once | every | cron | calendar, timezone, … }); Temporal holds the live spec.
    spec: jsonb().$type<Record<string, unknown>>().notNull(),
    startAt: timestamptz(),
    endAt: timestamptz(),
    jitterSeconds: integer().notNull().default(0),
    catchupWindowSeconds: integer().notNull(),
    pauseNote: text(),
    temporalScheduleId: text().notNull(),
    createdAt: timestamptzNow(),
    updatedAt: timestamptzNow(),
    archivedAt: timestamptz(),
    archiveReason: text(),
  },
  (t) => [
    // A tenant's schedules by status, newest first (the list's order and filter).
    index('schedules_owner_status_idx').on(t.owner, t.status, t.id),
    index('schedules_owner_idx').on(t.owner, t.id),
  ],
);

/** One row per scheduled slot: the slot's time is the key, so a replayed or retried firing finds its row. */
export const scheduleFirings = pgTable(
  'schedule_firings',
  {
    scheduleId: parentRef(() => schedules.id),
    scheduledAt: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    firedAt: timestamptzNow(),
    outcome: scheduleFiringOutcomeEnum().notNull(),
    notificationId: text(),
    detail: text(),
    workflowId: text(),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.scheduledAt] }),
    // Recent firings of a schedule, newest first.
    index('schedule_firings_recent_idx').on(t.scheduleId, t.firedAt),
  ],
);
