// Worker spec for scheduled mail: the scheduledFiring workflows and their admission activity, and the
// tenantState workflow that holds a disabled tenant's schedules and syncs, run by the delivery role. Both
// start or steer other workflows, so these activities hold a Temporal client.
import type { ActivityDeps } from '../activities/deps.js';
import { createScheduleActivities } from '../activities/schedules.js';
import { createTenantActivities } from '../activities/tenants.js';
import { schedulesQueue } from '../lib/schedules/temporal.js';
import { clientFor } from './temporal-client.js';
import type { WorkerSpec } from './worker-spec.js';

export function scheduleSpecs(deps: ActivityDeps): WorkerSpec[] {
  return [
    {
      taskQueue: schedulesQueue(deps.config),
      workflows: true,
      activities: { ...createScheduleActivities(deps, clientFor(deps)), ...createTenantActivities(deps, clientFor(deps)) },
      maxConcurrentActivityTaskExecutions: 10,
    },
  ];
}
