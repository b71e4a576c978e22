import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgEnum, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { parentKey, parentRef, timestamptz, timestamptzNow } from './columns.js';
import { blobs } from './blobs.js';

export const mailingStatusEnum = pgEnum('mailing_status', ['PENDING', 'PARSING', 'SENDING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED']);
export const recipientStatusEnum = pgEnum('mailing_recipient_status', ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'INVALID', 'DUPLICATE', 'CANCELLED', 'UNKNOWN']);

export interface MailingOptions {
  hasHeader: boolean;
  /** A header name, or a 0-based column index. */
  emailColumn: string | number | null;
  delimiter: ',' | ';' | null;
}

/** One CSV mailing: the uploaded file (a blob), how to read it, and how far it got. */
export const mailings = pgTable(
  'mailings',
  {
    id: text().primaryKey(), // mlg_…
    // The tenant: the API key id (or "admin") that uploaded it; every route filters by it, a foreign id is a 404.
    owner: text().notNull(),
    name: text(),
    status: mailingStatusEnum().notNull().default('PENDING'),
    blobId: text()
      .notNull()
      .references(() => blobs.id),
    options: jsonb().$type<MailingOptions>().notNull(),
    workflowId: text().notNull(),
    totalRows: integer().notNull().default(0),
    validRows: integer().notNull().default(0),
    invalidRows: integer().notNull().default(0),
    duplicateRows: integer().notNull().default(0),
    failureReason: text(),
    createdAt: timestamptzNow(),
    sendingStartedAt: timestamptz(),
    finishedAt: timestamptz(),
    /** `<owner>:<Idempotency-Key>` of the upload that created it: a retried upload finds this mailing. */
    idempotencyKey: text(),
    /** SHA-256 of the upload (file and options): the same key with another upload is refused. */
    requestHash: text(),
  },
  (t) => [
    // A tenant's mailings, newest first (the list's order).
    index('mailings_owner_created_idx').on(t.owner, t.createdAt),
    // One mailing per key: concurrent duplicate uploads collapse into one.
    uniqueIndex('mailings_idempotency_key_idx').on(t.idempotencyKey),
  ],
);

/**
 * A mailing's recipients by status, kept by statement-level triggers on mailing_recipients (migration 0016)
 * in the same statement as every change, whoever writes it: listing and progress read these, never
 * count(*). A row of its own, not columns of `mailings`: an ingest's inserts check their foreign key
 * against the mailings row (a key-share lock per row), and counters updated on that same row by the other
 * lane's statements turned each of those locks into a multixact, a third of the ingest's speed.
 */
export const mailingCounts = pgTable('mailing_counts', {
  mailingId: parentKey(() => mailings.id),
  countQueued: integer().notNull().default(0),
  countSending: integer().notNull().default(0),
  countSent: integer().notNull().default(0),
  countFailed: integer().notNull().default(0),
  countInvalid: integer().notNull().default(0),
  countDuplicate: integer().notNull().default(0),
  countCancelled: integer().notNull().default(0),
  countUnknown: integer().notNull().default(0),
});

/**
 * One row of the CSV. Valid rows get a token (its SHA-256 for /v1/verify, and the token sealed so a
 * retried send renders the same body); invalid rows and duplicates keep their reason and are never sent.
 */
export const mailingRecipients = pgTable(
  'mailing_recipients',
  {
    mailingId: parentRef(() => mailings.id),
    rowNumber: integer().notNull(), // 1-based data row (the header is not counted)
    email: text().notNull(),
    normalizedEmail: text(),
    status: recipientStatusEnum().notNull(),
    reason: text(),
    tokenHash: text(),
    tokenSealed: text(),
    providerMessageId: text(),
    attempts: integer().notNull().default(0),
    lastError: text(),
    sendingAt: timestamptz(),
    sentAt: timestamptz(),
    verifiedAt: timestamptz(),
  },
  (t) => [
    primaryKey({ columns: [t.mailingId, t.rowNumber] }),
    // Case-insensitive duplicate detection among the rows that will be sent.
    uniqueIndex('mailing_recipients_unique_email_idx')
      .on(t.mailingId, t.normalizedEmail)
      .where(sql`status not in ('INVALID', 'DUPLICATE')`),
    // /v1/verify. Tokens are made at first send, so the rows an ingest writes (no token yet) stay out of it.
    uniqueIndex('mailing_recipients_token_hash_idx')
      .on(t.tokenHash)
      .where(sql`token_hash is not null`),
    // Rows by status (recent failures, the recipients list filtered by status, cancel's SENDING rows). QUEUED,
    // nearly every row of a fresh list, is left out so an ingest does not write it: a QUEUED filter reads the
    // primary key in row order instead, and finds QUEUED rows at once while most rows are QUEUED.
    index('mailing_recipients_status_idx')
      .on(t.mailingId, t.status, t.rowNumber)
      .where(sql`status <> 'QUEUED'`),
    // The recent send rate: the last minutes' sends, not every row. Unsent rows (no sent_at) stay out of it.
    index('mailing_recipients_sent_at_idx')
      .on(t.mailingId, t.sentAt)
      .where(sql`sent_at is not null`),
  ],
);
