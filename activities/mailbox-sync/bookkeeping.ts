// The workflow's bookkeeping in PostgreSQL and the index: the state a run starts from, removals and
// folders applied once the workflow has confirmed them, the status it publishes, and the purge at unlink.
// None of them calls the provider but the purge (its push subscription goes first, while the tokens work).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Config } from '../../lib/config.js';
import type { MailboxDoc } from '../../lib/mail-index/types.js';
import {
  deleteFolder,
  deleteMailboxRow,
  dropPendingRemovals,
  findMailbox,
  listFolders,
  pendingRemovalSeqs,
  pendingRemovalsOf,
  recordProgress,
  resetAllCursors,
  type MailboxRow,
} from '../../lib/mailbox-sync/sync-state.js';
import { tokenCacheName } from '../../lib/mailbox-sync/outlook/token-cache.js';
import { imapSecretName } from '../../lib/mailbox-sync/imap/credentials.js';
import { imapSyncSettings } from '../../lib/mailbox-sync/imap/settings.js';
import { appendEvent, pruneEvents } from '../../lib/mailbox-sync/events.js';
import { currentSubscription, notificationUrl } from '../../lib/mailbox-sync/subscriptions.js';
import { isTenantDisabled } from '../../lib/tenants/tenants.js';
import type { ActivityDeps } from '../deps.js';
import { HEARTBEAT_TIMEOUT_MS, heartbeating } from './heartbeat.js';
import { SMALL_PAGE } from './pages.js';
import type { MailboxSyncDeps, PublishInput, SyncSettings, SyncState } from './types.js';

/** The errors a mailbox document keeps, newest first. */
const MAX_ERRORS = 10;

/** The settings a run syncs by, read from the configuration when it starts (so a new run takes changes). */
function syncSettings(config: Config, provider: MailboxRow['provider'] | undefined): SyncSettings {
  if (provider === 'imap') return imapSyncSettings(config);
  return {
    pollIntervalMs: Math.round(config.SYNC_POLL_INTERVAL_SECONDS * 1000),
    pageSize: config.SYNC_PAGE_SIZE,
    pagesPerActivity: config.SYNC_PAGES_PER_ACTIVITY,
    lanes: config.SYNC_MAX_CONCURRENT_REQUESTS,
    historyEventsPerRun: config.SYNC_HISTORY_EVENTS_PER_RUN,
    pageTimeoutMs: config.GRAPH_TIMEOUT_MS + 30_000,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    requestsPerSecond: config.SYNC_REQUESTS_PER_10_MINUTES / 600,
    requestBurst: config.SYNC_REQUEST_BURST,
    push: notificationUrl(config)
      ? {
          pollIntervalMs: Math.round(config.SYNC_PUSH_POLL_INTERVAL_SECONDS * 1000),
          renewBeforeMs: config.GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS * 1000,
          retryMs: Math.round(Math.min(config.SYNC_PUSH_POLL_INTERVAL_SECONDS, 900) * 1000),
        }
      : null,
  };
}

