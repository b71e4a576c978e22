// The account's live feed: what the sync applied to the index, appended in order and announced with
// PostgreSQL NOTIFY so every API process can push it to its server-sent-event streams at once.
import { and, asc, eq, gt, lt, min, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailboxEvents } from '../../db/schema/index.js';
import type { FlagStatus, MessageDoc } from '../mail-index/types.js';

export const EVENTS_CHANNEL = 'mailbox_events';

/** What the mail list needs of a message to show it. */
export interface MessageSummary {
  id: string;
  mailboxId: string;
  folder: { id: string; name: string };
  subject: string;
  from: { name: string; address: string } | null;
  receivedAt: string | null;
  isRead: boolean;
  flagStatus: FlagStatus;
  /** The version: of two views of a message, the later lastModifiedAt is the newer. */
  lastModifiedAt: string;
}

export interface MailboxState {
  mailboxId: string;
  address: string;
  status: string;
  phase: string;
  foldersTotal: number;
  foldersSynced: number;
  /** Documents written since linking (new and updated), and the messages the index holds now. */
  messagesIndexed: number;
  messagesInIndex: number;
  lastSyncAt: string | null;
  lastError: string | null;
}

/** Each event's SSE name and data. */
export type MailboxEvent =
  | { type: 'messages'; data: { mailboxId: string; upserted: MessageSummary[]; removed: string[] } }
  | { type: 'folders'; data: { mailboxId: string; changed: { id: string; name: string }[]; removed: string[] } }
  | { type: 'mailbox'; data: MailboxState }
  /** Documents went that no event names (a fresh delta swept leftovers): a page reloads its list. */
  | { type: 'reload'; data: { mailboxId: string; reason: string } };

export interface StoredEvent { id: number; type: string; data: Record<string, unknown> }

export function summarize(doc: MessageDoc): MessageSummary {
  return {
    id: doc.messageId, mailboxId: doc.mailboxId, folder: { id: doc.folderId, name: doc.folderName }, subject: doc.subject,
    from: doc.from, receivedAt: doc.receivedAt, isRead: doc.isRead, flagStatus: doc.flagStatus, lastModifiedAt: doc.lastModifiedAt,
  };
}

/** Appends one event and notifies listeners, in one statement (the notification goes out on commit). */
export async function appendEvent(db: Database, accountId: string, event: MailboxEvent & { data: { mailboxId: string } }): Promise<void> {
  await db.execute(sql`
    with appended as (
      insert into ${mailboxEvents} (account_id, mailbox_id, type, data)
      values (${accountId}, ${event.data.mailboxId}, ${event.type}, ${JSON.stringify(event.data)}::jsonb)
      returning account_id)
    select pg_notify(${EVENTS_CHANNEL}, account_id) from appended`);
}

export async function eventsAfter(db: Database, accountId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
  return db.select({ id: mailboxEvents.id, type: mailboxEvents.type, data: mailboxEvents.data }).from(mailboxEvents)
    .where(and(eq(mailboxEvents.accountId, accountId), gt(mailboxEvents.id, afterId))).orderBy(asc(mailboxEvents.id)).limit(limit);
}

/** The newest event id of the account (where a new stream starts), or 0. */
export async function latestEventId(db: Database, accountId: string): Promise<number> {
  const [row] = await db.execute<{ id: string | null }>(sql`select max(id) as id from ${mailboxEvents} where account_id = ${accountId}`);
  return Number(row?.id ?? 0);
}

/** The oldest event still kept for the account, or undefined when there is none. */
export async function oldestEventId(db: Database, accountId: string): Promise<number | undefined> {
  const [row] = await db.select({ id: min(mailboxEvents.id) }).from(mailboxEvents).where(eq(mailboxEvents.accountId, accountId));
  return row?.id ?? undefined;
}

/** Drops events past retention (every mailbox's: cheap on the created_at index, so any worker may run it). */
export async function pruneEvents(db: Database, retentionHours: number): Promise<void> {
  await db.delete(mailboxEvents).where(lt(mailboxEvents.createdAt, sql`now() - make_interval(hours => ${retentionHours})`));
}
