import { pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptzNow } from './columns.js';

/** One row per platform-check workflow run: proof that a worker reached the database. */
export const platformChecks = pgTable('platform_checks', {
  id: text().primaryKey(),
  workflowId: text().notNull(),
  checkedAt: timestamptzNow(),
});
