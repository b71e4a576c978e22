import { index, pgEnum, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { timestamptzNow } from './columns.js';

export const suppressionReasonEnum = pgEnum('suppression_reason', ['complained', 'bounced']);

/**
 * Email addresses a tenant must not mail again: a recipient who complained, or whose mailbox bounced
 * permanently. Scoped to the owner (API key) of the notification the provider reported on, as every
 * resource is; a send to a suppressed address ends FAILED without being attempted.
 */
export const emailSuppressions = pgTable(
  'email_suppressions',
  {
    owner: text().notNull(),
    address: text().notNull(), // lower-cased
    reason: suppressionReasonEnum().notNull(),
    detail: text(), // the provider's reason, as reported
    notificationId: text(), // the notification whose webhook suppressed it
    createdAt: timestamptzNow(),
  },
  (t) => [
    // The send path looks up (owner, address); it is also the identity of an entry.
    primaryKey({ columns: [t.owner, t.address] }),
    // The list: a tenant's entries, newest first.
    index('email_suppressions_owner_created_idx').on(t.owner, t.createdAt, t.address),
  ],
);
