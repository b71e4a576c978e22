// What the mailboxSync workflow and its activities hand each other. These shapes are in recorded
// histories (activity inputs and results): a field added later is optional, and its absence means what
// older runs did.
import type { MailIndex } from '../../lib/mail-index/types.js';
import type { MailProviders } from '../../lib/mailbox-sync/providers.js';
import type { MailboxStatus } from '../../lib/mailbox-sync/sync-state.js';

export interface MailboxSyncDeps {
  index: MailIndex;
  providers: MailProviders;
}

export interface SyncSettings {
  pollIntervalMs: number;
  pageSize: number;
  lanes: number;
  historyEventsPerRun: number;
  /** Pages one activity may read in a row (absent in histories from before batches: one). */
  pagesPerActivity?: number;
  /** One request plus indexing its page; and how soon a page whose worker died is retried. */
  pageTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** Graph requests per second the mailbox may average (Outlook: 10,000 per 10 minutes), and how many at once above it. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Push settings when this deployment can receive Graph notifications; null: polling only. */
  push: { pollIntervalMs: number; renewBeforeMs: number; retryMs: number } | null;
}

export interface FolderState {
  folderId: string;
  name: string;
  cursor: string | null;
  caughtUp: boolean;
  initialDone: boolean;
}
export interface SyncState {
  exists: boolean;
  status: MailboxStatus | null;
  settings: SyncSettings;
  folderCursor: string | null;
  folderCursorCaughtUp: boolean;
  folders: FolderState[];
  /** Stamps of the removals pending in PostgreSQL (absent from histories before they were loaded: none). */
  pendingRemovalSeqs?: number[];
  /** Whether the mailbox's tenant is disabled: the sync holds (absent from histories before tenants). */
  tenantDisabled?: boolean;
}

/** The provider's answers that are not failures: the workflow acts on them. */
export type ProviderAnswer = { outcome: 'expired' } | { outcome: 'gone' } | { outcome: 'reauth'; reason: string };

/** What a page did; `expired`, `gone` and `reauth` tell the workflow what to do next. */
export type PageOutcome<T> = ({ outcome: 'page'; cursor: string; caughtUp: boolean } & T) | ProviderAnswer;

export interface FolderListResult {
  changed: { folderId: string; name: string }[];
  removed: string[];
}
/** Over the pages one activity read: `removed` and `seq` are the last page's (a page with removals ends a batch). */
export interface MessagePageResult {
  written: number;
  stale: number;
  removed: number;
  seq: number;
  pages?: number;
}
/**
 * A batch's outcome. `removalSeqs`: the stamp of every page with removals the batch recorded, in this attempt or
 * one before it (a retried batch goes on after them); absent from results recorded before it was reported.
 */
export type MessagePagesOutcome = PageOutcome<MessagePageResult> & { removalSeqs?: number[] };
export interface MessagePagesInput {
  mailboxId: string;
  accountId: string;
  folderId: string;
  folderName: string;
  cursor: string | null;
  pageSize: number;
  maxPages?: number;
}

export interface PublishInput {
  mailboxId: string;
  status: MailboxStatus;
  phase: string;
  foldersTotal: number;
  foldersSynced: number;
  /** Epoch ms of the last completed round. */
  lastSyncAt: number | null;
  lastError: { message: string; at: number } | null;
}

export type SubscriptionOutcome =
  | { outcome: 'subscribed'; subscriptionId: string; expiresAt: number }
  | { outcome: 'unavailable'; reason: string }
  | { outcome: 'gone' }
  | { outcome: 'reauth'; reason: string };
