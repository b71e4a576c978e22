// Where each mailbox's sync stands in PostgreSQL: folder cursors (so a lost workflow history costs a
// re-read, never lost mail), pending removals, and the mailbox's status and counters.
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailboxes, mailboxFolders, mailPendingRemovals } from '../../db/schema/index.js';
import { appendEventCtes, type MailboxEvent } from './events.js';

export type MailboxRow = typeof mailboxes.$inferSelect;
export type MailboxStatus = MailboxRow['status'];
export type FolderRow = typeof mailboxFolders.$inferSelect;

/**
 * The mailbox, the next write number and whether the folder has finished its initial listing, in one round
 * trip. The number orders a folder's pages, which run one after another: a document is only ever compared
 * with removals and sweeps of its own folder.
 */
export async function mailboxForWrite(
  db: Database,
  mailboxId: string,
  folderId: string,
): Promise<{ mailbox: MailboxRow; seq: number; folderInitialDone: boolean } | undefined> {
  const f = mailboxFolders;
  const [row] = await db
    .select({
      mailbox: mailboxes,
      seq: sql<string>`nextval('mail_sync_seq')`,
      folderInitialDone: sql<boolean>`coalesce((select ${f.initialDone} from ${f} where ${f.mailboxId} = ${mailboxId} and ${f.folderId} = ${folderId}), false)`,
    })
    .from(mailboxes)
    .where(eq(mailboxes.id, mailboxId));
  return row ? { mailbox: row.mailbox, seq: Number(row.seq), folderInitialDone: row.folderInitialDone } : undefined;
}

export async function findMailbox(db: Database, mailboxId: string): Promise<MailboxRow | undefined> {
  const [row] = await db.select().from(mailboxes).where(eq(mailboxes.id, mailboxId));
  return row;
}

export async function listFolders(db: Database, mailboxId: string): Promise<FolderRow[]> {
  return db.select().from(mailboxFolders).where(eq(mailboxFolders.mailboxId, mailboxId)).orderBy(mailboxFolders.displayName);
}

/** New folders start with no cursor (a fresh delta is due); known ones keep theirs. Returns the renamed ones. */
export async function upsertFolders(
  db: Database,
  mailboxId: string,
  folders: { id: string; name: string; parentId: string | null; total: number; unread: number }[],
): Promise<string[]> {
  if (folders.length === 0) return [];
  const before = await db
    .select({ id: mailboxFolders.folderId, name: mailboxFolders.displayName })
    .from(mailboxFolders)
    .where(
      and(
        eq(mailboxFolders.mailboxId, mailboxId),
        inArray(
          mailboxFolders.folderId,
          folders.map((f) => f.id),
        ),
      ),
    );
  await db
    .insert(mailboxFolders)
    .values(
      folders.map((f) => ({
        mailboxId,
        folderId: f.id,
        displayName: f.name,
        parentFolderId: f.parentId,
        totalCount: f.total,
        unreadCount: f.unread,
      })),
    )
    .onConflictDoUpdate({
      target: [mailboxFolders.mailboxId, mailboxFolders.folderId],
      set: {
        displayName: sql`excluded.display_name`,
        parentFolderId: sql`excluded.parent_folder_id`,
        totalCount: sql`excluded.total_count`,
        unreadCount: sql`excluded.unread_count`,
        updatedAt: sql`now()`,
      },
    });
  const names = new Map(before.map((b) => [b.id, b.name]));
  return folders.filter((f) => names.has(f.id) && names.get(f.id) !== f.name).map((f) => f.id);
}

export async function saveFolderCursor(db: Database, mailboxId: string, cursor: string | null, kind: 'next' | 'delta' | null): Promise<void> {
  await db.update(mailboxes).set({ folderCursor: cursor, folderCursorKind: kind, updatedAt: new Date() }).where(eq(mailboxes.id, mailboxId));
}

/**
 * Records a message page in one statement: the folder's new cursor (and, on a fresh delta's first page,
 * the write number below which this folder's documents become leftovers), the mailbox's counter, and the
 * live-feed event with its notification. Returns the sweep threshold once the round has caught up.
 */
