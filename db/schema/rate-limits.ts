import { bigserial, index, pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptzNow } from './columns.js';

/**
 * A sliding-window log of admitted requests per limit key (`user:<id>`, `user-template:<id>:<template>`).
 * Admission takes a transaction-scoped advisory lock on the key, counts the hits inside the window and
 * inserts one, so the limit is exact across every API process sharing the database.
 */
export const rateLimitHits = pgTable(
  'rate_limit_hits',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    key: text().notNull(),
    at: timestamptzNow(),
  },
  (t) => [
    index('rate_limit_hits_key_at_idx').on(t.key, t.at),
    // The sweep of keys nobody uses any more reads the oldest hits first.
    index('rate_limit_hits_at_idx').on(t.at),
  ],
);
