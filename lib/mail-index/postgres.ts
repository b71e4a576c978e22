// The mail index on PostgreSQL, for deployments without Elasticsearch: the same documents, order and cursors,
// so callers cannot tell the two apart. Tables come from the migrations; the caller owns the connection.
import { and, eq, ilike, inArray, ne, or, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailIndexMailboxes, mailIndexMessages as m } from '../../db/schema/index.js';
import { decodeCursor, encodeCursor, positionOf, type CursorPosition } from './cursor.js';
import { dedupeMessages } from './documents.js';
import { messageContent } from '../mailbox-sync/message.js';
import type {
  FlagStatus,
  MailboxDoc,
  MailIndex,
  MessageDoc,
  MessagePage,
  MessageQuery,
  MessageState,
  RemovalCandidate,
  UpsertResult,
  WriteOptions,
} from './types.js';

/** The upsert's columns and their types, in one place for the insert list, the recordset and the update. */
const UPSERT_COLUMNS = [
  ['mailbox_id', 'text'],
  ['message_id', 'text'],
  ['account_id', 'text'],
  ['provider', 'text'],
  ['folder_id', 'text'],
  ['folder_name', 'text'],
  ['subject', 'text'],
  ['from_name', 'text'],
  ['from_address', 'text'],
  ['to', 'jsonb'],
  ['cc', 'jsonb'],
  ['received_at', 'timestamptz'],
  ['is_read', 'boolean'],
  ['flag_status', 'text'],
  ['body_preview', 'text'],
  ['conversation_id', 'text'],
  ['internet_message_id', 'text'],
  ['has_attachments', 'boolean'],
  ['change_key', 'text'],
  ['last_modified_at', 'timestamptz'],
  ['version', 'bigint'],
  ['sync_seq', 'bigint'],
] as const;
type UpsertRow = Record<(typeof UPSERT_COLUMNS)[number][0], unknown>;

const columnList = sql.raw(UPSERT_COLUMNS.map(([name]) => `"${name}"`).join(', '));
const recordType = sql.raw(UPSERT_COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', '));
const updateList = sql.raw(
  UPSERT_COLUMNS.filter(([name]) => name !== 'mailbox_id' && name !== 'message_id')
    .map(([name]) => `"${name}" = excluded."${name}"`)
    .join(', '),
);

/** Timestamps read as epoch ms: exact, and free of the server's DateStyle and time zone. */
const epochMs = (column: AnyColumn) => sql<number | null>`floor(extract(epoch from ${column}) * 1000)::float8`;

const docColumns = {
  accountId: m.accountId,
  mailboxId: m.mailboxId,
  messageId: m.messageId,
  provider: m.provider,
  folderId: m.folderId,
  folderName: m.folderName,
  subject: m.subject,
  fromName: m.fromName,
  fromAddress: m.fromAddress,
  to: m.to,
  cc: m.cc,
  receivedAtMs: epochMs(m.receivedAt),
  isRead: m.isRead,
  flagStatus: m.flagStatus,
  bodyPreview: m.bodyPreview,
  conversationId: m.conversationId,
  internetMessageId: m.internetMessageId,
  hasAttachments: m.hasAttachments,
  changeKey: m.changeKey,
  lastModifiedAtMs: epochMs(m.lastModifiedAt),
  syncSeq: m.syncSeq,
};

const stateColumns = {
  messageId: m.messageId,
  folderId: m.folderId,
  folderName: m.folderName,
  subject: m.subject,
  fromName: m.fromName,
  fromAddress: m.fromAddress,
  receivedAtMs: docColumns.receivedAtMs,
  isRead: m.isRead,
  flagStatus: m.flagStatus,
};

type DocRow = Omit<typeof m.$inferSelect, 'receivedAt' | 'lastModifiedAt' | 'version'> & { receivedAtMs: number | null; lastModifiedAtMs: number | null };
type StateRow = Pick<DocRow, keyof typeof stateColumns>;

const fromOf = (row: Pick<DocRow, 'fromName' | 'fromAddress'>) =>
  row.fromName === null && row.fromAddress === null ? null : { name: row.fromName ?? '', address: row.fromAddress ?? '' };
const receivedAtOf = (row: Pick<DocRow, 'receivedAtMs'>) => (row.receivedAtMs === null ? null : new Date(row.receivedAtMs).toISOString());

function toState(row: StateRow): MessageState {
  const { messageId, folderId, folderName, subject, isRead } = row;
  return { messageId, folderId, folderName, subject, from: fromOf(row), receivedAt: receivedAtOf(row), isRead, flagStatus: row.flagStatus as FlagStatus };
}

