import type { Client as TemporalClient } from '@temporalio/client';
import type { Client as ElasticsearchClient } from '@elastic/elasticsearch';
import type { Config } from '../lib/config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../lib/logger.js';
import type { Encryptor } from '../lib/crypto.js';
import type { BlobStore } from '../lib/blob-store.js';
import type { SecretStore } from '../lib/secret-store.js';
import type { MailIndex } from '../lib/mail-index/types.js';
import type { AccountEventBus } from '../lib/mailbox-sync/event-bus.js';
import type { AccessWatch } from './auth/access-watch.js';
import type { GroupedAdmission } from '../lib/notifications/grouped-admission.js';
import type { NotificationFeed } from '../lib/notifications/feed.js';
import type { NotificationStarts } from '../lib/notifications/starts.js';
import type { Principal } from './auth/principal.js';

/** Everything route handlers need, built once by api/server.ts (or a test) and injected. */
export interface AppDeps {
  config: Config;
  db: Database;
  /** A small pool of its own for CRITICAL notifications' requests (their template read and admission). */
  criticalDb: Database;
  temporal: TemporalClient;
  /** One call to Temporal without the client's retries, for /ready. */
  pingTemporal: () => Promise<unknown>;
  elasticsearch?: ElasticsearchClient;
  logger: Logger;
  encryptor: Encryptor;
  blobs: BlobStore;
  secrets: SecretStore;
  /** The mail index (Elasticsearch or PostgreSQL). */
  mailIndex: MailIndex;
  /** Wakes this process's live-feed streams when their account gets events. */
  events: AccountEventBus;
  /** Tells open streams when the key they were opened with is revoked or its tenant disabled. */
  access: AccessWatch;
  /** Starts admitted notifications' workflows after commit, in the background. */
  notificationStarts: NotificationStarts;
  /** Admits MEDIUM and LOW single requests in groups, one transaction per group. */
  groupedAdmission: GroupedAdmission;
  /** Hands the console's live list each tenant's notification status changes as they commit. */
  notificationFeed: NotificationFeed;
}

export type { Principal };

export interface AppEnv {
  Variables: {
    deps: AppDeps;
    requestId: string;
    logger: Logger;
    principal?: Principal;
  };
}
