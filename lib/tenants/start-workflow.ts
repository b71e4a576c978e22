// Starting the tenantState workflow after a tenant is disabled or enabled (the row is committed first).
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { schedulesQueue } from '../schedules/temporal.js';
import { tenantState } from '../../workflows/tenant-state.js';

export const tenantStateWorkflowId = (tenantId: string) => `tenant-state-${tenantId}`;

export async function startTenantState(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, tenantId: string): Promise<void> {
  await client.workflow.start(tenantState, {
    workflowId: tenantStateWorkflowId(tenantId),
    // It runs beside the schedule firings (the delivery role), which hold a Temporal client.
    taskQueue: schedulesQueue(config),
    args: [{ tenantId }],
    // A change made while the previous one is still being applied: the new run reads the latest state.
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
  });
}
