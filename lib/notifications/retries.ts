// Starting a batch retry and reading its progress: the batch's row (owned by the tenant, written by the
// batch's workflow as it goes) and the workflow that does the retries.
import type { Client } from '@temporalio/client';
import { notificationRetryBatches } from '../../db/schema/index.js';
import type { Database } from '../../db/client.js';
import { notificationRetries } from '../../workflows/notification-retries.js';
import type { Config } from '../config.js';
import { newId } from '../ids.js';
import { taskQueue } from '../temporal/task-queues.js';
import { findOwned } from '../tenants/owned.js';
import type { RetryFilters } from './list.js';

export type RetryBatchRow = typeof notificationRetryBatches.$inferSelect;

/** The most notifications one batch retries; the console says so, and a second batch takes the rest. */
export const MAX_BATCH_RETRY = 5_000;

export const notificationRetriesQueue = (config: Pick<Config, 'TASK_QUEUE_PREFIX'>) => taskQueue(config, 'notification-retries');
export const retryBatchWorkflowId = (batchId: string) => `notification-retries-${batchId}`;

export class RetryBatchNotFoundError extends Error {
  constructor(readonly batchId: string) {
    super(`no retry batch ${batchId}`);
    this.name = 'RetryBatchNotFoundError';
  }
}

export async function startRetryBatch(
  deps: { db: Database; temporal: Client; config: Config },
  tenant: string,
  filters: RetryFilters,
  max: number,
): Promise<RetryBatchRow> {
  const id = newId('rtb');
  const bounded = Math.min(max, MAX_BATCH_RETRY);
  const [row] = await deps.db.insert(notificationRetryBatches).values({ id, owner: tenant, filters, max: bounded }).returning();
  await deps.temporal.workflow.start(notificationRetries, {
    workflowId: retryBatchWorkflowId(id),
    taskQueue: notificationRetriesQueue(deps.config),
    args: [{ batchId: id, tenant, filters, max: bounded }],
  });
  return row!;
}

export async function getRetryBatch(db: Database, tenant: string, id: string): Promise<RetryBatchRow> {
  const row = await findOwned(db, notificationRetryBatches, tenant, id);
  if (!row) throw new RetryBatchNotFoundError(id);
  return row;
}
