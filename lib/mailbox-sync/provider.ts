// The port every mail provider implements for the sync engine: the folder tree as incremental
// changes, each folder's messages as incremental changes from an opaque cursor, and credentials that
// renew themselves. Outlook (Graph delta) is the first adapter; the README says how IMAP
// (UIDVALIDITY + CONDSTORE/QRESYNC) and the Gmail API (historyId) map onto it.
import type { Address, FlagStatus } from '../mail-index/types.js';

export interface ProviderFolder { id: string; name: string; parentId: string | null; total: number; unread: number }

/** A message as the provider reports it; the engine adds the account, mailbox, folder name and write stamp. */
export interface ProviderMessage {
  id: string;
  folderId: string;
  subject: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  receivedAt: string | null;
  isRead: boolean;
  flagStatus: FlagStatus;
  bodyPreview: string;
  conversationId: string | null;
  internetMessageId: string | null;
  hasAttachments: boolean;
  changeKey: string | null;
  lastModifiedAt: string;
}

export interface ChangePage<T> {
  changed: T[];
  /** Ids no longer in this scope (deleted, or moved elsewhere: the engine tells which). */
  removed: string[];
  /** Where the next request starts: more of this round, or (when `caughtUp`) the next round. */
  cursor: string;
  caughtUp: boolean;
}

export interface MailProvider {
  readonly name: string;
  /** The folder tree's changes since `cursor` (null: every folder). */
  folderChanges(cursor: string | null, signal: AbortSignal): Promise<ChangePage<ProviderFolder>>;
  /** One page of a folder's message changes since `cursor` (null: every message in it). */
  messageChanges(folderId: string, cursor: string | null, options: { pageSize: number }, signal: AbortSignal): Promise<ChangePage<ProviderMessage>>;
  /** Renews the credentials now (after the provider refused them once). */
  refreshCredentials(): Promise<void>;
}

/** The grant was revoked or expired: the user has to sign in again. */
export class ReauthRequiredError extends Error {
  constructor(message: string) { super(message); this.name = 'ReauthRequiredError'; }
}

/** The provider asked us to slow down; retry after `retryAfterMs`. */
export class ThrottledError extends Error {
  constructor(readonly retryAfterMs: number, message: string) { super(message); this.name = 'ThrottledError'; }
}

/** The cursor is no longer valid: start that scope again from nothing. */
export class CursorExpiredError extends Error {
  constructor(message: string) { super(message); this.name = 'CursorExpiredError'; }
}

/** The folder no longer exists. */
export class FolderGoneError extends Error {
  constructor(message: string) { super(message); this.name = 'FolderGoneError'; }
}

/** The provider refused the request itself (a 4xx that retrying cannot fix). */
export class ProviderRequestError extends Error {
  constructor(readonly status: number, message: string) { super(message); this.name = 'ProviderRequestError'; }
}
