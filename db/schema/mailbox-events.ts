import { bigint, bigserial, index, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { timestamptzNow } from './columns.js';

/**
 * What the sync applied, in order, per account: the feed of GET /v1/accounts/{id}/events (server-sent
 * events). `seq` is the SSE event id: numbered per account under the account's row in `account_event_seqs`,
 * which each append locks until it commits, so an account's events commit in `seq` order and a stream that
 * has read up to n never meets a later commit below n. Kept for MAILBOX_EVENTS_RETENTION_HOURS; a page
 * asking for older events is told to reload.
 */
export const mailboxEvents = pgTable(
  'mailbox_events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    accountId: text().notNull(),
    seq: bigint({ mode: 'number' }).notNull(),
    mailboxId: text().notNull(),
    type: text().notNull(),
    data: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: timestamptzNow(),
  },
  (t) => [
    // A stream reads its account's events after a seq.
    uniqueIndex('mailbox_events_account_seq_idx').on(t.accountId, t.seq),
    // Retention deletes events by age, whichever mailbox (even one since unlinked) wrote them.
    index('mailbox_events_created_idx').on(t.createdAt),
  ],
);

/**
 * The last event number of each account. Never pruned: it says how far an account's feed has gone even
 * when retention has dropped every event, so a client resuming from before that gets `reset`, not silence.
 */
export const accountEventSeqs = pgTable('account_event_seqs', {
  accountId: text().primaryKey(),
  lastSeq: bigint({ mode: 'number' }).notNull(),
});
