import { bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * What the sync applied, in order, per account: the feed of GET /v1/accounts/{id}/events (server-sent
 * events; the id is the SSE event id, so a reconnecting page resumes with Last-Event-ID). Kept for
 * MAILBOX_EVENTS_RETENTION_HOURS; a page asking for older events is told to reload.
 */
export const mailboxEvents = pgTable('mailbox_events', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  accountId: text().notNull(),
  mailboxId: text().notNull(),
  type: text().notNull(),
  data: jsonb().$type<Record<string, unknown>>().notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  // A stream reads its account's events after an id.
  index('mailbox_events_account_idx').on(t.accountId, t.id),
  // Retention deletes events by age, whichever mailbox (even one since unlinked) wrote them.
  index('mailbox_events_created_idx').on(t.createdAt),
]);
