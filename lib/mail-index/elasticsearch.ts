// The mail index on Elasticsearch (production). Every read and write goes through the aliases, and every
// message operation is routed by mailboxId, so a mailbox lives on one shard and its queries touch only that.
// The integ-test distribution has no reindex module (no _delete_by_query / _update_by_query) and no
// scripting: folder-wide changes scan with search_after and write back with _bulk.
import { errors, type Client, type estypes } from '@elastic/elasticsearch';
import { decodeCursor, encodeCursor, positionOf } from './cursor.js';
import { dedupeMessages, messageState, messageVersion, STATE_FIELDS, supersedes, type UniqueMessage } from './documents.js';
import { indexNames, indexSettings, mailboxMappings, messageDocId, messageMappings, NO_DATE_SORT_VALUE, type IndexName } from './mappings.js';
import type { MailboxDoc, MailIndex, MessageDoc, MessagePage, MessageQuery, MessageState, RemovalCandidate, UpsertResult, WriteOptions } from './types.js';

export interface ElasticsearchMailIndexOptions {
  prefix: string;
  shards: number;
  replicas: number;
  /** Whether close() closes the client (it does when the index made the client itself). */
  ownsClient?: boolean;
}

type Query = estypes.QueryDslQueryContainer;
type Operation = estypes.BulkOperationContainer | MessageDoc;
/** A bulk item's outcome: written or deleted, refused by a version or sequence check, or already gone. */
type Outcome = 'done' | 'conflict' | 'missing';

const SCAN_PAGE_SIZE = 1_000;
/** Documents per _bulk request when a page is split (an index action and its document are two operations). */
const BULK_CHUNK_DOCS = 250;
const MGET_CHUNK_SIZE = 1_000;
/** Rounds of read-compare-write for documents refused by the version check before the write gives up. */
const MAX_TIE_ROUNDS = 10;
/** Folders per mailbox that folderCounts reports (a terms aggregation needs a bound). */
const MAX_FOLDERS = 10_000;
/** Only what the outcome needs: a page of 1,000 items answers in a few kilobytes. */
const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

