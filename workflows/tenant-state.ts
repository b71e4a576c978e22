// Applies a tenant's enabled or disabled state to what runs in its name (lib/tenants/apply-state.ts), one
// run per change (id `tenant-state-<tenantId>`; a newer change replaces a run still in progress). Retried
// until it is through, so a disable holds everything even if a worker or Temporal restarts midway.
import { proxyActivities } from '@temporalio/workflow';
import type { TenantActivities } from '../activities/tenants.js';

const { applyTenantState } = proxyActivities<TenantActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function tenantState(input: { tenantId: string }) {
  return applyTenantState(input);
}
