// What a tenant's enabled state means for what runs in its name: a disabled tenant's schedules are paused
// in Temporal, and enabling it unpauses those its users had not paused themselves (the row's status is
// their intent; the tenant's state only ever adds a pause). Applied by the tenantState workflow from the
// rows as they are when it runs, so it is idempotent and the latest toggle wins.
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { and, eq, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { schedules } from '../../db/schema/index.js';
import { temporalScheduleId } from '../schedules/temporal.js';
import { findTenant } from './tenants.js';

export interface TenantStateDeps { db: Database; temporal: Client }
export interface AppliedTenantState { tenantId: string; disabled: boolean; schedulesPaused: number; schedulesRunning: number }

const TENANT_PAUSE_NOTE = 'tenant disabled';

export async function applyTenantState(deps: TenantStateDeps, tenantId: string): Promise<AppliedTenantState> {
  const tenant = await findTenant(deps.db, tenantId);
  const disabled = tenant?.disabledAt != null;
  const rows = await deps.db.select({ id: schedules.id, status: schedules.status }).from(schedules)
    .where(and(eq(schedules.owner, tenantId), ne(schedules.status, 'ARCHIVED')));
  let schedulesPaused = 0;
  for (const row of rows) {
    const handle = deps.temporal.schedule.getHandle(temporalScheduleId(row.id));
    const paused = disabled || row.status === 'PAUSED';
    try {
      if (paused) await handle.pause(disabled ? TENANT_PAUSE_NOTE : 'paused');
      else await handle.unpause('tenant enabled');
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error; // deleted meanwhile: nothing to hold
    }
    if (paused) schedulesPaused += 1;
  }
  return { tenantId, disabled, schedulesPaused, schedulesRunning: rows.length - schedulesPaused };
}
