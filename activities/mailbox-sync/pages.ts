// Reading the provider's pages: the folder tree's, and each folder's messages'. Each page is one request,
// indexed and checkpointed in order (a folder's pages may be read a few in a row by one activity, which
// fetches the next link while a page is indexed); every write is idempotent, so a retried or replayed page
// changes nothing.
import { Context } from '@temporalio/activity';
import type { MessageDoc, MessageState } from '../../lib/mail-index/types.js';
import type { ChangePage, ProviderMessage } from '../../lib/mailbox-sync/provider.js';
import {
  addPendingRemovals,
  clearSweep,
  mailboxForWrite,
  recordPage,
  resetFolderCursor,
  saveFolderCursor,
  upsertFolders,
  type MailboxRow,
} from '../../lib/mailbox-sync/sync-state.js';
import { appendEvent, summarize, type MailboxEvent, type MessageChange } from '../../lib/mailbox-sync/events.js';
import { importChanges, pageChanges } from '../../lib/mailbox-sync/changes.js';
import { syncMetrics } from '../../lib/mailbox-sync/metrics.js';
import { inRequestBatch } from '../../lib/mailbox-sync/request-batch.js';
import type { ActivityDeps } from '../deps.js';
import { heartbeating } from './heartbeat.js';
import { mailboxNotFound, type ProviderAccess } from './provider-errors.js';
import type { FolderListResult, MailboxSyncDeps, MessagePageResult, MessagePagesInput, MessagePagesOutcome, PageOutcome, ProviderAnswer } from './types.js';

/**
 * Pages this small are incremental changes: made searchable before they are announced on the live feed,
 * message by message. Bigger ones (an initial sync's) are announced as a `reload`.
 */
export const SMALL_PAGE = 50;
/** A batch starts no page after this long, so pause, unlink and progress are never held up for long. */
const BATCH_BUDGET_MS = 5_000;

/** A page as the provider answered it, with the write number taken before the request, or what to do instead. */
type FetchedPage =
  | { outcome: 'fetched'; cursor: string | null; mailbox: MailboxRow; seq: number; folderInitialDone: boolean; page: ChangePage<ProviderMessage> }
  | { outcome: 'expired'; provider: string }
  | Exclude<ProviderAnswer, { outcome: 'expired' }>;
/**
 * Where a batch of pages got to: a retried attempt goes on from the last page recorded, and still reports the
 * removals recorded before it (absent from checkpoints made before they were kept: none).
 */
interface BatchCheckpoint {
  cursor: string;
  written: number;
  stale: number;
  pages: number;
  removalSeqs?: number[];
}

/**
 * Whether a page may change mail already indexed, so what it changes is read: its folder has finished its
 * initial listing, or the whole mailbox has caught up once (a resync lists every folder again, over the index).
 * Otherwise it is the mailbox's import, and nothing is read.
 */
function readsStateBefore({ mailbox, folderInitialDone }: { mailbox: MailboxRow; folderInitialDone: boolean }): boolean {
  return folderInitialDone || mailbox.lastSyncAt !== null;
}

/** The live-feed event of a page that wrote `applied`, with what kind of change each was (when any is known). */
function pageEvent(mailboxId: string, applied: MessageDoc[], changes: MessageChange[]): MailboxEvent | undefined {
  if (applied.length === 0) return undefined;
  const described = changes.length > 0 ? { changes } : {};
  // A big page (an initial sync's) is announced, not copied into the feed: readers reload what they show.
  if (applied.length > SMALL_PAGE) return { type: 'reload', data: { mailboxId, reason: `${applied.length} messages indexed`, ...described } };
  return { type: 'messages', data: { mailboxId, upserted: applied.map(summarize), removed: [], ...described } };
}

function toDoc(m: ProviderMessage, ctx: { accountId: string; mailboxId: string; provider: string; folderName: string; seq: number }): MessageDoc {
  const { id, ...fields } = m;
  return { ...fields, messageId: id, accountId: ctx.accountId, mailboxId: ctx.mailboxId, provider: ctx.provider, folderName: ctx.folderName, syncSeq: ctx.seq };
}

