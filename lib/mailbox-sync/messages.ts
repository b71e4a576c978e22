// An account's synced mail from the index, newest first. Folder names come from PostgreSQL at read
// time, so a renamed folder shows its new name at once.
import type { Database } from '../../db/client.js';
import type { MailIndex, MessageDoc, MessagePage, MessageQuery } from '../mail-index/types.js';
import { messageContent } from './message.js';
import { listAccountMailboxes } from './mailboxes.js';
import { listFolders } from './sync-state.js';

/** A search of an account's messages: of all its mailboxes, or of one. */
export type AccountMessageQuery = Omit<MessageQuery, 'mailboxIds'> & { mailboxId?: string };

export function messageView(doc: MessageDoc, folderName: string) {
  return {
    id: doc.messageId,
    mailboxId: doc.mailboxId,
    folder: { id: doc.folderId, name: folderName },
    ...messageContent(doc),
  };
}

export async function searchAccountMessages(db: Database, index: MailIndex, accountId: string, query: AccountMessageQuery) {
  const owned = await listAccountMailboxes(db, accountId);
  const mailboxIds = owned.map((m) => m.id).filter((id) => !query.mailboxId || id === query.mailboxId);
  const page: MessagePage = await index.searchMessages({
    mailboxIds,
    limit: query.limit,
    ...(query.folderId ? { folderId: query.folderId } : {}),
    ...(query.isRead !== undefined ? { isRead: query.isRead } : {}),
    ...(query.flagged !== undefined ? { flagged: query.flagged } : {}),
    ...(query.text ? { text: query.text } : {}),
    ...(query.cursor ? { cursor: query.cursor } : {}),
  });
  const names = new Map<string, string>();
  for (const mailboxId of new Set(page.data.map((d) => d.mailboxId))) {
    for (const f of await listFolders(db, mailboxId)) names.set(`${mailboxId}:${f.folderId}`, f.displayName);
  }
  return { data: page.data.map((d) => messageView(d, names.get(`${d.mailboxId}:${d.folderId}`) ?? d.folderName)), nextCursor: page.nextCursor };
}
