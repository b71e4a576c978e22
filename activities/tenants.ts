// The tenant activity: applies the tenant's enabled state to its schedules and mailbox syncs. Idempotent.
import type { Client } from '@temporalio/client';
import { applyTenantState } from '../lib/tenants/apply-state.js';
import type { ActivityDeps } from './deps.js';

export function createTenantActivities(deps: ActivityDeps, temporal: Client) {
  return {
    async applyTenantState(input: { tenantId: string }) {
      const applied = await applyTenantState({ db: deps.db, temporal }, input.tenantId);
      deps.logger.info(applied, 'tenant state applied');
      return applied;
    },
  };
}

export type TenantActivities = ReturnType<typeof createTenantActivities>;
