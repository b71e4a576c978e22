import { sql } from 'drizzle-orm';
import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { timestamptzNow } from './columns.js';

/**
 * A local account: the person whose mailboxes Mailflow syncs. Its id goes on every mailbox and message
 * document. `owner` is the API key (id, or "admin") that created it; every account route filters by it.
 */
export const accounts = pgTable(
  'accounts',
  {
    id: text().primaryKey(), // acc_…
    owner: text().notNull(),
    email: text().notNull(),
    displayName: text(),
    createdAt: timestamptzNow(),
  },
  (t) => [
    // One account per address and owner: a retried create answers 409 instead of making a twin.
    uniqueIndex('accounts_owner_email_idx').on(t.owner, sql`lower(${t.email})`),
    // Listing an owner's accounts, newest first (ids sort by creation time).
    index('accounts_owner_id_idx').on(t.owner, t.id),
  ],
);
