// Builds the API's dependencies from config; the returned close() releases them.
import { Client as ElasticsearchClient } from '@elastic/elasticsearch';
import { Client, Connection } from '@temporalio/client';
import { connectDatabase } from '../db/client.js';
import { BlobStore } from '../lib/blob-store.js';
import type { Config } from '../lib/config.js';
import { Encryptor } from '../lib/crypto.js';
import type { Logger } from '../lib/logger.js';
import { SecretStore } from '../lib/secret-store.js';
import { createMailIndex } from '../lib/mail-index/index.js';
import { AccountEventBus } from '../lib/mailbox-sync/event-bus.js';
import { GroupedAdmission } from '../lib/notifications/grouped-admission.js';
import { NotificationFeed } from '../lib/notifications/feed.js';
import { NotificationStarts } from '../lib/notifications/starts.js';
import { AccessWatch } from './auth/access-watch.js';
import type { AppDeps } from './context.js';

export function buildAppDeps(config: Config, logger: Logger): { deps: AppDeps; close: () => Promise<void> } {
  const database = connectDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'mailflow-api' });
  // CRITICAL requests never queue for a connection behind a burst of MEDIUM or LOW ones.
  const critical = connectDatabase(config.DATABASE_URL, { max: config.DATABASE_CRITICAL_POOL_SIZE, applicationName: 'mailflow-api-critical' });
  // Lazy: the API starts (and /ready says why it is not ready) while Temporal is still coming up.
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  // No retry interceptor: a readiness probe must answer now, not retry in the background.
  const probe = Connection.lazy({ address: config.TEMPORAL_ADDRESS, interceptors: [] });
  const pingTemporal = () => probe.withDeadline(Date.now() + 2_000, () => probe.workflowService.getSystemInfo({}));
  const elasticsearch = config.ELASTICSEARCH_URL ? new ElasticsearchClient({ node: config.ELASTICSEARCH_URL }) : undefined;
  const encryptor = new Encryptor(config.ENCRYPTION_KEYS);
  const deps: AppDeps = {
    config,
    db: database.db,
    criticalDb: critical.db,
    temporal,
    pingTemporal,
    elasticsearch,
    logger,
    encryptor,
    blobs: new BlobStore(database.db),
    secrets: new SecretStore(database.db, encryptor),
    mailIndex: createMailIndex(config, database.db, elasticsearch ? { elasticsearch } : {}),
    events: new AccountEventBus(database.sql),
    access: new AccessWatch(database.db, undefined, (error) => logger.warn({ err: error }, 'could not check the keys of open streams')),
    // Admission holds a connection for three round trips and never across a Temporal call.
    notificationStarts: new NotificationStarts({ db: database.db, temporal, config, logger }),
    groupedAdmission: new GroupedAdmission(),
    notificationFeed: new NotificationFeed(database.db, undefined, (error) => logger.warn({ err: error }, 'could not read notification changes')),
  };
  return {
    deps,
    async close() {
      // Starts already committed go out before the connections close (the sweep would catch them later).
      await deps.notificationStarts.drain();
      await connection.close().catch(() => {});
      await probe.close().catch(() => {});
      await elasticsearch?.close();
      await deps.events.close();
      deps.access.stop();
      deps.notificationFeed.close();
      await critical.close();
      await database.close();
    },
  };
}
