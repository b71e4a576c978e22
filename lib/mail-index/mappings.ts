// Elasticsearch index names, mappings and settings of the mail index. Physical indices are versioned
// (`-v1`) and reached only through their aliases, so a reindex into `-v2` moves an alias with no downtime.
// Only what the server core offers: the `standard` analyzer, no ingest pipelines, no scripts.
import type { estypes } from '@elastic/elasticsearch';

export interface IndexName {
  alias: string;
  index: string;
}

export function indexNames(prefix: string): { messages: IndexName; mailboxes: IndexName } {
  return {
    messages: { alias: `${prefix}-messages`, index: `${prefix}-messages-v1` },
    mailboxes: { alias: `${prefix}-mailboxes`, index: `${prefix}-mailboxes-v1` },
  };
}

/** `_id` of a message document; Graph's immutable ids are long (~150 characters), well under the 512-byte limit. */
export function messageDocId(mailboxId: string, messageId: string): string {
  return `${mailboxId}:${messageId}`;
}

/**
 * Sort value standing in for a missing receivedAt: below every storable date (years 1–9999), so undated
 * mail sorts last like PostgreSQL's `nulls last`, and exact in JSON (the default `_last` sends Long.MIN_VALUE,
 * which a JavaScript number cannot carry back in search_after).
 */
export const NO_DATE_SORT_VALUE = -8_640_000_000_000_001;

const keyword: estypes.MappingProperty = { type: 'keyword' };
/** For provider strings never sorted on: an overlong one stays in _source unindexed instead of failing the page. */
const providerKeyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 1_024 };
/** Shown, never searched: kept in _source only, so indexing a page analyses no more text than search needs. */
const shownOnly: estypes.MappingProperty = { type: 'object', enabled: false };

export const messageMappings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  // Every operation must name its mailbox's shard: a write without routing fails instead of landing elsewhere.
  _routing: { required: true },
  properties: {
    accountId: keyword,
    mailboxId: keyword,
    messageId: keyword,
    provider: keyword,
    folderId: keyword,
    folderName: keyword,
    subject: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
    from: {
      properties: {
        name: { type: 'text' },
        address: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
      },
    },
    to: shownOnly,
    cc: shownOnly,
    receivedAt: { type: 'date' },
    isRead: { type: 'boolean' },
    flagStatus: keyword,
    bodyPreview: { type: 'text', index: false },
    conversationId: providerKeyword,
    internetMessageId: providerKeyword,
    hasAttachments: { type: 'boolean' },
    changeKey: providerKeyword,
    lastModifiedAt: { type: 'date' },
    syncSeq: { type: 'long' },
  },
};

export const mailboxMappings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    accountId: keyword,
    mailboxId: keyword,
    provider: keyword,
    address: keyword,
    displayName: { type: 'text' },
    // Read back whole, never searched: kept in _source only.
    folders: { type: 'object', enabled: false },
    syncStatus: keyword,
    phase: keyword,
    messagesIndexed: { type: 'long' },
    lastSyncAt: { type: 'date' },
    errors: { type: 'object', enabled: false },
    updatedAt: { type: 'date' },
  },
};

export function indexSettings(shards: number, replicas: number): estypes.IndicesIndexSettings {
  return { number_of_shards: shards, number_of_replicas: replicas, refresh_interval: '1s' };
}
