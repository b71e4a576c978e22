// Reading linked mailboxes for the API: always through their owner, so a foreign id is simply unknown.
import { asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailboxes } from '../../db/schema/index.js';
import type { MailIndex } from '../mail-index/types.js';
import { listFolders, type MailboxRow } from './sync-state.js';
import { findOwned } from '../tenants/owned.js';

export async function findOwnedMailbox(db: Database, owner: string, mailboxId: string): Promise<MailboxRow | undefined> {
  return findOwned(db, mailboxes, owner, mailboxId);
}

export async function listAccountMailboxes(db: Database, accountId: string): Promise<MailboxRow[]> {
  return db.select().from(mailboxes).where(eq(mailboxes.accountId, accountId)).orderBy(asc(mailboxes.createdAt));
}

/** The tenant's linked mailboxes counted by status (a tenant has few: one group-by over its rows). */
export async function mailboxStatusCounts(db: Database, owner: string): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: mailboxes.status, n: sql<number>`count(*)::int` })
    .from(mailboxes)
    .where(eq(mailboxes.owner, owner))
    .groupBy(mailboxes.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Shown at once; the workflow then stops, purges the mailbox's documents and tokens, and deletes the row. */
export async function markUnlinking(db: Database, mailboxId: string): Promise<void> {
  await db.update(mailboxes).set({ status: 'UNLINKING', updatedAt: new Date() }).where(eq(mailboxes.id, mailboxId));
}

export function mailboxSummary(row: MailboxRow) {
  return {
    id: row.id,
    accountId: row.accountId,
    provider: row.provider,
    address: row.address,
    displayName: row.displayName,
    status: row.status,
    workflowId: row.workflowId,
    linkedAt: row.linkedAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    sync: {
      foldersTotal: row.foldersTotal,
      foldersSynced: row.foldersSynced,
      messagesIndexed: row.messagesIndexed,
      lastSyncAt: row.lastSyncAt?.toISOString() ?? null,
      lastError: row.lastError,
      lastErrorAt: row.lastErrorAt?.toISOString() ?? null,
    },
  };
}

/** The summary plus its folders (names from PostgreSQL, counts from the index) and the index's message count. */
export async function mailboxDetail(db: Database, index: MailIndex, row: MailboxRow) {
  const [folders, counts, messagesInIndex] = await Promise.all([listFolders(db, row.id), index.folderCounts(row.id), index.countMessages(row.id)]);
  const summary = mailboxSummary(row);
  return {
    ...summary,
    sync: { ...summary.sync, messagesInIndex },
    folders: folders.map((f) => ({
      id: f.folderId,
      name: f.displayName,
      parentId: f.parentFolderId,
      synced: f.initialDone,
      total: counts[f.folderId]?.total ?? 0,
      unread: counts[f.folderId]?.unread ?? 0,
    })),
  };
}
