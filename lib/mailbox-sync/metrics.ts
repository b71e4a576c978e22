// Mailbox-sync metrics, registered on the sync worker's registry: what the pages did, per provider.
import { Counter } from 'prom-client';
import { registry } from '../metrics.js';

const labelNames = ['provider'] as const;
const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [registry] });

export const syncMetrics = {
  pages: counter('mailflow_sync_pages_total', 'Message-delta pages read, indexed and recorded.'),
  messagesWritten: counter('mailflow_sync_messages_written_total', 'Message documents written to the index by the sync.'),
  /** A folder's delta read up to its end (a delta link): one folder's round, in an initial sync or a poll. */
  folderRounds: counter('mailflow_sync_folder_rounds_total', 'Folder delta rounds completed (a page that caught up).'),
  throttled: counter('mailflow_sync_provider_throttled_total', 'Provider requests refused with 429/503/504 and retried after Retry-After.'),
  expiredCursors: counter('mailflow_sync_cursors_expired_total', 'Delta cursors the provider no longer knew: the folder is read afresh.'),
};
