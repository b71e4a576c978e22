// What both backends store: a message in the contract's exact shape, with canonical dates, and its version.
// Normalizing here (not per backend) is what makes the two return identical documents.
import { messageContent } from '../mailbox-sync/message.js';
import type { Address, MessageDoc, MessageState } from './types.js';

/** The dates both stores can hold: PostgreSQL has no year 0, Elasticsearch's date format no year 10000. */
export const MIN_DATE_MS = Date.parse('0001-01-01T00:00:00.000Z');
export const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');

export function isStorableDate(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_DATE_MS && ms <= MAX_DATE_MS;
}

function canonicalDate(value: string | null): string | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return isStorableDate(ms) ? new Date(ms).toISOString() : null;
}

function address(value: Address): Address {
  return { name: value.name, address: value.address };
}

/**
 * A copy holding exactly the contract's fields (Elasticsearch's strict mapping refuses any other) with
 * dates as `toISOString()`. A receivedAt outside years 1–9999 becomes null (no date) rather than failing the
 * whole page; a lastModifiedAt that is not a date is refused, since it is the version.
 */
export function normalizeMessage(doc: MessageDoc): MessageDoc {
  const lastModifiedAt = canonicalDate(doc.lastModifiedAt);
  if (lastModifiedAt === null) throw new TypeError('a message has no valid lastModifiedAt (its version)');
  return {
    accountId: doc.accountId,
    mailboxId: doc.mailboxId,
    messageId: doc.messageId,
    provider: doc.provider,
    folderId: doc.folderId,
    folderName: doc.folderName,
    ...messageContent(doc),
    from: doc.from ? address(doc.from) : null,
    to: doc.to.map(address),
    cc: doc.cc.map(address),
    receivedAt: canonicalDate(doc.receivedAt),
    lastModifiedAt,
    syncSeq: doc.syncSeq,
  };
}

/** The fields of a MessageState, as a read names them. */
export const STATE_FIELDS = [
  'messageId',
  'folderId',
  'folderName',
  'subject',
  'from',
  'receivedAt',
  'isRead',
  'flagStatus',
] as const satisfies readonly (keyof MessageState)[];

/** Only a MessageState's fields, each present (a store may leave a null out of what it returns). */
export function messageState(doc: MessageState): MessageState {
  return {
    messageId: doc.messageId,
    folderId: doc.folderId,
    folderName: doc.folderName,
    subject: doc.subject,
    from: doc.from ? address(doc.from) : null,
    receivedAt: doc.receivedAt ?? null,
    isRead: doc.isRead,
    flagStatus: doc.flagStatus,
  };
}

/** The version guard's value: lastModifiedAt in epoch ms (never negative: Elasticsearch refuses that). */
export function messageVersion(doc: MessageDoc): number {
  return Math.max(0, Date.parse(doc.lastModifiedAt));
}

export interface UniqueMessage {
  doc: MessageDoc;
  version: number;
  copies: number;
}

/**
 * Whether a copy at (version, syncSeq) may replace one at (storedVersion, storedSeq): the later lastModifiedAt
 * wins, and of equal ones the later fetch (Graph's timestamps are whole seconds, so two changes of a message
 * within one second share a version; the page fetched last saw the later one). Equal pairs win: a replay
 * rewrites what is there, idempotently.
 */
export function supersedes(version: number, syncSeq: number, storedVersion: number, storedSeq: number): boolean {
  return version > storedVersion || (version === storedVersion && syncSeq >= storedSeq);
}

/**
 * One entry per (mailboxId, messageId), normalized: of its copies the one that supersedes the others wins
 * (see `supersedes`; of identical pairs the later, as if written in order). `copies` counts the duplicates
 * with the winner's pair folded into an entry (they share its outcome); `olderCopies` counts the duplicates
 * it superseded (stale). PostgreSQL refuses to touch a row twice in one statement, and one rule keeps both
 * backends' counts equal.
 */
export function dedupeMessages(docs: MessageDoc[]): { unique: UniqueMessage[]; olderCopies: number } {
  const byKey = new Map<string, UniqueMessage>();
  let olderCopies = 0;
  for (const raw of docs) {
    const doc = normalizeMessage(raw);
    const version = messageVersion(doc);
    const key = `${doc.mailboxId}\u0000${doc.messageId}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, { doc, version, copies: 1 });
    else if (version === seen.version && doc.syncSeq === seen.doc.syncSeq) byKey.set(key, { doc, version, copies: seen.copies + 1 });
    else if (supersedes(version, doc.syncSeq, seen.version, seen.doc.syncSeq)) {
      olderCopies += seen.copies;
      byKey.set(key, { doc, version, copies: 1 });
    } else olderCopies += 1;
  }
  return { unique: [...byKey.values()], olderCopies };
}