function errorType(error: unknown): string | undefined {
  if (!(error instanceof errors.ResponseError)) return undefined;
  const body = error.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

/** A 404 for a document that is not there (not for a missing index, which is a real error). */
function isMissingDocument(error: unknown): boolean {
  return error instanceof errors.ResponseError && error.statusCode === 404 && (error.body as { found?: boolean } | undefined)?.found === false;
}

/** Mapping errors quote the offending value: keep document content out of messages and logs. */
function describeError(cause: estypes.ErrorCause | undefined): string {
  const reason = (cause?.reason ?? '').replace(/\s*(Preview of field's value|The prefix of the first immense term).*$/s, '').slice(0, 300);
  return `${cause?.type ?? 'unknown'}: ${reason}`;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class ElasticsearchMailIndex implements MailIndex {
  readonly backend = 'elasticsearch' as const;
  private readonly messages: IndexName;
  private readonly mailboxes: IndexName;

  constructor(
    private readonly client: Client,
    private readonly options: ElasticsearchMailIndexOptions,
  ) {
    const names = indexNames(options.prefix);
    this.messages = names.messages;
    this.mailboxes = names.mailboxes;
  }

  async ensureReady(): Promise<void> {
    await Promise.all([this.ensureIndex(this.messages, messageMappings), this.ensureIndex(this.mailboxes, mailboxMappings)]);
  }

  /** Creates the physical index with its alias in one request; losing the race to another process is success. */
  private async ensureIndex(name: IndexName, mappings: estypes.MappingTypeMapping): Promise<void> {
    // An existing alias is left alone: after a reindex it points at a newer physical index.
    if (await this.client.indices.existsAlias({ name: name.alias })) return;
    try {
      await this.client.indices.create({
        index: name.index,
        mappings,
        settings: indexSettings(this.options.shards, this.options.replicas),
        aliases: { [name.alias]: { is_write_index: true } },
      });
    } catch (error) {
      if (errorType(error) !== 'resource_already_exists_exception') throw error;
      if (!(await this.client.indices.existsAlias({ name: name.alias }))) {
        await this.client.indices.putAlias({ index: name.index, name: name.alias, is_write_index: true });
      }
    }
  }

  /**
   * The external version (lastModifiedAt in ms) is checked strictly: a newer version lands in one _bulk, with
   * no read (an initial sync's pages never conflict). An equal version is not enough to decide, since Graph's
   * whole-second timestamps let two changes share one: those refusals, and only those, are read back and
   * decided on (lastModifiedAt, syncSeq) by `settleRefused`.
   */
  async upsertMessages(docs: MessageDoc[], options: WriteOptions = {}): Promise<UpsertResult> {
    if (docs.length === 0) return { written: 0, stale: 0, applied: [] };
    const { unique, olderCopies } = dedupeMessages(docs);
    const operations = unique.flatMap(
      ({ doc, version }) =>
        [{ index: { _id: messageDocId(doc.mailboxId, doc.messageId), routing: doc.mailboxId, version, version_type: 'external' } }, doc] satisfies Operation[],
    );
    // A page goes as a few concurrent _bulk requests: one request is indexed by one write thread, and a
    // big folder's pages come one after another, so splitting them is what lets indexing use every core.
    const parts = chunks(operations, BULK_CHUNK_DOCS * 2);
    const outcomes = (await Promise.all(parts.map((part) => this.bulk(part, options.visibleNow)))).flat();
    const refused = unique.filter((_, i) => outcomes[i] === 'conflict');
    const settled = refused.length > 0 ? await this.settleRefused(refused, options.visibleNow) : new Set<UniqueMessage>();
    const result: UpsertResult = { written: 0, stale: olderCopies, applied: [] };
    unique.forEach((entry, i) => {
      if (outcomes[i] === 'done' || settled.has(entry)) {
        result.written += entry.copies;
        result.applied.push(entry.doc);
      } else result.stale += entry.copies;
    });
    return result;
  }

  /**
   * Documents the version check refused: each is read back and written if its (lastModifiedAt, syncSeq) pair
   * is at least the stored one's. The write is conditional on what was read (if_seq_no; or the strict external
   * version when the document's own is above the stored one), so a write landing in between makes it read
   * and decide again. An if_seq_no write leaves _version one above the stored one: _version stays at or above
   * the stored lastModifiedAt, so the strict check in `upsertMessages` still never lets an older version in.
   * A document not found was deleted after it was written (its tombstone keeps the version): refused, as
   * before. Answers the entries written.
   */
  private async settleRefused(entries: UniqueMessage[], refresh = false): Promise<Set<UniqueMessage>> {
    const written = new Set<UniqueMessage>();
    let open = entries;
    for (let round = 0; open.length > 0; round++) {
      if (round === MAX_TIE_ROUNDS) throw new Error(`Elasticsearch on ${this.messages.alias}: ${open.length} documents kept changing while being written`);
      const retry: UniqueMessage[] = [];
      for (const chunk of chunks(open, MGET_CHUNK_SIZE)) {
        const { docs } = await this.client.mget<Pick<MessageDoc, 'lastModifiedAt' | 'syncSeq'>>({
          index: this.messages.alias,
          docs: chunk.map(({ doc }) => ({ _id: messageDocId(doc.mailboxId, doc.messageId), routing: doc.mailboxId })),
          _source_includes: ['lastModifiedAt', 'syncSeq'],
        });
        const writes: Operation[] = [];
        const writing: UniqueMessage[] = [];
        chunk.forEach((entry, i) => {
          const found = docs[i]!;
          if ('error' in found) throw new Error(`Elasticsearch mget on ${this.messages.alias}: ${describeError(found.error)}`);
          if (!found.found || !found._source) return;
          const stored = found._source;
          if (!supersedes(entry.version, entry.doc.syncSeq, messageVersion(stored as MessageDoc), stored.syncSeq)) return;
          const target = { _id: found._id, routing: entry.doc.mailboxId };
          writes.push(
            entry.version > found._version!
              ? { index: { ...target, version: entry.version, version_type: 'external' } }
              : { index: { ...target, if_seq_no: found._seq_no!, if_primary_term: found._primary_term! } },
            entry.doc,
          );
          writing.push(entry);
        });
        if (writing.length === 0) continue;
        (await this.bulk(writes, refresh)).forEach((outcome, i) => {
          if (outcome === 'done') written.add(writing[i]!);
          else retry.push(writing[i]!);
        });
      }
      open = retry;
    }
    return written;
  }

  async removeMessages(mailboxId: string, candidates: RemovalCandidate[], options: WriteOptions = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const chunk of chunks(candidates, MGET_CHUNK_SIZE)) {
      const ids = [...new Set(chunk.map((c) => c.messageId))];
      const docs = await this.mgetMessages<Pick<MessageDoc, 'folderId' | 'syncSeq'>>(mailboxId, ids, ['folderId', 'syncSeq']);
      const stored = new Map(ids.map((id, i) => [id, docs[i]]));
      const doomed = new Map<string, Operation>();
      for (const candidate of chunk) {
        const found = stored.get(candidate.messageId);
        if (!found?.found || !found._source) continue;
        if (found._source.folderId !== candidate.folderId || found._source.syncSeq > candidate.seq) continue;
        // The sequence check makes a write that lands after the mget win: the message stays.
        doomed.set(candidate.messageId, {
          delete: { _id: found._id, routing: mailboxId, if_seq_no: found._seq_no, if_primary_term: found._primary_term },
        });
      }
      if (doomed.size === 0) continue;
      const doomedIds = [...doomed.keys()];
      (await this.bulk([...doomed.values()], options.visibleNow)).forEach((outcome, i) => {
        if (outcome === 'done') removed.push(doomedIds[i]!);
      });
    }
    return removed;
  }

  async deleteFolderMessages(mailboxId: string, folderId: string): Promise<number> {
    return this.deleteMatching(mailboxId, [{ term: { folderId } }], { guarded: true });
  }

  async sweepFolder(mailboxId: string, folderId: string, belowSeq: number): Promise<number> {
    return this.deleteMatching(mailboxId, [{ term: { folderId } }, { range: { syncSeq: { lt: belowSeq } } }], { guarded: true });
  }

  /**
   * Re-indexes each message of the folder as scanned (a partial update needs scripting, which the integ-test
   * distribution lacks), conditional on the scanned copy (if_seq_no): a copy written since the scan wins, and
   * the folder is scanned again for messages still under another name. Its _version goes one up, which
   * `upsertMessages` allows for (a re-listed copy is still decided on its (lastModifiedAt, syncSeq) pair).
   */
  async renameFolder(mailboxId: string, folderId: string, folderName: string): Promise<void> {
    for (let pass = 0; ; pass++) {
      if (pass === MAX_TIE_ROUNDS) throw new Error(`Elasticsearch on ${this.messages.alias}: folder ${folderId} kept changing while being renamed`);
      await this.refreshMessages();
      let conflicts = 0;
      for await (const hits of this.scan(mailboxId, [{ term: { folderId } }], [{ term: { folderName } }], { source: true })) {
        const outcomes = await this.bulk(
          hits
            .map(
              (hit) =>
                [
                  { index: { _id: hit._id!, routing: mailboxId, if_seq_no: hit._seq_no!, if_primary_term: hit._primary_term! } },
                  { ...(hit._source as MessageDoc), folderName },
                ] satisfies Operation[],
            )
            .flat(),
        );
        conflicts += outcomes.filter((o) => o === 'conflict').length;
      }
      if (conflicts === 0) return;
    }
  }

  async deleteMailbox(mailboxId: string): Promise<void> {
    // Unlinking removes everything: no sequence guard, a concurrent write does not keep a message.
    await this.deleteMatching(mailboxId, [], { guarded: false });
    try {
      await this.client.delete({ index: this.mailboxes.alias, id: mailboxId });
    } catch (error) {
      if (!(error instanceof errors.ResponseError && error.statusCode === 404 && errorType(error) === undefined)) throw error;
    }
  }

  async getMessage(mailboxId: string, messageId: string): Promise<MessageDoc | undefined> {
    return this.getSource<MessageDoc>(this.messages.alias, messageDocId(mailboxId, messageId), mailboxId);
  }

  async currentStates(mailboxId: string, messageIds: string[]): Promise<Map<string, MessageState>> {
    const states = new Map<string, MessageState>();
    for (const chunk of chunks([...new Set(messageIds)], MGET_CHUNK_SIZE)) {
      for (const found of await this.mgetMessages<MessageState>(mailboxId, chunk, [...STATE_FIELDS])) {
        if (found.found && found._source) states.set(found._source.messageId, messageState(found._source));
      }
    }
    return states;
  }

  async searchMessages(query: MessageQuery): Promise<MessagePage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.mailboxIds.length === 0) return { data: [], nextCursor: null };
    const limit = Math.max(1, Math.trunc(query.limit));
    const filter: Query[] = [{ terms: { mailboxId: query.mailboxIds } }];
    const mustNot: Query[] = [];
    if (query.folderId !== undefined) filter.push({ term: { folderId: query.folderId } });
    if (query.isRead !== undefined) filter.push({ term: { isRead: query.isRead } });
    if (query.flagged !== undefined) (query.flagged ? filter : mustNot).push({ term: { flagStatus: 'flagged' } });
    const text = query.text?.trim();
    if (text) {
      // cross_fields with `and`: every word must appear, in any of the fields (as PostgreSQL's per-word match).
      filter.push({ multi_match: { query: text, type: 'cross_fields', operator: 'and', fields: ['subject', 'from.name', 'from.address'] } });
    }
    const response = await this.client.search<MessageDoc>({
      index: this.messages.alias,
      routing: query.mailboxIds.join(','),
      size: limit + 1,
      track_total_hits: false,
      query: { bool: { filter, must_not: mustNot } },
      sort: [{ receivedAt: { order: 'desc', missing: NO_DATE_SORT_VALUE } }, { messageId: { order: 'asc' } }],
      ...(after ? { search_after: [after.receivedAt ?? NO_DATE_SORT_VALUE, after.messageId] } : {}),
    });
    const data = response.hits.hits.slice(0, limit).map((hit) => hit._source!);
    const last = data[data.length - 1];
    return { data, nextCursor: response.hits.hits.length > limit && last ? encodeCursor(positionOf(last)) : null };
  }

  async folderCounts(mailboxId: string): Promise<Record<string, { total: number; unread: number }>> {
    type Buckets = { folders: { buckets: { key: string; doc_count: number; unread: { doc_count: number } }[] } };
    const response = await this.client.search<never, Buckets>({
      index: this.messages.alias,
      routing: mailboxId,
      size: 0,
      track_total_hits: false,
      query: { term: { mailboxId } },
      aggs: {
        folders: {
          terms: { field: 'folderId', size: MAX_FOLDERS },
          aggs: { unread: { filter: { term: { isRead: false } } } },
        },
      },
    });
    const counts: Record<string, { total: number; unread: number }> = {};
    for (const bucket of response.aggregations?.folders.buckets ?? []) {
      counts[bucket.key] = { total: bucket.doc_count, unread: bucket.unread.doc_count };
    }
    return counts;
  }

  async countMessages(mailboxId: string): Promise<number> {
    const response = await this.client.count({ index: this.messages.alias, routing: mailboxId, query: { term: { mailboxId } } });
    return response.count;
  }

  async putMailbox(doc: MailboxDoc): Promise<void> {
    await this.client.index({ index: this.mailboxes.alias, id: doc.mailboxId, document: doc, require_alias: true });
  }

  async getMailbox(mailboxId: string): Promise<MailboxDoc | undefined> {
    return this.getSource<MailboxDoc>(this.mailboxes.alias, mailboxId);
  }

  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: [this.messages.alias, this.mailboxes.alias] });
  }

  async close(): Promise<void> {
    if (this.options.ownsClient) await this.client.close();
  }

  private async refreshMessages(): Promise<void> {
    await this.client.indices.refresh({ index: this.messages.alias });
  }

  /** A mailbox's messages by id, in the order asked (each found or not), with only `fields` of their source. */
  private async mgetMessages<T>(mailboxId: string, messageIds: string[], fields: string[]): Promise<estypes.GetGetResult<T>[]> {
    const { docs } = await this.client.mget<T>({
      index: this.messages.alias,
      docs: messageIds.map((id) => ({ _id: messageDocId(mailboxId, id), routing: mailboxId })),
      _source_includes: fields,
    });
    return docs.map((found) => {
      if ('error' in found) throw new Error(`Elasticsearch mget on ${this.messages.alias}: ${describeError(found.error)}`);
      return found;
    });
  }

  private async getSource<T>(index: string, id: string, routing?: string): Promise<T | undefined> {
    try {
      const response = await this.client.get<T>({ index, id, ...(routing === undefined ? {} : { routing }) });
      return response._source;
    } catch (error) {
      if (isMissingDocument(error)) return undefined;
      throw error;
    }
  }

  /**
   * Scans and deletes a mailbox's messages matching `filter`, page by page. Guarded deletes carry the
   * scanned copy's sequence number, so a message written since (moved back, re-listed) is kept.
   */
  private async deleteMatching(mailboxId: string, filter: Query[], { guarded }: { guarded: boolean }): Promise<number> {
    // Search sees only refreshed writes: refresh first so the scan misses nothing written just before.
    await this.refreshMessages();
    let deleted = 0;
    for await (const hits of this.scan(mailboxId, filter, [], { source: false })) {
      const operations = hits.map((hit) => ({
        delete: guarded
          ? { _id: hit._id!, routing: mailboxId, if_seq_no: hit._seq_no!, if_primary_term: hit._primary_term! }
          : { _id: hit._id!, routing: mailboxId },
      }));
      deleted += (await this.bulk(operations)).filter((o) => o === 'done').length;
    }
    return deleted;
  }

  /** A mailbox's messages matching the query, in pages ordered by messageId (unique within a mailbox). */
  private async *scan(mailboxId: string, filter: Query[], mustNot: Query[], { source }: { source: boolean }) {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const response = await this.client.search<MessageDoc>({
        index: this.messages.alias,
        routing: mailboxId,
        size: SCAN_PAGE_SIZE,
        track_total_hits: false,
        query: { bool: { filter: [{ term: { mailboxId } }, ...filter], must_not: mustNot } },
        sort: [{ messageId: { order: 'asc' } }],
        _source: source,
        seq_no_primary_term: true,
        version: true,
        ...(after ? { search_after: after } : {}),
      });
      const hits = response.hits.hits;
      if (hits.length > 0) yield hits;
      if (hits.length < SCAN_PAGE_SIZE) return;
      after = hits[hits.length - 1]!.sort;
    }
  }

  /** One _bulk request against the messages alias; any item error other than a conflict or a missing document throws. */
  private async bulk(operations: Operation[], refresh = false): Promise<Outcome[]> {
    const response = await this.client.bulk({
      index: this.messages.alias,
      operations,
      // Only the shards this request touched (one: a mailbox's), only when asked.
      ...(refresh ? { refresh: true } : {}),
      require_alias: true,
      include_source_on_error: false,
      filter_path: BULK_FILTER_PATH,
    });
    const items = response.items.map((item) => Object.values(item)[0]!);
    const outcomes = items.map((item): Outcome | undefined => {
      if (item.status >= 200 && item.status < 300) return 'done';
      if (item.status === 409) return 'conflict';
      if (item.status === 404 && !item.error) return 'missing';
      return undefined;
    });
    const failed = items.filter((_, i) => outcomes[i] === undefined);
    if (failed.length > 0) {
      throw new Error(
        `Elasticsearch bulk on ${this.messages.alias}: ${failed.length} of ${items.length} operations failed; first: ${describeError(failed[0]!.error)}`,
      );
    }
    return outcomes as Outcome[];
  }
}