function toDoc(row: DocRow): MessageDoc {
  const from = fromOf(row);
  const receivedAt = receivedAtOf(row);
  const lastModifiedAt = new Date(row.lastModifiedAtMs!).toISOString();
  return {
    accountId: row.accountId,
    mailboxId: row.mailboxId,
    messageId: row.messageId,
    provider: row.provider,
    folderId: row.folderId,
    folderName: row.folderName,
    ...messageContent({ ...row, from, receivedAt, flagStatus: row.flagStatus as FlagStatus, lastModifiedAt }),
    syncSeq: row.syncSeq,
  };
}

function toRow(doc: MessageDoc, version: number): UpsertRow {
  return {
    mailbox_id: doc.mailboxId,
    message_id: doc.messageId,
    account_id: doc.accountId,
    provider: doc.provider,
    folder_id: doc.folderId,
    folder_name: doc.folderName,
    subject: doc.subject,
    from_name: doc.from?.name ?? null,
    from_address: doc.from?.address ?? null,
    to: doc.to,
    cc: doc.cc,
    received_at: doc.receivedAt,
    is_read: doc.isRead,
    flag_status: doc.flagStatus,
    body_preview: doc.bodyPreview,
    conversation_id: doc.conversationId,
    internet_message_id: doc.internetMessageId,
    has_attachments: doc.hasAttachments,
    change_key: doc.changeKey,
    last_modified_at: doc.lastModifiedAt,
    version,
    sync_seq: doc.syncSeq,
  };
}

/** One jsonb parameter for a whole page. PostgreSQL text cannot hold NUL, so it is dropped rather than failing the page. */
function jsonParam(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' && v.includes('\u0000') ? v.replaceAll('\u0000', '') : v));
}

