// The mail index: where synced mail is kept and searched. Two implementations behind one interface,
// Elasticsearch (production) and PostgreSQL (where no Elasticsearch runs); one contract test suite runs
// against both (test/integration/mail-index.test.ts).
import type { Address, FlagStatus, ProviderMessage } from '../mailbox-sync/message.js';

export type { Address, FlagStatus };

/**
 * One message, keyed by (mailboxId, messageId); messageId is the provider's immutable id. It is the provider's
 * message as the sync read it, plus where it was found and which write stored it.
 */
export interface MessageDoc extends Omit<ProviderMessage, 'id'> {
  accountId: string;
  mailboxId: string;
  messageId: string;
  provider: string;
  folderName: string;
  /**
   * The sync write that last stored it (a value of the `mail_sync_seq` sequence, taken before its page was
   * fetched). Of two copies with the same lastModifiedAt, the one with the greater syncSeq was fetched later
   * and wins: (lastModifiedAt, syncSeq) is compared as a pair, and a greater or equal pair overwrites.
   */
  syncSeq: number;
}

/** A message as the index holds it, as far as telling what a write changed needs: where it is and what a user sees. */
export type MessageState = Pick<MessageDoc, 'messageId' | 'folderId' | 'folderName' | 'subject' | 'from' | 'receivedAt' | 'isRead' | 'flagStatus'>;

export interface FolderSummary {
  id: string;
  name: string;
  parentId: string | null;
  total: number;
  unread: number;
}

export interface MailboxError {
  at: string;
  message: string;
}

/** One mailbox's details, as the `mailboxes` index holds them. */
export interface MailboxDoc {
  accountId: string;
  mailboxId: string;
  provider: string;
  address: string;
  displayName: string | null;
  folders: FolderSummary[];
  syncStatus: string;
  phase: string;
  messagesIndexed: number;
  /** ISO 8601 of the last completed round, or null before the first. */
  lastSyncAt: string | null;
  /** The most recent errors, newest first (at most 10). */
  errors: MailboxError[];
  updatedAt: string;
}

export interface MessageQuery {
  /** The mailboxes to search (an account's, or one); an empty list finds nothing. */
  mailboxIds: string[];
  folderId?: string;
  isRead?: boolean;
  /** true: flagStatus 'flagged'; false: anything else. */
  flagged?: boolean;
  /** Words matched against the subject, the sender's name and the sender's address. */
  text?: string;
  limit: number;
  /** From a previous page's nextCursor. */
  cursor?: string;
}

export interface MessagePage {
  data: MessageDoc[];
  nextCursor: string | null;
}

export interface UpsertResult {
  /** Documents written (new, or a (lastModifiedAt, syncSeq) pair at least as great as the stored one's). */
  written: number;
  /** Documents refused because the stored pair is greater (a newer version, or the same one fetched later). */
  stale: number;
  /** The documents written, one per message (the newest copy), as stored: what changed in the index. */
  applied: MessageDoc[];
}

export interface WriteOptions {
  /**
   * Searchable when the call returns (an index that publishes writes after a delay refreshes now). For
   * small incremental changes, so what the live feed announces is what a reader then finds.
   */
  visibleNow?: boolean;
}

/** A pending removal: delete the message only if it is still in `folderId` and not written after `seq`. */
export interface RemovalCandidate {
  messageId: string;
  folderId: string;
  seq: number;
}

export interface MailIndex {
  readonly backend: 'elasticsearch' | 'postgres';
  /** Creates indices, mappings and aliases if missing; safe to call from every process at once. */
  ensureReady(): Promise<void>;
  /**
   * Upserts by (mailboxId, messageId), skipping any document whose stored (lastModifiedAt, syncSeq) pair is
   * greater: a page fetched before a change and applied after it never undoes it. Idempotent.
   */
  upsertMessages(docs: MessageDoc[], options?: WriteOptions): Promise<UpsertResult>;
  /** Deletes the candidates still in their folder and not written after their seq; returns the ids deleted. */
  removeMessages(mailboxId: string, candidates: RemovalCandidate[], options?: WriteOptions): Promise<string[]>;
  /** Deletes a folder's messages (the folder is gone). */
  deleteFolderMessages(mailboxId: string, folderId: string): Promise<number>;
  /** Deletes a folder's messages last written before `belowSeq` (leftovers after a fresh delta). */
  sweepFolder(mailboxId: string, folderId: string, belowSeq: number): Promise<number>;
  /** Sets the folder name on every message of the folder (a renamed folder). */
  renameFolder(mailboxId: string, folderId: string, folderName: string): Promise<void>;
  /** Removes every message and the mailbox document (unlink). */
  deleteMailbox(mailboxId: string): Promise<void>;
  getMessage(mailboxId: string, messageId: string): Promise<MessageDoc | undefined>;
  /**
   * The stored state of those of the messages the index holds, by messageId (one absent is not indexed), in
   * one read of at most 1,000 ids: read before a page is written, to tell what the page changes.
   */
  currentStates(mailboxId: string, messageIds: string[]): Promise<Map<string, MessageState>>;
  /** Newest first (receivedAt desc, then messageId), with cursor paging. */
  searchMessages(query: MessageQuery): Promise<MessagePage>;
  /** Total and unread messages per folder id, from the index. */
  folderCounts(mailboxId: string): Promise<Record<string, { total: number; unread: number }>>;
  countMessages(mailboxId: string): Promise<number>;
  putMailbox(doc: MailboxDoc): Promise<void>;
  getMailbox(mailboxId: string): Promise<MailboxDoc | undefined>;
  /** Makes every write so far visible to search (tests and benchmarks; production relies on the refresh interval). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown for a cursor that this index did not make: the API answers 400. */
export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor is not valid');
    this.name = 'InvalidCursorError';
  }
}
