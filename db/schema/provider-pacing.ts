import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The fleet-wide pacer of a provider's rate limit (lib/pacing/gcra.ts): one row per provider key, holding
 * the theoretical arrival time of the next request. Each request reserves a slot by moving `tat` forward
 * one interval; a 429 pushes it past the provider's Retry-After, so every worker backs off together.
 * `lanes`: one entry per request the provider allows in a window, the time from which the next request may
 * leave on that lane: a window after the answer of the last request that left on it (or, while that one is
 * still in flight, a window after the latest it could reach the provider).
 */
export const providerPacing = pgTable('provider_pacing', {
  key: text().primaryKey(),
  tat: timestamp({ withTimezone: true, precision: 6 }).notNull(),
  lanes: timestamp({ withTimezone: true, precision: 6 }).array(),
});
