// Mailbox-sync activities: every piece of I/O of the mailboxSync workflow. Each Graph page is one
// request, indexed and checkpointed in order (a folder's pages may be read a few in a row by one
// activity, which fetches the next link while a page is indexed and heartbeats its checkpoint after each); every write
// is idempotent, so a retried or replayed page changes nothing. Throttling becomes the activity's next
// retry delay (Retry-After); an expired cursor, a vanished folder or a dead grant are answers the
// workflow acts on, not failures.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { MailIndex, MailboxDoc, MessageDoc } from '../lib/mail-index/types.js';
import type { MailProviders } from '../lib/mailbox-sync/providers.js';
import { CursorExpiredError, FolderGoneError, ProviderRequestError, ReauthRequiredError, SubscriptionGoneError, ThrottledError, type ChangePage, type MailProvider, type ProviderMessage } from '../lib/mailbox-sync/provider.js';
import {
  addPendingRemovals, clearSweep, deleteFolder, dropPendingRemovals, findMailbox, listFolders, mailboxForWrite, pendingRemovalSeqs, pendingRemovalsOf,
  deleteMailboxRow, recordPage, recordProgress, resetAllCursors, resetFolderCursor, saveFolderCursor, upsertFolders, type MailboxRow, type MailboxStatus,
} from '../lib/mailbox-sync/sync-state.js';
import { tokenCacheName } from '../lib/mailbox-sync/outlook/token-cache.js';
import { appendEvent, pruneEvents, summarize } from '../lib/mailbox-sync/events.js';
import { syncMetrics } from '../lib/mailbox-sync/metrics.js';
import { currentSubscription, forgetSubscription, newClientState, notificationUrl, renewedSubscription, saveSubscription } from '../lib/mailbox-sync/subscriptions.js';
import { isTenantDisabled } from '../lib/tenants/tenants.js';
import type { ActivityDeps } from './deps.js';

export interface SyncSettings {
  pollIntervalMs: number; pageSize: number; lanes: number; historyEventsPerRun: number;
  /** Pages one activity may read in a row (absent in histories from before batches: one). */
  pagesPerActivity?: number;
  /** One request plus indexing its page; and how soon a page whose worker died is retried. */
  pageTimeoutMs: number; heartbeatTimeoutMs: number;
  /** Graph requests per second the mailbox may average (Outlook: 10,000 per 10 minutes), and how many at once above it. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Push settings when this deployment can receive Graph notifications; null: polling only. */
  push: { pollIntervalMs: number; renewBeforeMs: number; retryMs: number } | null;
}

export type SubscriptionOutcome =
  | { outcome: 'subscribed'; subscriptionId: string; expiresAt: number }
  | { outcome: 'unavailable'; reason: string }
  | { outcome: 'gone' }
  | { outcome: 'reauth'; reason: string };
export interface FolderState { folderId: string; name: string; cursor: string | null; caughtUp: boolean; initialDone: boolean }
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

/** What a page did; `expired`, `gone` and `reauth` tell the workflow what to do next. */
export type PageOutcome<T> =
  | ({ outcome: 'page'; cursor: string; caughtUp: boolean } & T)
  | { outcome: 'expired' }
  | { outcome: 'gone' }
  | { outcome: 'reauth'; reason: string };

export interface FolderListResult { changed: { folderId: string; name: string }[]; removed: string[] }
/** Over the pages one activity read: `removed` and `seq` are the last page's (a page with removals ends a batch). */
export interface MessagePageResult { written: number; stale: number; removed: number; seq: number; pages?: number }
/**
 * A batch's outcome. `removalSeqs`: the stamp of every page with removals the batch recorded, in this attempt or
 * one before it (a retried batch goes on after them); absent from results recorded before it was reported.
 */
export type MessagePagesOutcome = PageOutcome<MessagePageResult> & { removalSeqs?: number[] };
export interface MessagePagesInput { mailboxId: string; accountId: string; folderId: string; folderName: string; cursor: string | null; pageSize: number; maxPages?: number }
/** A page as the provider answered it, with the write number taken before the request, or what to do instead. */
type FetchedPage =
  | { outcome: 'fetched'; cursor: string | null; mailbox: MailboxRow; seq: number; page: ChangePage<ProviderMessage> }
  | { outcome: 'expired'; provider: string } | { outcome: 'gone' } | { outcome: 'reauth'; reason: string };
