// What a tenant's enabled state means for what runs in its name: a disabled tenant's schedules are paused
// in Temporal and its mailbox syncs held, and enabling it unpauses the schedules its users had not paused
// themselves (the row's status is their intent; the tenant's state only ever adds a pause) and releases the
// syncs (a hold is apart from a user's pause). Applied by the tenantState workflow from the rows as they are
// when it runs, so it is idempotent and the latest toggle wins.
import { ScheduleNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, eq, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailboxes, schedules } from '../../db/schema/index.js';
import { tenantHoldSignal } from '../../workflows/mailbox-sync.js';
import { temporalScheduleId } from '../schedules/temporal.js';
import { findTenant } from './tenants.js';

export interface TenantStateDeps {
  db: Database;
  temporal: Client;
}
export interface AppliedTenantState {
  tenantId: string;
  disabled: boolean;
  schedulesPaused: number;
  schedulesRunning: number;
  mailboxesHeld: number;
}

const TENANT_PAUSE_NOTE = 'tenant disabled';

export async function applyTenantState(deps: TenantStateDeps, tenantId: string): Promise<AppliedTenantState> {
  const tenant = await findTenant(deps.db, tenantId);
  const disabled = tenant?.disabledAt != null;
  const rows = await deps.db
    .select({ id: schedules.id, status: schedules.status })
    .from(schedules)
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
  // Each mailbox's sync holds (or goes on); a mailbox whose workflow is not running reads its tenant's state
  // when its next run starts.
  const linked = await deps.db
    .select({ workflowId: mailboxes.workflowId })
    .from(mailboxes)
    .where(and(eq(mailboxes.owner, tenantId), ne(mailboxes.status, 'UNLINKING')));
  for (const { workflowId } of linked) {
    try {
      await deps.temporal.workflow.getHandle(workflowId).signal(tenantHoldSignal, { held: disabled });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return { tenantId, disabled, schedulesPaused, schedulesRunning: rows.length - schedulesPaused, mailboxesHeld: disabled ? linked.length : 0 };
}
