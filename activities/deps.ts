// What activities need from the outside world, built once per worker process.
import type { Config } from '../lib/config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../lib/logger.js';
import type { Encryptor } from '../lib/crypto.js';
import type { BlobStore } from '../lib/blob-store.js';
import type { SecretStore } from '../lib/secret-store.js';
import type { MailIndex } from '../lib/mail-index/types.js';

export interface ActivityDeps {
  config: Config;
  db: Database;
  logger: Logger;
  encryptor: Encryptor;
  blobs: BlobStore;
  secrets: SecretStore;
  /** The mail index (Elasticsearch or PostgreSQL), ready before the workers start. */
  mailIndex: MailIndex;
}
