// The account's live feed: what the sync applied to the index, appended in order and announced with
// PostgreSQL NOTIFY so every API process can push it to its server-sent-event streams at once.
import { and, asc, eq, gt, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { accountEventSeqs, mailboxEvents } from '../../db/schema/index.js';
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

/** The fields of a message whose changes a `changes` entry names (what a user sees change in a mail list). */
export type MessageField = 'isRead' | 'flagStatus' | 'subject' | 'from' | 'receivedAt';

/**
 * What kind of change an applied message was: new to the index, changed in its folder (the fields that
 * changed), or found in another folder than before (where it was, and any field that changed besides).
 */
export type MessageChange =
  | { kind: 'created'; message: MessageSummary }
  | { kind: 'updated'; message: MessageSummary; changed: MessageField[] }
  | { kind: 'moved'; message: MessageSummary; from: { id: string; name: string }; changed: MessageField[] };

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
  /** `changes`: what kind of change each written message was, where that is known (absent when none is). */
  | { type: 'messages'; data: { mailboxId: string; upserted: MessageSummary[]; removed: string[]; changes?: MessageChange[] } }
  | { type: 'folders'; data: { mailboxId: string; changed: { id: string; name: string }[]; removed: string[] } }
  | { type: 'mailbox'; data: MailboxState }
  /**
   * Documents changed that no event lists (a big page was indexed, a fresh delta swept leftovers): a page
   * reloads its list. A big page's `changes` still say what kind of change each of its messages was.
   */
  | { type: 'reload'; data: { mailboxId: string; reason: string; changes?: MessageChange[] } };

export interface StoredEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

export function summarize(doc: MessageDoc): MessageSummary {
  return {
    id: doc.messageId,
    mailboxId: doc.mailboxId,
    folder: { id: doc.folderId, name: doc.folderName },
    subject: doc.subject,
    from: doc.from,
    receivedAt: doc.receivedAt,
    isRead: doc.isRead,
    flagStatus: doc.flagStatus,
    lastModifiedAt: doc.lastModifiedAt,
  };
}

/**
 * CTEs `numbered`, `appended` and `notified` that append one event (when `event` is given) and notify
 * listeners. The account's row in account_event_seqs is locked by the append until its transaction
 * commits, so the account's appends commit one after another in `seq` order: a reader that has seen n
 * never meets a later commit numbered below n. The statement using them must read `notified`.
 */
export function appendEventCtes(accountId: string, event: MailboxEvent | undefined): SQL {
  return sql`
    numbered as (
      insert into ${accountEventSeqs} as s (account_id, last_seq) select ${accountId}, 1 where ${event !== undefined}
      on conflict (account_id) do update set last_seq = s.last_seq + 1
      returning last_seq),
    appended as (
      insert into ${mailboxEvents} (account_id, seq, mailbox_id, type, data)
      select ${accountId}, last_seq, ${event?.data.mailboxId ?? ''}, ${event?.type ?? ''}, ${JSON.stringify(event?.data ?? {})}::jsonb from numbered
      returning account_id),
    notified as (select pg_notify(${EVENTS_CHANNEL}, account_id) from appended)`;
}

/** Appends one event and notifies listeners, in one statement (the notification goes out on commit). */
export async function appendEvent(db: Database, accountId: string, event: MailboxEvent): Promise<void> {
  await db.execute(sql`with ${appendEventCtes(accountId, event)} select count(*) from notified`);
}

/** The account's events after `afterSeq`, in order; `id` is the event's number in the account's feed. */
export async function eventsAfter(db: Database, accountId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  return db
    .select({ id: mailboxEvents.seq, type: mailboxEvents.type, data: mailboxEvents.data })
    .from(mailboxEvents)
    .where(and(eq(mailboxEvents.accountId, accountId), gt(mailboxEvents.seq, afterSeq)))
    .orderBy(asc(mailboxEvents.seq))
    .limit(limit);
}

/**
 * Where the account's feed stands: the number of its last committed event (0 before any; retention never
 * lowers it) and of the oldest one still kept (undefined when none is).
 */
export async function feedPosition(db: Database, accountId: string): Promise<{ last: number; oldestKept: number | undefined }> {
  const [row] = await db.execute<{ last: string | null; oldest: string | null }>(sql`
    select (select last_seq from ${accountEventSeqs} where account_id = ${accountId}) as last,
           (select min(seq) from ${mailboxEvents} where account_id = ${accountId}) as oldest`);
  return { last: Number(row?.last ?? 0), oldestKept: row?.oldest == null ? undefined : Number(row.oldest) };
}

/** Drops events past retention (every mailbox's: cheap on the created_at index, so any worker may run it). */
export async function pruneEvents(db: Database, retentionHours: number): Promise<void> {
  await db.delete(mailboxEvents).where(lt(mailboxEvents.createdAt, sql`now() - make_interval(hours => ${retentionHours})`));
}
