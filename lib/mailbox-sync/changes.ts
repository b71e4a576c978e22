// What kind of change each message a page wrote was: created, updated or moved, told from the message's state
// in the index before the page was written. A folder's first listing is the mailbox's import instead: there
// only mail that arrived since the mailbox was linked is new, and nothing is read to tell.
import type { MessageDoc, MessageState } from '../mail-index/types.js';
import { summarize, type MessageChange, type MessageField } from './events.js';

const sameInstant = (a: string | null, b: string | null) => (a === null || b === null ? a === b : Date.parse(a) === Date.parse(b));

/** Whether each field a change may name is the same before and after, in the order a change names them. */
const unchanged: Record<MessageField, (before: MessageState, after: MessageDoc) => boolean> = {
  subject: (before, after) => before.subject === after.subject,
  from: (before, after) => before.from?.name === after.from?.name && before.from?.address === after.from?.address,
  receivedAt: (before, after) => sameInstant(before.receivedAt, after.receivedAt),
  isRead: (before, after) => before.isRead === after.isRead,
  flagStatus: (before, after) => before.flagStatus === after.flagStatus,
};

function changedFields(before: MessageState, after: MessageDoc): MessageField[] {
  return (Object.keys(unchanged) as MessageField[]).filter((field) => !unchanged[field](before, after));
}

/** The change a written message made, against its state before (none: it was not indexed); undefined if nothing a user sees changed. */
export function messageChange(after: MessageDoc, before: MessageState | undefined): MessageChange | undefined {
  const message = summarize(after);
  if (!before) return { kind: 'created', message };
  const changed = changedFields(before, after);
  if (before.folderId !== after.folderId) return { kind: 'moved', message, from: { id: before.folderId, name: before.folderName }, changed };
  return changed.length > 0 ? { kind: 'updated', message, changed } : undefined;
}

/** A page of a folder that has caught up before: each message it wrote against its state before the page. */
export function pageChanges(applied: MessageDoc[], before: Map<string, MessageState>): MessageChange[] {
  return applied.flatMap((doc) => messageChange(doc, before.get(doc.messageId)) ?? []);
}

/**
 * A page of a folder's first listing: the mail already there when the mailbox was linked is imported, not
 * changed; what arrived since is created. Providers' times are whole seconds, so mail of the second the
 * mailbox was linked in counts as arrived since.
 */
export function importChanges(applied: MessageDoc[], linkedAt: Date): MessageChange[] {
  const since = Math.floor(linkedAt.getTime() / 1000) * 1000;
  return applied.filter((doc) => doc.receivedAt !== null && Date.parse(doc.receivedAt) >= since).map((doc) => ({ kind: 'created', message: summarize(doc) }));
}
