// Where each mailbox's sync stands in PostgreSQL: folder cursors (so a lost workflow history costs a
// re-read, never lost mail), pending removals, and the mailbox's status and counters.
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailboxes, mailboxFolders, mailPendingRemovals } from '../../db/schema/index.js';

export type MailboxRow = typeof mailboxes.$inferSelect;
export type MailboxStatus = MailboxRow['status'];
export type FolderRow = typeof mailboxFolders.$inferSelect;

export async function nextSyncSeq(db: Database): Promise<number> {
  const [row] = await db.execute<{ seq: string }>(sql`select nextval('mail_sync_seq') as seq`);
  return Number(row!.seq);
}

export async function findMailbox(db: Database, mailboxId: string): Promise<MailboxRow | undefined> {
  const [row] = await db.select().from(mailboxes).where(eq(mailboxes.id, mailboxId));
  return row;
}

export async function listFolders(db: Database, mailboxId: string): Promise<FolderRow[]> {
  return db.select().from(mailboxFolders).where(eq(mailboxFolders.mailboxId, mailboxId)).orderBy(mailboxFolders.displayName);
}

/** New folders start with no cursor (a fresh delta is due); known ones keep theirs. Returns the renamed ones. */
export async function upsertFolders(db: Database, mailboxId: string, folders: { id: string; name: string; parentId: string | null; total: number; unread: number }[]): Promise<string[]> {
  if (folders.length === 0) return [];
  const before = await db.select({ id: mailboxFolders.folderId, name: mailboxFolders.displayName }).from(mailboxFolders)
    .where(and(eq(mailboxFolders.mailboxId, mailboxId), inArray(mailboxFolders.folderId, folders.map((f) => f.id))));
  await db.insert(mailboxFolders).values(folders.map((f) => ({
    mailboxId, folderId: f.id, displayName: f.name, parentFolderId: f.parentId, totalCount: f.total, unreadCount: f.unread,
  }))).onConflictDoUpdate({
    target: [mailboxFolders.mailboxId, mailboxFolders.folderId],
    set: { displayName: sql`excluded.display_name`, parentFolderId: sql`excluded.parent_folder_id`, totalCount: sql`excluded.total_count`, unreadCount: sql`excluded.unread_count`, updatedAt: sql`now()` },
  });
  const names = new Map(before.map((b) => [b.id, b.name]));
  return folders.filter((f) => names.has(f.id) && names.get(f.id) !== f.name).map((f) => f.id);
}

export async function saveFolderCursor(db: Database, mailboxId: string, cursor: string | null, kind: 'next' | 'delta' | null): Promise<void> {
  await db.update(mailboxes).set({ folderCursor: cursor, folderCursorKind: kind, updatedAt: new Date() }).where(eq(mailboxes.id, mailboxId));
}

/**
 * Records a message page: the folder's new cursor, and on a fresh delta's first page the write number
 * below which this folder's documents become leftovers. Returns the sweep threshold once the round has
 * caught up (null when there is nothing to sweep).
 */
export async function saveMessageCursor(db: Database, input: { mailboxId: string; folderId: string; cursor: string; caughtUp: boolean; fresh: boolean; seq: number; written: number }): Promise<number | null> {
  const [row] = await db.update(mailboxFolders).set({
    cursor: input.cursor, cursorKind: input.caughtUp ? 'delta' : 'next', updatedAt: new Date(),
    ...(input.fresh ? { sweepBelowSeq: input.seq } : {}),
    ...(input.caughtUp ? { initialDone: true } : {}),
  }).where(and(eq(mailboxFolders.mailboxId, input.mailboxId), eq(mailboxFolders.folderId, input.folderId))).returning({ sweepBelowSeq: mailboxFolders.sweepBelowSeq });
  if (input.written > 0) {
    await db.update(mailboxes).set({ messagesIndexed: sql`${mailboxes.messagesIndexed} + ${input.written}` }).where(eq(mailboxes.id, input.mailboxId));
  }
  return input.caughtUp ? row?.sweepBelowSeq ?? null : null;
}

export async function clearSweep(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db.update(mailboxFolders).set({ sweepBelowSeq: null }).where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

export async function resetFolderCursor(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db.update(mailboxFolders).set({ cursor: null, cursorKind: null, updatedAt: new Date() })
    .where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

/** A full resync: every cursor dropped, every folder synced afresh (leftovers swept as each one ends). */
export async function resetAllCursors(db: Database, mailboxId: string): Promise<void> {
  await db.update(mailboxFolders).set({ cursor: null, cursorKind: null, initialDone: false, updatedAt: new Date() }).where(eq(mailboxFolders.mailboxId, mailboxId));
  await saveFolderCursor(db, mailboxId, null, null);
}

export async function deleteFolder(db: Database, mailboxId: string, folderId: string): Promise<void> {
  await db.delete(mailPendingRemovals).where(and(eq(mailPendingRemovals.mailboxId, mailboxId), eq(mailPendingRemovals.folderId, folderId)));
  await db.delete(mailboxFolders).where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
}

export async function addPendingRemovals(db: Database, mailboxId: string, folderId: string, messageIds: string[], seq: number): Promise<void> {
  if (messageIds.length === 0) return;
  await db.insert(mailPendingRemovals).values([...new Set(messageIds)].map((messageId) => ({ mailboxId, messageId, folderId, seq })))
    .onConflictDoUpdate({ target: [mailPendingRemovals.mailboxId, mailPendingRemovals.messageId, mailPendingRemovals.folderId], set: { seq: sql`greatest(${mailPendingRemovals.seq}, excluded.seq)` } });
}

/** The removals recorded by the pages stamped `seqs` (a removal seen again later carries the later stamp). */
export async function pendingRemovalsOf(db: Database, mailboxId: string, seqs: number[]) {
  return db.select({ messageId: mailPendingRemovals.messageId, folderId: mailPendingRemovals.folderId, seq: mailPendingRemovals.seq })
    .from(mailPendingRemovals).where(and(eq(mailPendingRemovals.mailboxId, mailboxId), inArray(mailPendingRemovals.seq, seqs)));
}

export async function dropPendingRemovals(db: Database, mailboxId: string, seqs: number[]): Promise<void> {
  await db.delete(mailPendingRemovals).where(and(eq(mailPendingRemovals.mailboxId, mailboxId), inArray(mailPendingRemovals.seq, seqs)));
}

/** Status and progress as the workflow reports them; an unlink the API asked for is never overwritten. */
export async function recordProgress(db: Database, mailboxId: string, progress: {
  status: MailboxStatus; foldersTotal: number; foldersSynced: number; lastSyncAt: Date | null; lastError: { message: string; at: Date } | null;
}): Promise<MailboxRow | undefined> {
  const [row] = await db.update(mailboxes).set({
    status: progress.status, foldersTotal: progress.foldersTotal, foldersSynced: progress.foldersSynced, updatedAt: new Date(),
    ...(progress.lastSyncAt ? { lastSyncAt: progress.lastSyncAt } : {}),
    ...(progress.lastError ? { lastError: progress.lastError.message, lastErrorAt: progress.lastError.at } : {}),
  }).where(and(eq(mailboxes.id, mailboxId), ne(mailboxes.status, 'UNLINKING'))).returning();
  return row ?? findMailbox(db, mailboxId);
}

/** Folders and pending removals go with it (foreign keys cascade). */
export async function deleteMailboxRow(db: Database, mailboxId: string): Promise<void> {
  await db.delete(mailboxes).where(eq(mailboxes.id, mailboxId));
}
