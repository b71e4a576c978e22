import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

export interface IndexedAddress {
  name: string;
  address: string;
}

/**
 * The mail index on PostgreSQL (lib/mail-index/postgres.ts), for deployments without Elasticsearch
 * (MAILFLOW_INDEX=postgres). The same documents as the Elasticsearch `messages` index, keyed by mailbox
 * and immutable message id; (`version`, `sync_seq`) (last-modified epoch ms, then the fetch's write number)
 * guards against older writes.
 */
export const mailIndexMessages = pgTable(
  'mail_index_messages',
  {
    mailboxId: text().notNull(),
    messageId: text().notNull(),
    accountId: text().notNull(),
    provider: text().notNull(),
    folderId: text().notNull(),
    folderName: text().notNull(),
    subject: text().notNull().default(''),
    fromName: text(),
    fromAddress: text(),
    to: jsonb()
      .$type<IndexedAddress[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    cc: jsonb()
      .$type<IndexedAddress[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    receivedAt: timestamp({ withTimezone: true, mode: 'string' }),
    isRead: boolean().notNull().default(false),
    flagStatus: text().notNull().default('notFlagged'),
    bodyPreview: text().notNull().default(''),
    conversationId: text(),
    internetMessageId: text(),
    hasAttachments: boolean().notNull().default(false),
    changeKey: text(),
    lastModifiedAt: timestamp({ withTimezone: true, mode: 'string' }).notNull(),
    version: bigint({ mode: 'number' }).notNull(),
    syncSeq: bigint({ mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.mailboxId, t.messageId] }),
    // The message list: a mailbox's mail newest first, with a stable tie-break (searches name mailboxes).
    index('mail_index_messages_received_idx').on(t.mailboxId, sql`${t.receivedAt} desc nulls last`, t.messageId),
    // Folder filters, folder counts, folder sweeps and folder deletes.
    index('mail_index_messages_folder_idx').on(t.mailboxId, t.folderId),
  ],
);

/** The `mailboxes` index on PostgreSQL: one document per mailbox. */
export const mailIndexMailboxes = pgTable(
  'mail_index_mailboxes',
  {
    mailboxId: text().primaryKey(),
    accountId: text().notNull(),
    doc: jsonb().$type<Record<string, unknown>>().notNull(),
    folderCount: integer().notNull().default(0),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('mail_index_mailboxes_account_idx').on(t.accountId)],
);