export function createBookkeepingActivities({ db, config, logger, secrets }: ActivityDeps, { index, providers }: MailboxSyncDeps) {
  return {
    /**
     * On a workflow's first run the mailbox row may not be visible yet (the link commits after the start):
     * then this fails and is retried, and only a row still missing after the retries means "gone".
     */
    loadSyncState: (input: { mailboxId: string; firstRun: boolean }) =>
      heartbeating(async (): Promise<SyncState> => {
        const mailbox = await findMailbox(db, input.mailboxId);
        if (!mailbox && input.firstRun) throw ApplicationFailure.retryable(`mailbox ${input.mailboxId} is not visible yet`, 'MailboxNotVisibleYet');
        if (!mailbox)
          return { exists: false, status: null, settings: syncSettings(config, undefined), folderCursor: null, folderCursorCaughtUp: false, folders: [] };
        const folders = await listFolders(db, input.mailboxId);
        // Each run of each mailbox's workflow keeps the live feed's table bounded.
        await pruneEvents(db, config.MAILBOX_EVENTS_RETENTION_HOURS);
        return {
          exists: true,
          status: mailbox.status,
          settings: syncSettings(config, mailbox.provider),
          folderCursor: mailbox.folderCursor,
          folderCursorCaughtUp: mailbox.folderCursorKind === 'delta',
          folders: folders.map((f) => ({
            folderId: f.folderId,
            name: f.displayName,
            cursor: f.cursor,
            caughtUp: f.cursorKind === 'delta',
            initialDone: f.initialDone,
          })),
          pendingRemovalSeqs: await pendingRemovalSeqs(db, input.mailboxId),
          tenantDisabled: await isTenantDisabled(db, mailbox.owner),
        };
      }),

    /**
     * Applies the removals recorded by the pages stamped `seqs`, now that every folder has been read again since:
     * a message still in the folder it was removed from, and not written since, is really gone.
     */
    resolveRemovals: (input: { mailboxId: string; accountId: string; seqs: number[] }) =>
      heartbeating(async (): Promise<{ deleted: number }> => {
        const candidates = await pendingRemovalsOf(db, input.mailboxId, input.seqs);
        const deleted = candidates.length > 0 ? await index.removeMessages(input.mailboxId, candidates, { visibleNow: candidates.length <= SMALL_PAGE }) : [];
        if (deleted.length > 0)
          await appendEvent(db, input.accountId, { type: 'messages', data: { mailboxId: input.mailboxId, upserted: [], removed: deleted } });
        await dropPendingRemovals(db, input.mailboxId, input.seqs);
        return { deleted: deleted.length };
      }),

    removeFolder: (input: { mailboxId: string; accountId: string; folderId: string }) =>
      heartbeating(async (): Promise<{ deleted: number }> => {
        const deleted = await index.deleteFolderMessages(input.mailboxId, input.folderId);
        await deleteFolder(db, input.mailboxId, input.folderId);
        await appendEvent(db, input.accountId, { type: 'folders', data: { mailboxId: input.mailboxId, changed: [], removed: [input.folderId] } });
        logger.info({ mailboxId: input.mailboxId, folderId: input.folderId, deleted }, 'folder removed with its messages');
        return { deleted };
      }),

    requestFreshDelta: (input: { mailboxId: string }) =>
      heartbeating(async (): Promise<void> => {
        await resetAllCursors(db, input.mailboxId);
      }),

    /** The mailbox's status and progress, in PostgreSQL (the API) and in the mailboxes index. */
    publishMailbox: (input: PublishInput) =>
      heartbeating(async (): Promise<void> => {
        const row = await recordProgress(db, input.mailboxId, {
          status: input.status,
          foldersTotal: input.foldersTotal,
          foldersSynced: input.foldersSynced,
          lastSyncAt: input.lastSyncAt === null ? null : new Date(input.lastSyncAt),
          lastError: input.lastError ? { message: input.lastError.message, at: new Date(input.lastError.at) } : null,
        });
        if (!row) return;
        const [folders, counts, previous] = await Promise.all([listFolders(db, row.id), index.folderCounts(row.id), index.getMailbox(row.id)]);
        const errors = previous?.errors ?? [];
        if (input.lastError && errors[0]?.at !== new Date(input.lastError.at).toISOString()) {
          errors.unshift({ at: new Date(input.lastError.at).toISOString(), message: input.lastError.message });
        }
        const doc: MailboxDoc = {
          accountId: row.accountId,
          mailboxId: row.id,
          provider: row.provider,
          address: row.address,
          displayName: row.displayName,
          folders: folders.map((f) => ({
            id: f.folderId,
            name: f.displayName,
            parentId: f.parentFolderId,
            total: counts[f.folderId]?.total ?? 0,
            unread: counts[f.folderId]?.unread ?? 0,
          })),
          syncStatus: row.status,
          phase: input.phase,
          messagesIndexed: row.messagesIndexed,
          lastSyncAt: row.lastSyncAt?.toISOString() ?? null,
          errors: errors.slice(0, MAX_ERRORS),
          updatedAt: new Date().toISOString(),
        };
        await index.putMailbox(doc);
        await appendEvent(db, row.accountId, {
          type: 'mailbox',
          data: {
            mailboxId: row.id,
            address: row.address,
            status: row.status,
            phase: input.phase,
            foldersTotal: row.foldersTotal,
            foldersSynced: row.foldersSynced,
            messagesIndexed: row.messagesIndexed,
            messagesInIndex: Object.values(counts).reduce((n, c) => n + c.total, 0),
            lastSyncAt: doc.lastSyncAt,
            lastError: row.lastError,
          },
        });
      }),

    /** Unlink: the mailbox's documents, its token cache and its rows go (its push subscription first, while the tokens still work). */
    purgeMailbox: (input: { mailboxId: string }) =>
      heartbeating(async (): Promise<void> => {
        const row = await findMailbox(db, input.mailboxId);
        const subscription = row ? await currentSubscription(db, row.id) : undefined;
        if (row && subscription) {
          await providers
            .forMailbox({ id: row.id, provider: row.provider, homeAccountId: row.homeAccountId, connection: row.connection })
            .push?.unsubscribe(subscription.subscriptionId, Context.current().cancellationSignal)
            .catch((error: unknown) => logger.warn({ mailboxId: row.id, err: error }, 'could not delete the push subscription; it expires by itself'));
        }
        await index.deleteMailbox(input.mailboxId);
        await secrets.delete(tokenCacheName(input.mailboxId));
        await secrets.delete(imapSecretName(input.mailboxId));
        await deleteMailboxRow(db, input.mailboxId);
        if (row) {
          await appendEvent(db, row.accountId, {
            type: 'mailbox',
            data: {
              mailboxId: row.id,
              address: row.address,
              status: 'UNLINKED',
              phase: 'UNLINKED',
              foldersTotal: 0,
              foldersSynced: 0,
              messagesIndexed: 0,
              messagesInIndex: 0,
              lastSyncAt: null,
              lastError: null,
            },
          });
        }
        providers.forget(input.mailboxId);
        logger.info({ mailboxId: input.mailboxId }, 'mailbox unlinked and purged');
      }),
  };
}
