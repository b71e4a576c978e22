// A batch retry: sends again every failed or dead-lettered notification that matched a filter when the batch
// began, a chunk at a time. Each notification is retried at most once however many batches overlap: the
// retry moves the row out of FAILED/DEAD_LETTERED under its row lock, and a row no longer there is skipped.
// Progress is written to the batch's row with each retry, where the API reads it.
import { proxyActivities } from '@temporalio/workflow';
import type { NotificationRetryActivities } from '../activities/notification-retries.js';
import type { RetryFilters } from '../lib/notifications/list.js';

export interface NotificationRetriesInput {
  batchId: string;
  tenant: string;
  filters: RetryFilters;
  /** At most this many notifications: a batch is bounded. */
  max: number;
}

/** Notifications retried per activity: a retried step repeats little, and its progress is exact anyway. */
const CHUNK = 50;

const { selectRetryCandidates, retryChunk, finishRetryBatch } = proxyActivities<NotificationRetryActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function notificationRetries(input: NotificationRetriesInput): Promise<{ total: number }> {
  const ids = await selectRetryCandidates(input);
  for (let offset = 0; offset < ids.length; offset += CHUNK) {
    await retryChunk({ batchId: input.batchId, tenant: input.tenant, ids: ids.slice(offset, offset + CHUNK), offset });
  }
  await finishRetryBatch({ batchId: input.batchId });
  return { total: ids.length };
}