export async function recordPage(
  db: Database,
  input: {
    mailboxId: string;
    accountId: string;
    folderId: string;
    cursor: string;
    caughtUp: boolean;
    fresh: boolean;
    seq: number;
    written: number;
    event: MailboxEvent | undefined;
  },
): Promise<number | null> {
  const f = mailboxFolders;
  const [row] = await db.execute<{ sweep_below_seq: string | null }>(sql`
    with folder as (
      update ${f} set cursor = ${input.cursor}, cursor_kind = ${input.caughtUp ? 'delta' : 'next'}, updated_at = now(),
        sweep_below_seq = case when ${input.fresh} then ${input.seq}::bigint else ${f.sweepBelowSeq} end,
        initial_done = ${f.initialDone} or ${input.caughtUp}
      where ${f.mailboxId} = ${input.mailboxId} and ${f.folderId} = ${input.folderId}
      returning ${f.sweepBelowSeq}),
    counted as (
      update ${mailboxes} set messages_indexed = ${mailboxes.messagesIndexed} + ${input.written}
      where ${mailboxes.id} = ${input.mailboxId} and ${input.written} > 0 returning 1),
    ${appendEventCtes(input.accountId, input.event)}
    select (select sweep_below_seq from folder)::text as sweep_below_seq, (select count(*) from notified) as notified, (select count(*) from counted) as counted`);
  return input.caughtUp && row?.sweep_below_seq ? Number(row.sweep_below_seq) : null;
}

export async function clearSweep(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db
    .update(mailboxFolders)
    .set({ sweepBelowSeq: null })
    .where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

export async function resetFolderCursor(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db
    .update(mailboxFolders)
    .set({ cursor: null, cursorKind: null, updatedAt: new Date() })
    .where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

/** A full resync: every cursor dropped, every folder synced afresh (leftovers swept as each one ends). */
export async function resetAllCursors(db: Database, mailboxId: string): Promise<void> {
  await db
    .update(mailboxFolders)
    .set({ cursor: null, cursorKind: null, initialDone: false, updatedAt: new Date() })
    .where(eq(mailboxFolders.mailboxId, mailboxId));
  await saveFolderCursor(db, mailboxId, null, null);
}

export async function deleteFolder(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db.delete(mailPendingRemovals).where(and(eq(mailPendingRemovals.mailboxId, mailboxId), eq(mailPendingRemovals.folderId, folderId)));
  await db.delete(mailboxFolders).where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

export async function addPendingRemovals(db: Database, mailboxId: string, folderId: string, messageIds: string[], seq: number): Promise<void> {
  if (messageIds.length === 0) return;
  await db
    .insert(mailPendingRemovals)
    .values([...new Set(messageIds)].map((messageId) => ({ mailboxId, messageId, folderId, seq })))
    .onConflictDoUpdate({
      target: [mailPendingRemovals.mailboxId, mailPendingRemovals.messageId, mailPendingRemovals.folderId],
      set: { seq: sql`greatest(${mailPendingRemovals.seq}, excluded.seq)` },
    });
}

/** The removals recorded by the pages stamped `seqs` (a removal seen again later carries the later stamp). */
export async function pendingRemovalsOf(db: Database, mailboxId: string, seqs: number[]) {
  return db
    .select({ messageId: mailPendingRemovals.messageId, folderId: mailPendingRemovals.folderId, seq: mailPendingRemovals.seq })
    .from(mailPendingRemovals)
    .where(and(eq(mailPendingRemovals.mailboxId, mailboxId), inArray(mailPendingRemovals.seq, seqs)));
}

/** The stamps of every removal still pending for the mailbox: a run that starts without carried state learns of them here. */
export async function pendingRemovalSeqs(db: Database, mailboxId: string): Promise<number[]> {
  const rows = await db.selectDistinct({ seq: mailPendingRemovals.seq }).from(mailPendingRemovals).where(eq(mailPendingRemovals.mailboxId, mailboxId));
  return rows.map((row) => Number(row.seq));
}

export async function dropPendingRemovals(db: Database, mailboxId: string, seqs: number[]): Promise<void> {
  await db.delete(mailPendingRemovals).where(and(eq(mailPendingRemovals.mailboxId, mailboxId), inArray(mailPendingRemovals.seq, seqs)));
}

/** Status and progress as the workflow reports them; an unlink the API asked for is never overwritten. */
export async function recordProgress(
  db: Database,
  mailboxId: string,
  progress: {
    status: MailboxStatus;
    foldersTotal: number;
    foldersSynced: number;
    lastSyncAt: Date | null;
    lastError: { message: string; at: Date } | null;
  },
): Promise<MailboxRow | undefined> {
  const [row] = await db
    .update(mailboxes)
    .set({
      status: progress.status,
      foldersTotal: progress.foldersTotal,
      foldersSynced: progress.foldersSynced,
      updatedAt: new Date(),
      ...(progress.lastSyncAt ? { lastSyncAt: progress.lastSyncAt } : {}),
      ...(progress.lastError ? { lastError: progress.lastError.message, lastErrorAt: progress.lastError.at } : {}),
    })
    .where(and(eq(mailboxes.id, mailboxId), ne(mailboxes.status, 'UNLINKING')))
    .returning();
  return row ?? findMailbox(db, mailboxId);
}

/** Folders and pending removals go with it (foreign keys cascade). */
export async function deleteMailboxRow(db: Database, mailboxId: string): Promise<void> {
  await db.delete(mailboxes).where(eq(mailboxes.id, mailboxId));
}
