// Disabling and enabling a tenant: the row, then the tenantState workflow that applies it to what runs.
import type { Client } from '@temporalio/client';
import type { Database } from '../../db/client.js';
import { setTenantDisabled, type TenantRow } from './tenants.js';
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

/** Disables or enables the tenant (the row first: its keys are refused or accepted at once), then applies it to what runs. */
export async function changeTenantState(
  deps: { db: Database; temporal: Client; config: Pick<Config, 'TASK_QUEUE_PREFIX'> },
  tenantId: string,
  change: { disabled: boolean; reason?: string | undefined },
): Promise<TenantRow> {
  const tenant = await setTenantDisabled(deps.db, tenantId, change.disabled, change.reason);
  await startTenantState(deps.temporal, deps.config, tenantId);
  return tenant;
}