export function createPageActivities({ db, logger }: ActivityDeps, { index }: MailboxSyncDeps, { mailboxOrGone, fromProvider }: ProviderAccess) {
  /** One page of a folder's message changes, fetched under a new write number (taken before the request). */
  async function fetchMessagePage(input: MessagePagesInput, cursor: string | null, signal?: AbortSignal): Promise<FetchedPage> {
    // A batch fetches a page ahead only while the folder is not caught up, so its initial listing cannot
    // end between this read and the page before being recorded.
    const forWrite = await mailboxForWrite(db, input.mailboxId, input.folderId);
    if (!forWrite) throw mailboxNotFound(input.mailboxId);
    const { mailbox, seq, folderInitialDone } = forWrite;
    const page = await fromProvider(
      mailbox,
      (provider, s) => provider.messageChanges(input.folderId, cursor, { pageSize: input.pageSize, folderName: input.folderName }, s),
      signal,
    );
    if (!('outcome' in page)) return { outcome: 'fetched', cursor, mailbox, seq, folderInitialDone, page };
    return page.outcome === 'expired' ? { outcome: 'expired', provider: mailbox.provider } : page;
  }

  /** The page's messages as the index holds them now: one read, none for an empty page. */
  async function statesBefore(mailboxId: string, docs: MessageDoc[]): Promise<Map<string, MessageState>> {
    const ids = docs.map((d) => d.messageId);
    return ids.length === 0 ? new Map() : index.currentStates(mailboxId, ids);
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
    const docs = page.changed.map((m) =>
      toDoc(m, { accountId: input.accountId, mailboxId: mailbox.id, provider: mailbox.provider, folderName: input.folderName, seq }),
    );
    // Read before the write: afterwards the index holds what the page says.
    const before = readsStateBefore(fetched) ? await statesBefore(mailbox.id, docs) : undefined;
    const { written, stale, applied } =
      docs.length > 0 ? await index.upsertMessages(docs, { visibleNow: docs.length <= SMALL_PAGE }) : { written: 0, stale: 0, applied: [] };
    const changes = before ? pageChanges(applied, before) : importChanges(applied, mailbox.createdAt);
    await addPendingRemovals(db, mailbox.id, input.folderId, page.removed, seq);
    const sweepBelow = await recordPage(db, {
      mailboxId: mailbox.id,
      accountId: input.accountId,
      folderId: input.folderId,
      cursor: page.cursor,
      caughtUp: page.caughtUp,
      fresh: cursor === null,
      seq,
      written,
      event: pageEvent(mailbox.id, applied, changes),
    });
    syncMetrics.pages.inc({ provider: mailbox.provider });
    if (written > 0) syncMetrics.messagesWritten.inc({ provider: mailbox.provider }, written);
    if (page.caughtUp) syncMetrics.folderRounds.inc({ provider: mailbox.provider });
    if (sweepBelow !== null) {
      const swept = await index.sweepFolder(mailbox.id, input.folderId, sweepBelow);
      await clearSweep(db, mailbox.id, input.folderId);
      if (swept > 0) {
        logger.info({ mailboxId: mailbox.id, folderId: input.folderId, swept }, 'removed leftovers after a fresh delta');
        await appendEvent(db, input.accountId, { type: 'reload', data: { mailboxId: mailbox.id, reason: 'leftovers removed after a fresh delta' } });
      }
    }
    return { outcome: 'page', cursor: page.cursor, caughtUp: page.caughtUp, written, stale, removed: page.removed.length, seq };
  }

  return {
    syncFolderList: (input: { mailboxId: string; cursor: string | null }) =>
      heartbeating(async (): Promise<PageOutcome<FolderListResult>> => {
        const mailbox = await mailboxOrGone(input.mailboxId);
        const page = await fromProvider(mailbox, (provider, signal) => provider.folderChanges(input.cursor, signal));
        if ('outcome' in page) {
          if (page.outcome === 'expired') await saveFolderCursor(db, mailbox.id, null, null);
          return page;
        }
        const renamed = await upsertFolders(db, mailbox.id, page.changed);
        for (const folderId of renamed) await index.renameFolder(mailbox.id, folderId, page.changed.find((f) => f.id === folderId)!.name);
        await saveFolderCursor(db, mailbox.id, page.cursor, page.caughtUp ? 'delta' : 'next');
        if (page.changed.length > 0) {
          await appendEvent(db, mailbox.accountId, {
            type: 'folders',
            data: { mailboxId: mailbox.id, changed: page.changed.map((f) => ({ id: f.id, name: f.name })), removed: [] },
          });
        }
        return {
          outcome: 'page',
          cursor: page.cursor,
          caughtUp: page.caughtUp,
          changed: page.changed.map((f) => ({ folderId: f.id, name: f.name })),
          removed: page.removed,
        };
      }),

    /**
     * Up to `maxPages` pages of one folder in a row (one if unset), each fetched, indexed and recorded before
     * the next link is followed. A page with removals ends the batch, so the workflow stamps them at once.
     */
    async syncMessagePage(input: MessagePagesInput): Promise<MessagePagesOutcome> {
      const resumed = Context.current().info.heartbeatDetails as BatchCheckpoint | undefined;
      let done = resumed;
      const started = Date.now();
      // One request batch: a provider may keep its connection between the pages (IMAP: one login, one SELECT).
      return inRequestBatch(() =>
        heartbeating<MessagePagesOutcome, BatchCheckpoint | undefined>(async (checkpoint) => {
          let next = fetchMessagePage(input, done ? done.cursor : input.cursor);
          for (;;) {
            const fetched = await next;
            // Whether the batch reads another page is known from this one: its next link is fetched while
            // this page is indexed (still one request at a time per folder; pages are applied in order).
            const more =
              fetched.outcome === 'fetched' &&
              !fetched.page.caughtUp &&
              fetched.page.removed.length === 0 &&
              (done?.pages ?? 0) + 1 < (input.maxPages ?? 1) &&
              Date.now() - started < BATCH_BUDGET_MS;
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
            done = {
              cursor: page.cursor,
              written: (done?.written ?? 0) + page.written,
              stale: (done?.stale ?? 0) + page.stale,
              pages: (done?.pages ?? 0) + 1,
              removalSeqs,
            };
            checkpoint(done);
            if (!more) return { ...page, written: done.written, stale: done.stale, pages: done.pages, removalSeqs };
          }
        }, resumed),
      );
    },
  };
}