function escapeLike(word: string): string {
  return word.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Keyset condition for the order `received_at desc nulls last, message_id asc` (byte order, as Elasticsearch's keyword sort). */
function after(position: CursorPosition): SQL {
  const laterId = sql`${m.messageId} collate "C" > ${position.messageId}`;
  if (position.receivedAt === null) return sql`(${m.receivedAt} is null and ${laterId})`;
  const at = new Date(position.receivedAt).toISOString();
  return sql`(${m.receivedAt} < ${at}::timestamptz or ${m.receivedAt} is null or (${m.receivedAt} = ${at}::timestamptz and ${laterId}))`;
}

export class PostgresMailIndex implements MailIndex {
  readonly backend = 'postgres' as const;

  constructor(private readonly db: Database) {}

  /** The migrations create the tables; this only checks they are there. */
  async ensureReady(): Promise<void> {
    await this.db.execute(sql`select 1 from ${m} limit 0`);
  }

  /** A committed row is visible at once: `visibleNow` needs nothing here. */
  async upsertMessages(docs: MessageDoc[], _options?: WriteOptions): Promise<UpsertResult> {
    if (docs.length === 0) return { written: 0, stale: 0, applied: [] };
    const { unique, olderCopies } = dedupeMessages(docs);
    const rows = unique.map(({ doc, version }) => toRow(doc, version));
    // One statement per page; a row whose stored (version, syncSeq) is greater is not updated and so not returned.
    const written = await this.db.execute<{ mailbox_id: string; message_id: string }>(sql`
      insert into ${m} (${columnList})
      select ${columnList} from jsonb_to_recordset(${jsonParam(rows)}::jsonb) as t(${recordType})
      on conflict (mailbox_id, message_id) do update set ${updateList}
      where (${m}.version, ${m}.sync_seq) <= (excluded.version, excluded.sync_seq)
      returning mailbox_id, message_id`);
    const writtenKeys = new Set(written.map((row) => `${row.mailbox_id}\u0000${row.message_id}`));
    const result: UpsertResult = { written: 0, stale: olderCopies, applied: [] };
    for (const { doc, copies } of unique) {
      if (writtenKeys.has(`${doc.mailboxId}\u0000${doc.messageId}`)) {
        result.written += copies;
        result.applied.push(doc);
      } else result.stale += copies;
    }
    return result;
  }

  async removeMessages(mailboxId: string, candidates: RemovalCandidate[], _options?: WriteOptions): Promise<string[]> {
    if (candidates.length === 0) return [];
    const list = candidates.map((c) => ({ message_id: c.messageId, folder_id: c.folderId, seq: c.seq }));
    const deleted = await this.db.execute<{ message_id: string }>(sql`
      delete from ${m} using jsonb_to_recordset(${jsonParam(list)}::jsonb) as c(message_id text, folder_id text, seq bigint)
      where ${m.mailboxId} = ${mailboxId} and ${m.messageId} = c.message_id and ${m.folderId} = c.folder_id
        and ${m.syncSeq} <= c.seq
      returning ${m.messageId} as message_id`);
    return deleted.map((row) => row.message_id);
  }

  async deleteFolderMessages(mailboxId: string, folderId: string): Promise<number> {
    return this.countDeleted(sql`delete from ${m} where ${m.mailboxId} = ${mailboxId} and ${m.folderId} = ${folderId} returning 1`);
  }

  async sweepFolder(mailboxId: string, folderId: string, belowSeq: number): Promise<number> {
    return this.countDeleted(sql`
      delete from ${m} where ${m.mailboxId} = ${mailboxId} and ${m.folderId} = ${folderId} and ${m.syncSeq} < ${belowSeq}
      returning 1`);
  }

  async renameFolder(mailboxId: string, folderId: string, folderName: string): Promise<void> {
    await this.db
      .update(m)
      .set({ folderName })
      .where(and(eq(m.mailboxId, mailboxId), eq(m.folderId, folderId), ne(m.folderName, folderName)));
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(m).where(eq(m.mailboxId, mailboxId));
      await tx.delete(mailIndexMailboxes).where(eq(mailIndexMailboxes.mailboxId, mailboxId));
    });
  }

  async getMessage(mailboxId: string, messageId: string): Promise<MessageDoc | undefined> {
    const [row] = await this.db
      .select(docColumns)
      .from(m)
      .where(and(eq(m.mailboxId, mailboxId), eq(m.messageId, messageId)));
    return row ? toDoc(row) : undefined;
  }

  async currentStates(mailboxId: string, messageIds: string[]): Promise<Map<string, MessageState>> {
    if (messageIds.length === 0) return new Map();
    const rows = await this.db
      .select(stateColumns)
      .from(m)
      .where(and(eq(m.mailboxId, mailboxId), inArray(m.messageId, [...new Set(messageIds)])));
    return new Map(rows.map((row) => [row.messageId, toState(row)]));
  }

  async searchMessages(query: MessageQuery): Promise<MessagePage> {
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.mailboxIds.length === 0) return { data: [], nextCursor: null };
    const limit = Math.max(1, Math.trunc(query.limit));
    const conditions: (SQL | undefined)[] = [inArray(m.mailboxId, query.mailboxIds)];
    if (query.folderId !== undefined) conditions.push(eq(m.folderId, query.folderId));
    if (query.isRead !== undefined) conditions.push(eq(m.isRead, query.isRead));
    if (query.flagged !== undefined) conditions.push(query.flagged ? eq(m.flagStatus, 'flagged') : ne(m.flagStatus, 'flagged'));
    // Every word, case-insensitively, somewhere in the subject, the sender's name or the sender's address.
    for (const word of query.text?.trim().split(/\s+/).filter(Boolean) ?? []) {
      const pattern = `%${escapeLike(word)}%`;
      conditions.push(or(ilike(m.subject, pattern), ilike(m.fromName, pattern), ilike(m.fromAddress, pattern)));
    }
    if (position) conditions.push(after(position));
    const rows = await this.db
      .select(docColumns)
      .from(m)
      .where(and(...conditions))
      .orderBy(sql`${m.receivedAt} desc nulls last`, sql`${m.messageId} collate "C" asc`)
      .limit(limit + 1);
    const data = rows.slice(0, limit).map(toDoc);
    const last = data[data.length - 1];
    return { data, nextCursor: rows.length > limit && last ? encodeCursor(positionOf(last)) : null };
  }

  async folderCounts(mailboxId: string): Promise<Record<string, { total: number; unread: number }>> {
    const rows = await this.db
      .select({
        folderId: m.folderId,
        total: sql<number>`count(*)::int`,
        unread: sql<number>`(count(*) filter (where not ${m.isRead}))::int`,
      })
      .from(m)
      .where(eq(m.mailboxId, mailboxId))
      .groupBy(m.folderId);
    return Object.fromEntries(rows.map((row) => [row.folderId, { total: row.total, unread: row.unread }]));
  }

  async countMessages(mailboxId: string): Promise<number> {
    const [row] = await this.db
      .select({ count: sql<number>`count(*)::int` })
      .from(m)
      .where(eq(m.mailboxId, mailboxId));
    return row?.count ?? 0;
  }

  async putMailbox(doc: MailboxDoc): Promise<void> {
    const values = { accountId: doc.accountId, doc: { ...doc }, folderCount: doc.folders.length };
    await this.db
      .insert(mailIndexMailboxes)
      .values({ mailboxId: doc.mailboxId, ...values })
      .onConflictDoUpdate({ target: mailIndexMailboxes.mailboxId, set: { ...values, updatedAt: sql`now()` } });
  }

  async getMailbox(mailboxId: string): Promise<MailboxDoc | undefined> {
    const [row] = await this.db.select({ doc: mailIndexMailboxes.doc }).from(mailIndexMailboxes).where(eq(mailIndexMailboxes.mailboxId, mailboxId));
    return row ? (row.doc as unknown as MailboxDoc) : undefined;
  }

  /** Writes are visible at commit. */
  async refresh(): Promise<void> {}

  /** The connection belongs to the caller. */
  async close(): Promise<void> {}

  private async countDeleted(deletion: SQL): Promise<number> {
    const [row] = await this.db.execute<{ count: number }>(sql`with gone as (${deletion}) select count(*)::int as count from gone`);
    return row?.count ?? 0;
  }
}
