import { bigint, boolean, index, integer, jsonb, pgEnum, pgSequence, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { parentKey, parentRef, timestamptz, timestamptzNow } from './columns.js';
import { accounts } from './accounts.js';

export const mailProviderEnum = pgEnum('mail_provider', ['outlook', 'imap']);
export const mailboxStatusEnum = pgEnum('mailbox_status', ['LINKED', 'SYNCING', 'LIVE', 'PAUSED', 'REAUTH_REQUIRED', 'UNLINKING']);

/**
 * One pending OAuth sign-in. The state travels through the browser; only its SHA-256 is stored, with the
 * PKCE verifier sealed to it. It is bound to the account and the key that asked, used once
 * (`used_at`), and expires. The callback refuses it if that key was revoked (or its tenant disabled) since,
 * and refuses a signed-in mailbox other than `expected_address` when one is set.
 */
export const oauthStates = pgTable(
  'oauth_states',
  {
    stateHash: text().primaryKey(),
    provider: mailProviderEnum().notNull(),
    accountId: parentRef(() => accounts.id),
    owner: text().notNull(),
    /** The credential that asked: an API key id, or `admin:<fingerprint>` of the admin key then in force. */
    credential: text().notNull(),
    /** The mailbox address the sign-in must end in (case-insensitive); null: any address. */
    expectedAddress: text(),
    codeVerifierSealed: text().notNull(),
    callbackUrl: text().notNull(),
    createdAt: timestamptzNow(),
    expiresAt: timestamptz().notNull(),
    usedAt: timestamptz(),
  },
  (t) => [
    // Expired states are swept by age.
    index('oauth_states_expires_idx').on(t.expiresAt),
  ],
);

/**
 * A linked mailbox. The MSAL token cache lives sealed in `secrets` (lib/mailbox-sync/outlook/token-cache.ts);
 * this row holds who it is, where its sync stands, and the folder-delta cursor.
 */
/** An IMAP mailbox's server and login, without its secret. */
export interface ImapConnectionRecord {
  host: string;
  port: number;
  tls: 'implicit' | 'starttls' | 'none';
  username: string;
  auth: 'password' | 'xoauth2';
}

export const mailboxes = pgTable(
  'mailboxes',
  {
    id: text().primaryKey(), // mbx_…
    accountId: parentRef(() => accounts.id),
    owner: text().notNull(),
    provider: mailProviderEnum().notNull(),
    /** The provider's id of the user (Graph `/me` id). */
    externalId: text().notNull(),
    /** MSAL's homeAccountId (uid.utid), to find the account in the token cache. */
    homeAccountId: text(),
    address: text().notNull(),
    displayName: text(),
    /** Where an IMAP mailbox is reached and how it signs in (its password or token is sealed in `secrets`); null for Outlook. */
    connection: jsonb().$type<ImapConnectionRecord>(),
    status: mailboxStatusEnum().notNull().default('LINKED'),
    workflowId: text().notNull(),
    /** The folder-tree delta cursor, and whether it is a nextLink ('next') or a deltaLink ('delta'). */
    folderCursor: text(),
    folderCursorKind: text().$type<'next' | 'delta'>(),
    foldersTotal: integer().notNull().default(0),
    foldersSynced: integer().notNull().default(0),
    messagesIndexed: bigint({ mode: 'number' }).notNull().default(0),
    lastSyncAt: timestamptz(),
    lastError: text(),
    lastErrorAt: timestamptz(),
    linkedAt: timestamptzNow(),
    createdAt: timestamptzNow(),
    updatedAt: timestamptzNow(),
  },
  (t) => [
    // The same provider mailbox linked twice to one account is one mailbox; also lists an account's mailboxes.
    uniqueIndex('mailboxes_account_external_idx').on(t.accountId, t.provider, t.externalId),
  ],
);

/**
 * A folder of a mailbox and its message-delta cursor (a nextLink mid-round, a deltaLink between rounds),
 * so a lost workflow history costs a re-read, never lost mail. `sweep_below_seq` is set while a fresh
 * delta runs (first sync, expired token, full resync): when it ends, documents of this folder written
 * before it are stale leftovers and are removed.
 */
export const mailboxFolders = pgTable(
  'mailbox_folders',
  {
    mailboxId: parentRef(() => mailboxes.id),
    folderId: text().notNull(),
    displayName: text().notNull(),
    parentFolderId: text(),
    cursor: text(),
    /** 'next' (mid-round) or 'delta' (caught up); null: no cursor yet (a fresh delta is due). */
    cursorKind: text().$type<'next' | 'delta'>(),
    initialDone: boolean().notNull().default(false),
    sweepBelowSeq: bigint({ mode: 'number' }),
    totalCount: integer().notNull().default(0),
    unreadCount: integer().notNull().default(0),
    updatedAt: timestamptzNow(),
  },
  (t) => [primaryKey({ columns: [t.mailboxId, t.folderId] })],
);

/**
 * `@removed` seen in a folder's delta. A move shows as a removal in the source folder and an addition in
 * the destination, in either order, so a removal is only applied once every folder has been read again
 * after it: then a document still in that folder, not written since, is really gone.
 */
export const mailPendingRemovals = pgTable(
  'mail_pending_removals',
  {
    mailboxId: parentRef(() => mailboxes.id),
    messageId: text().notNull(),
    folderId: text().notNull(),
    seq: bigint({ mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.mailboxId, t.messageId, t.folderId] }),
    // Resolution takes a mailbox's removals up to a sequence number.
    index('mail_pending_removals_seq_idx').on(t.mailboxId, t.seq),
  ],
);

/**
 * Orders every write the sync makes (a page's documents, its removals), across workers and runs: a
 * document stamped with an older number than a removal was not written after it.
 */
export const mailSyncSeq = pgSequence('mail_sync_seq');

/**
 * A mailbox's Graph change-notification subscription. Graph echoes `clientState` in every notification;
 * only its SHA-256 is kept, compared in constant time, so a forged notification changes nothing.
 */
export const graphSubscriptions = pgTable(
  'graph_subscriptions',
  {
    subscriptionId: text().primaryKey(),
    mailboxId: parentRef(() => mailboxes.id),
    clientStateHash: text().notNull(),
    resource: text().notNull(),
    expiresAt: timestamptz().notNull(),
    createdAt: timestamptzNow(),
    renewedAt: timestamptz(),
  },
  (t) => [
    // A mailbox's current subscription(s).
    index('graph_subscriptions_mailbox_idx').on(t.mailboxId),
  ],
);

/**
 * An IMAP mailbox's push: while the sync workflow keeps this row alive (`expires_at`), one sync worker holds it
 * (`holder` until `held_until`, renewed as it goes) and watches the mailbox over IDLE, signalling the workflow on
 * changes. A worker that dies lets its lease run out and another takes the watch.
 */
export const imapWatches = pgTable(
  'imap_watches',
  {
    mailboxId: parentKey(() => mailboxes.id),
    workflowId: text().notNull(),
    expiresAt: timestamptz().notNull(),
    holder: text(),
    heldUntil: timestamptz(),
    /** Since when the holder's connection is up and watching; null while it is connecting or down. */
    watchingSince: timestamptz(),
    createdAt: timestamptzNow(),
  },
  (t) => [
    // Watchers claim the watches nobody holds.
    index('imap_watches_held_until_idx').on(t.heldUntil),
  ],
);
