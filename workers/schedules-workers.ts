// Worker spec for scheduled mail: the scheduledFiring workflows and their admission activity, and the
// tenantState workflow that holds a disabled tenant's schedules and syncs, run by the delivery role. Both
// start or steer other workflows, so these activities hold a Temporal client.
import { Client, Connection } from '@temporalio/client';
import type { ActivityDeps } from '../activities/deps.js';
import { createScheduleActivities } from '../activities/schedules.js';
import { createTenantActivities } from '../activities/tenants.js';
import { schedulesQueue } from '../lib/schedules/temporal.js';
import type { WorkerSpec } from './worker-spec.js';

// One client per process; connected on first use, so a worker that never fires opens nothing.
const clients = new WeakMap<ActivityDeps, Client>();
function clientFor(deps: ActivityDeps): Client {
  let client = clients.get(deps);
  if (!client) {
    client = new Client({ connection: Connection.lazy({ address: deps.config.TEMPORAL_ADDRESS }), namespace: deps.config.TEMPORAL_NAMESPACE });
    clients.set(deps, client);
  }
  return client;
}

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