/**
 * Where a batch of pages got to: a retried attempt goes on from the last page recorded, and still reports the
 * removals recorded before it (absent from checkpoints made before they were kept: none).
 */
interface BatchCheckpoint { cursor: string; written: number; stale: number; pages: number; removalSeqs?: number[] }

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

export interface MailboxSyncDeps { index: MailIndex; providers: MailProviders }

const MAX_ERRORS = 10;
/**
 * Pages this small are incremental changes: made searchable before they are announced on the live feed,
 * message by message. Bigger ones (an initial sync's) are announced as a `reload`.
 */
const SMALL_PAGE = 50;
const HEARTBEAT_TIMEOUT_MS = 10_000;
/** A batch starts no page after this long, so pause, unlink and progress are never held up for long. */
const BATCH_BUDGET_MS = 5_000;

/**
 * Heartbeats while `work` runs, so a page whose worker died is retried after the heartbeat timeout, not the
 * whole page timeout. `details` is the latest checkpoint: every heartbeat carries it (each one replaces the last).
 */
async function heartbeating<T>(work: () => Promise<T>, details: () => unknown = () => undefined): Promise<T> {
  const context = Context.current();
  context.heartbeat(details());
  const ticker = setInterval(() => context.heartbeat(details()), HEARTBEAT_TIMEOUT_MS / 4);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}

function toDoc(m: ProviderMessage, ctx: { accountId: string; mailboxId: string; provider: string; folderName: string; seq: number }): MessageDoc {
  const { id, ...fields } = m;
  return { ...fields, messageId: id, accountId: ctx.accountId, mailboxId: ctx.mailboxId, provider: ctx.provider, folderName: ctx.folderName, syncSeq: ctx.seq };
}

