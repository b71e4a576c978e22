// The port every mail provider implements for the sync engine: the folder tree as incremental
// changes, each folder's messages as incremental changes from an opaque cursor, and credentials that
// renew themselves. Outlook (Graph delta) and IMAP (UIDVALIDITY, CONDSTORE/QRESYNC) implement it;
// docs/mailbox-sync.md ("Providers") says how the Gmail API (historyId) would map onto it.
import type { ProviderMessage } from './message.js';

export type { ProviderMessage };

export interface ProviderFolder {
  id: string;
  name: string;
  parentId: string | null;
  total: number;
  unread: number;
}

export interface ChangePage<T> {
  changed: T[];
  /** Ids no longer in this scope (deleted, or moved elsewhere: the engine tells which). */
  removed: string[];
  /** Where the next request starts: more of this round, or (when `caughtUp`) the next round. */
  cursor: string;
  caughtUp: boolean;
}

/** A provider's push subscription: it calls a webhook when the mailbox changes, until it expires. */
export interface PushSubscription {
  id: string;
  expiresAt: string;
}

export interface PushChannel {
  /** Subscribes `notificationUrl` (which must answer the provider's validation handshake) until `expiresAt`. */
  subscribe(input: { notificationUrl: string; clientState: string; expiresAt: Date }, signal: AbortSignal): Promise<PushSubscription>;
  /** Extends it; throws SubscriptionGoneError when the provider no longer has it. */
  renew(id: string, expiresAt: Date, signal: AbortSignal): Promise<PushSubscription>;
  unsubscribe(id: string, signal: AbortSignal): Promise<void>;
}

export interface MailProvider {
  readonly name: string;
  /** Push, where the provider has it (Graph subscriptions, IMAP IDLE watches; Gmail watch would fit here too). */
  readonly push?: PushChannel;
  /** The folder tree's changes since `cursor` (null: every folder). */
  folderChanges(cursor: string | null, signal: AbortSignal): Promise<ChangePage<ProviderFolder>>;
  /**
   * One page of a folder's message changes since `cursor` (null: every message in it). `folderName` is the
   * name the folder tree last gave it (IMAP selects a folder by name).
   */
  messageChanges(
    folderId: string,
    cursor: string | null,
    options: { pageSize: number; folderName?: string },
    signal: AbortSignal,
  ): Promise<ChangePage<ProviderMessage>>;
  /** Renews the credentials now (after the provider refused them once). */
  refreshCredentials(): Promise<void>;
}

/** The grant was revoked or expired: the user has to sign in again. */
export class ReauthRequiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReauthRequiredError';
  }
}

/** The provider asked us to slow down; retry after `retryAfterMs`. */
export class ThrottledError extends Error {
  constructor(
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'ThrottledError';
  }
}

/** The cursor is no longer valid: start that scope again from nothing. */
export class CursorExpiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorExpiredError';
  }
}

/** The folder no longer exists. */
export class FolderGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FolderGoneError';
  }
}

/** The provider refused the request itself (a 4xx that retrying cannot fix). */
export class ProviderRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderRequestError';
  }
}

/** The push subscription is gone at the provider (expired, removed): subscribe again. */
export class SubscriptionGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriptionGoneError';
  }
}
