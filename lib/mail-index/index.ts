// The mail index for a process: Elasticsearch when one is configured, otherwise PostgreSQL.
import { Client } from '@elastic/elasticsearch';
import type { Database } from '../../db/client.js';
import type { Config } from '../config.js';
import { ElasticsearchMailIndex } from './elasticsearch.js';
import { PostgresMailIndex } from './postgres.js';
import type { MailIndex } from './types.js';

export * from './types.js';
export { ElasticsearchMailIndex } from './elasticsearch.js';
export { PostgresMailIndex } from './postgres.js';

export type MailIndexConfig = Pick<Config, 'ELASTICSEARCH_URL' | 'ELASTICSEARCH_INDEX_PREFIX' | 'ELASTICSEARCH_SHARDS' | 'ELASTICSEARCH_REPLICAS'>;

/** `options.elasticsearch` shares a client the process already has; otherwise the index makes one and close() closes it. */
export function createMailIndex(config: MailIndexConfig, db: Database, options: { elasticsearch?: Client } = {}): MailIndex {
  if (!config.ELASTICSEARCH_URL) return new PostgresMailIndex(db); // as indexBackend() decides
  const client = options.elasticsearch ?? new Client({ node: config.ELASTICSEARCH_URL });
  return new ElasticsearchMailIndex(client, {
    prefix: config.ELASTICSEARCH_INDEX_PREFIX,
    shards: config.ELASTICSEARCH_SHARDS,
    replicas: config.ELASTICSEARCH_REPLICAS,
    ownsClient: options.elasticsearch === undefined,
  });
}
