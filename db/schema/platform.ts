import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** One row per platform-check workflow run: proof that a worker reached the database. */
export const platformChecks = pgTable('platform_checks', {
  id: text().primaryKey(),
  workflowId: text().notNull(),
  checkedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});