export function createMailboxSyncActivities(deps: ActivityDeps, sync: MailboxSyncDeps) {
  const { db, config, logger } = deps;
  const settings = (): SyncSettings => ({
    pollIntervalMs: Math.round(config.SYNC_POLL_INTERVAL_SECONDS * 1000), pageSize: config.SYNC_PAGE_SIZE, pagesPerActivity: config.SYNC_PAGES_PER_ACTIVITY, lanes: config.SYNC_MAX_CONCURRENT_REQUESTS,
    historyEventsPerRun: config.SYNC_HISTORY_EVENTS_PER_RUN, pageTimeoutMs: config.GRAPH_TIMEOUT_MS + 30_000, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    requestsPerSecond: config.SYNC_REQUESTS_PER_10_MINUTES / 600, requestBurst: config.SYNC_REQUEST_BURST,
    push: notificationUrl(config) ? {
      pollIntervalMs: Math.round(config.SYNC_PUSH_POLL_INTERVAL_SECONDS * 1000), renewBeforeMs: config.GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS * 1000,
      retryMs: Math.round(Math.min(config.SYNC_PUSH_POLL_INTERVAL_SECONDS, 900) * 1000),
    } : null,
  });

  async function mailboxOrGone(mailboxId: string): Promise<MailboxRow> {
    const mailbox = await findMailbox(db, mailboxId);
    if (!mailbox) throw ApplicationFailure.nonRetryable(`mailbox ${mailboxId} no longer exists`, 'MailboxNotFound');
    return mailbox;
  }

  /** Runs one provider request; maps the provider's answers to outcomes and retry decisions. */
  async function fromProvider<T>(mailbox: MailboxRow, request: (provider: MailProvider, signal: AbortSignal) => Promise<T>, signal = Context.current().cancellationSignal): Promise<T | { outcome: 'expired' } | { outcome: 'gone' } | { outcome: 'reauth'; reason: string }> {
    try {
      const provider = sync.providers.forMailbox({ id: mailbox.id, provider: mailbox.provider, homeAccountId: mailbox.homeAccountId });
      return await request(provider, signal);
    } catch (error) {
      if (error instanceof CursorExpiredError) return { outcome: 'expired' };
      if (error instanceof FolderGoneError) return { outcome: 'gone' };
      if (error instanceof ReauthRequiredError) {
        sync.providers.forget(mailbox.id);
        return { outcome: 'reauth', reason: error.message };
      }
      if (error instanceof ThrottledError) {
        syncMetrics.throttled.inc({ provider: mailbox.provider });
        logger.info({ mailboxId: mailbox.id, retryAfterMs: error.retryAfterMs }, 'provider throttled; waiting for Retry-After');
        throw ApplicationFailure.create({ type: 'ProviderThrottled', message: error.message, nextRetryDelay: error.retryAfterMs });
      }
      if (error instanceof ProviderRequestError) throw ApplicationFailure.nonRetryable(error.message, 'ProviderRequestRefused');
      throw error;
    }
  }

  /** One page of a folder's message changes, fetched under a new write number (taken before the request). */
  async function fetchMessagePage(input: MessagePagesInput, cursor: string | null, signal?: AbortSignal): Promise<FetchedPage> {
    const forWrite = await mailboxForWrite(db, input.mailboxId);
    if (!forWrite) throw ApplicationFailure.nonRetryable(`mailbox ${input.mailboxId} no longer exists`, 'MailboxNotFound');
    const { mailbox, seq } = forWrite;
    const page = await fromProvider(mailbox, (provider, s) => provider.messageChanges(input.folderId, cursor, { pageSize: input.pageSize }, s), signal);
    if (!('outcome' in page)) return { outcome: 'fetched', cursor, mailbox, seq, page };
    return page.outcome === 'expired' ? { outcome: 'expired', provider: mailbox.provider } : page;
  }

  /** A fetched page indexed, its removals and cursor recorded; an expired cursor is reset here, after the pages before it. */
  async function applyMessagePage(input: MessagePagesInput, fetched: FetchedPage): Promise<PageOutcome<MessagePageResult>> {
    if (fetched.outcome !== 'fetched') {
      if (fetched.outcome !== 'expired') return fetched;
      syncMetrics.expiredCursors.inc({ provider: fetched.provider });
      logger.warn({ mailboxId: input.mailboxId, folderId: input.folderId }, 'delta token expired; syncing the folder afresh');
      await resetFolderCursor(db, input.mailboxId, input.folderId);
      return { outcome: 'expired' };
    }
    const { cursor, mailbox, seq, page } = fetched;
    const docs = page.changed.map((m) => toDoc(m, { accountId: input.accountId, mailboxId: mailbox.id, provider: mailbox.provider, folderName: input.folderName, seq }));
    const { written, stale, applied } = docs.length > 0
      ? await sync.index.upsertMessages(docs, { visibleNow: docs.length <= SMALL_PAGE })
      : { written: 0, stale: 0, applied: [] };
    await addPendingRemovals(db, mailbox.id, input.folderId, page.removed, seq);
    const sweepBelow = await recordPage(db, {
      mailboxId: mailbox.id, accountId: input.accountId, folderId: input.folderId, cursor: page.cursor, caughtUp: page.caughtUp,
      fresh: cursor === null, seq, written,
      event: applied.length === 0 ? undefined
        // A big page (an initial sync's) is announced, not copied into the feed: readers reload what they show.
        : applied.length > SMALL_PAGE ? { type: 'reload', data: { mailboxId: mailbox.id, reason: `${applied.length} messages indexed` } }
          : { type: 'messages', data: { mailboxId: mailbox.id, upserted: applied.map(summarize), removed: [] } },
    });
    syncMetrics.pages.inc({ provider: mailbox.provider });
    if (written > 0) syncMetrics.messagesWritten.inc({ provider: mailbox.provider }, written);
    if (page.caughtUp) syncMetrics.folderRounds.inc({ provider: mailbox.provider });
    if (sweepBelow !== null) {
      const swept = await sync.index.sweepFolder(mailbox.id, input.folderId, sweepBelow);
      await clearSweep(db, mailbox.id, input.folderId);
      if (swept > 0) {
        logger.info({ mailboxId: mailbox.id, folderId: input.folderId, swept }, 'removed leftovers after a fresh delta');
        await appendEvent(db, input.accountId, { type: 'reload', data: { mailboxId: mailbox.id, reason: 'leftovers removed after a fresh delta' } });
      }
    }
    return { outcome: 'page', cursor: page.cursor, caughtUp: page.caughtUp, written, stale, removed: page.removed.length, seq };
  }

  const activities = {
    /**
     * On a workflow's first run the mailbox row may not be visible yet (the link commits after the start):
     * then this fails and is retried, and only a row still missing after the retries means "gone".
     */
    async loadSyncState(input: { mailboxId: string; firstRun: boolean }): Promise<SyncState> {
      const mailbox = await findMailbox(db, input.mailboxId);
      if (!mailbox && input.firstRun) throw ApplicationFailure.retryable(`mailbox ${input.mailboxId} is not visible yet`, 'MailboxNotVisibleYet');
      if (!mailbox) return { exists: false, status: null, settings: settings(), folderCursor: null, folderCursorCaughtUp: false, folders: [] };
      const folders = await listFolders(db, input.mailboxId);
      // Each run of each mailbox's workflow keeps the live feed's table bounded.
      await pruneEvents(db, config.MAILBOX_EVENTS_RETENTION_HOURS);
      return {
        exists: true, status: mailbox.status, settings: settings(),
        folderCursor: mailbox.folderCursor, folderCursorCaughtUp: mailbox.folderCursorKind === 'delta',
        folders: folders.map((f) => ({ folderId: f.folderId, name: f.displayName, cursor: f.cursor, caughtUp: f.cursorKind === 'delta', initialDone: f.initialDone })),
        pendingRemovalSeqs: await pendingRemovalSeqs(db, input.mailboxId),
        tenantDisabled: await isTenantDisabled(db, mailbox.owner),
      };
    },

    syncFolderList: (input: { mailboxId: string; cursor: string | null }) => heartbeating(async (): Promise<PageOutcome<FolderListResult>> => {
      const mailbox = await mailboxOrGone(input.mailboxId);
      const page = await fromProvider(mailbox, (provider, signal) => provider.folderChanges(input.cursor, signal));
      if ('outcome' in page) {
        if (page.outcome === 'expired') await saveFolderCursor(db, mailbox.id, null, null);
        return page;
      }
      const renamed = await upsertFolders(db, mailbox.id, page.changed);
      for (const folderId of renamed) await sync.index.renameFolder(mailbox.id, folderId, page.changed.find((f) => f.id === folderId)!.name);
      await saveFolderCursor(db, mailbox.id, page.cursor, page.caughtUp ? 'delta' : 'next');
      if (page.changed.length > 0) {
        await appendEvent(db, mailbox.accountId, { type: 'folders', data: { mailboxId: mailbox.id, changed: page.changed.map((f) => ({ id: f.id, name: f.name })), removed: [] } });
      }
      return {
        outcome: 'page', cursor: page.cursor, caughtUp: page.caughtUp,
        changed: page.changed.map((f) => ({ folderId: f.id, name: f.name })), removed: page.removed,
      };
    }),

    /**
     * Up to `maxPages` pages of one folder in a row (one if unset), each fetched, indexed and recorded before
     * the next link is followed. A page with removals ends the batch, so the workflow stamps them at once.
     */
    async syncMessagePage(input: MessagePagesInput): Promise<MessagePagesOutcome> {
      const resumed = Context.current().info.heartbeatDetails as BatchCheckpoint | undefined;
      let done: BatchCheckpoint | undefined = resumed;
      const started = Date.now();
      return heartbeating(async () => {
        let next = fetchMessagePage(input, done ? done.cursor : input.cursor);
        for (;;) {
          const fetched = await next;
          // Whether the batch reads another page is known from this one: its next link is fetched while
          // this page is indexed (still one request at a time per folder; pages are applied in order).
          const more = fetched.outcome === 'fetched' && !fetched.page.caughtUp && fetched.page.removed.length === 0
            && (done?.pages ?? 0) + 1 < (input.maxPages ?? 1) && Date.now() - started < BATCH_BUDGET_MS;
          // If this page fails, the attempt fails: its prefetch is aborted, so the retry's request is never a
          // fifth one in flight for the mailbox, and the retry fetches that page again.
          const prefetch = new AbortController();
          if (more) {
            next = fetchMessagePage(input, fetched.page.cursor, AbortSignal.any([Context.current().cancellationSignal, prefetch.signal]));
            next.catch(() => undefined);
          }
          const page = await applyMessagePage(input, fetched).catch((error: unknown) => {
            prefetch.abort();
            throw error;
          });
          const removalSeqs = [...(done?.removalSeqs ?? [])];
          if (page.outcome !== 'page') return removalSeqs.length > 0 ? { ...page, removalSeqs } : page;
          if (page.removed > 0) removalSeqs.push(page.seq);
          done = { cursor: page.cursor, written: (done?.written ?? 0) + page.written, stale: (done?.stale ?? 0) + page.stale, pages: (done?.pages ?? 0) + 1, removalSeqs };
          Context.current().heartbeat(done);
          if (!more) return { ...page, written: done.written, stale: done.stale, pages: done.pages, removalSeqs };
        }
      }, () => done);
    },

    /**
     * Applies the removals recorded by the pages stamped `seqs`, now that every folder has been read again since:
     * a message still in the folder it was removed from, and not written since, is really gone.
     */
    async resolveRemovals(input: { mailboxId: string; accountId: string; seqs: number[] }): Promise<{ deleted: number }> {
      const candidates = await pendingRemovalsOf(db, input.mailboxId, input.seqs);
      const deleted = candidates.length > 0 ? await sync.index.removeMessages(input.mailboxId, candidates, { visibleNow: candidates.length <= SMALL_PAGE }) : [];
      if (deleted.length > 0) await appendEvent(db, input.accountId, { type: 'messages', data: { mailboxId: input.mailboxId, upserted: [], removed: deleted } });
      await dropPendingRemovals(db, input.mailboxId, input.seqs);
      return { deleted: deleted.length };
    },

    async removeFolder(input: { mailboxId: string; accountId: string; folderId: string }): Promise<{ deleted: number }> {
      const deleted = await sync.index.deleteFolderMessages(input.mailboxId, input.folderId);
      await deleteFolder(db, input.mailboxId, input.folderId);
      await appendEvent(db, input.accountId, { type: 'folders', data: { mailboxId: input.mailboxId, changed: [], removed: [input.folderId] } });
      logger.info({ mailboxId: input.mailboxId, folderId: input.folderId, deleted }, 'folder removed with its messages');
      return { deleted };
    },

    async requestFreshDelta(input: { mailboxId: string }): Promise<void> {
      await resetAllCursors(db, input.mailboxId);
    },

    /** The mailbox's status and progress, in PostgreSQL (the API) and in the mailboxes index. */
    async publishMailbox(input: PublishInput): Promise<void> {
      const row = await recordProgress(db, input.mailboxId, {
        status: input.status, foldersTotal: input.foldersTotal, foldersSynced: input.foldersSynced,
        lastSyncAt: input.lastSyncAt === null ? null : new Date(input.lastSyncAt),
        lastError: input.lastError ? { message: input.lastError.message, at: new Date(input.lastError.at) } : null,
      });
      if (!row) return;
      const [folders, counts, previous] = await Promise.all([listFolders(db, row.id), sync.index.folderCounts(row.id), sync.index.getMailbox(row.id)]);
      const errors = previous?.errors ?? [];
      if (input.lastError && errors[0]?.at !== new Date(input.lastError.at).toISOString()) {
        errors.unshift({ at: new Date(input.lastError.at).toISOString(), message: input.lastError.message });
      }
      const doc: MailboxDoc = {
        accountId: row.accountId, mailboxId: row.id, provider: row.provider, address: row.address, displayName: row.displayName,
        folders: folders.map((f) => ({ id: f.folderId, name: f.displayName, parentId: f.parentFolderId, total: counts[f.folderId]?.total ?? 0, unread: counts[f.folderId]?.unread ?? 0 })),
        syncStatus: row.status, phase: input.phase, messagesIndexed: row.messagesIndexed,
        lastSyncAt: row.lastSyncAt?.toISOString() ?? null, errors: errors.slice(0, MAX_ERRORS), updatedAt: new Date().toISOString(),
      };
      await sync.index.putMailbox(doc);
      await appendEvent(db, row.accountId, { type: 'mailbox', data: {
        mailboxId: row.id, address: row.address, status: row.status, phase: input.phase, foldersTotal: row.foldersTotal, foldersSynced: row.foldersSynced,
        messagesIndexed: row.messagesIndexed, messagesInIndex: Object.values(counts).reduce((n, c) => n + c.total, 0),
        lastSyncAt: doc.lastSyncAt, lastError: row.lastError,
      } });
    },

    /**
     * Subscribes the mailbox to push (Graph validates the webhook first), unless a subscription with
     * time left is on record (a new run, a restarted worker). A refusal is `unavailable`: polling goes on.
     */
    ensureSubscription: (input: { mailboxId: string; discard?: string }) => heartbeating(async (): Promise<SubscriptionOutcome> => {
      const url = notificationUrl(config);
      if (!url) return { outcome: 'unavailable', reason: 'no notification URL (GRAPH_NOTIFICATION_URL)' };
      const mailbox = await mailboxOrGone(input.mailboxId);
      if (input.discard) await forgetSubscription(db, input.discard);
      const existing = await currentSubscription(db, mailbox.id);
      if (existing && existing.expiresAt.getTime() - Date.now() > config.GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS * 1000) {
        return { outcome: 'subscribed', subscriptionId: existing.subscriptionId, expiresAt: existing.expiresAt.getTime() };
      }
      const clientState = newClientState();
      const expiresAt = new Date(Date.now() + config.GRAPH_SUBSCRIPTION_SECONDS * 1000);
      const result = await fromProvider(mailbox, async (provider, signal) => {
        if (!provider.push) return { outcome: 'unavailable' as const, reason: `${provider.name} has no push` };
        try {
          return await provider.push.subscribe({ notificationUrl: url, clientState, expiresAt }, signal);
        } catch (error) {
          if (error instanceof ProviderRequestError) return { outcome: 'unavailable' as const, reason: error.message };
          throw error;
        }
      });
      if ('outcome' in result) return result.outcome === 'expired' ? { outcome: 'unavailable', reason: 'unexpected expiry' } : result;
      await saveSubscription(db, { mailboxId: mailbox.id, subscriptionId: result.id, clientState, expiresAt: new Date(result.expiresAt) });
      logger.info({ mailboxId: mailbox.id, subscriptionId: result.id, expiresAt: result.expiresAt }, 'push subscription created');
      return { outcome: 'subscribed', subscriptionId: result.id, expiresAt: Date.parse(result.expiresAt) };
    }),

    renewSubscription: (input: { mailboxId: string; subscriptionId: string }) => heartbeating(async (): Promise<SubscriptionOutcome> => {
      const mailbox = await mailboxOrGone(input.mailboxId);
      const expiresAt = new Date(Date.now() + config.GRAPH_SUBSCRIPTION_SECONDS * 1000);
      const result = await fromProvider(mailbox, async (provider, signal) => {
        try {
          return await provider.push!.renew(input.subscriptionId, expiresAt, signal);
        } catch (error) {
          if (error instanceof SubscriptionGoneError) return { outcome: 'gone' as const };
          throw error;
        }
      });
      if ('outcome' in result) {
        if (result.outcome === 'gone') await forgetSubscription(db, input.subscriptionId);
        return result.outcome === 'expired' ? { outcome: 'gone' } : result;
      }
      await renewedSubscription(db, input.subscriptionId, new Date(result.expiresAt));
      return { outcome: 'subscribed', subscriptionId: result.id, expiresAt: Date.parse(result.expiresAt) };
    }),

    /** Unlink: the mailbox's documents, its token cache and its rows go (its push subscription first, while the tokens still work). */
    async purgeMailbox(input: { mailboxId: string }): Promise<void> {
      const row = await findMailbox(db, input.mailboxId);
      const subscription = row ? await currentSubscription(db, row.id) : undefined;
      if (row && subscription) {
        await sync.providers.forMailbox({ id: row.id, provider: row.provider, homeAccountId: row.homeAccountId }).push
          ?.unsubscribe(subscription.subscriptionId, Context.current().cancellationSignal)
          .catch((error: unknown) => logger.warn({ mailboxId: row.id, err: error }, 'could not delete the push subscription; it expires by itself'));
      }
      await sync.index.deleteMailbox(input.mailboxId);
      await deps.secrets.delete(tokenCacheName(input.mailboxId));
      await deleteMailboxRow(db, input.mailboxId);
      if (row) {
        await appendEvent(db, row.accountId, { type: 'mailbox', data: {
          mailboxId: row.id, address: row.address, status: 'UNLINKED', phase: 'UNLINKED', foldersTotal: 0, foldersSynced: 0, messagesIndexed: 0, messagesInIndex: 0, lastSyncAt: null, lastError: null,
        } });
      }
      sync.providers.forget(input.mailboxId);
      logger.info({ mailboxId: input.mailboxId }, 'mailbox unlinked and purged');
    },
  };
  // The workflow's bookkeeping activities heartbeat too: one held by a worker that died is retried within
  // the heartbeat timeout, not after its whole start-to-close (a stuck status publish would hide a LIVE mailbox).
  const beating = <A, R>(run: (input: A) => Promise<R>) => (input: A) => heartbeating(() => run(input));
  return {
    ...activities,
    loadSyncState: beating(activities.loadSyncState.bind(activities)), resolveRemovals: beating(activities.resolveRemovals.bind(activities)),
    removeFolder: beating(activities.removeFolder.bind(activities)), requestFreshDelta: beating(activities.requestFreshDelta.bind(activities)),
    publishMailbox: beating(activities.publishMailbox.bind(activities)), purgeMailbox: beating(activities.purgeMailbox.bind(activities)),
  };
}

export type MailboxSyncActivities = ReturnType<typeof createMailboxSyncActivities>;
