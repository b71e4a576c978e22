// Worker specs for notifications. Priority is isolation: each priority has its own workflow queue and,
// per channel, its own send queue with its own slots, so a LOW backlog cannot occupy CRITICAL's capacity.
import { createNotificationActivities, type ChannelProviders } from '../activities/notifications.js';
import type { ActivityDeps } from '../activities/deps.js';
import { createNotificationRetryActivities } from '../activities/notification-retries.js';
import { notificationRetriesQueue } from '../lib/notifications/retries.js';
import { clientFor } from './temporal-client.js';
import { reportCircuit } from '../lib/notifications/circuits.js';
import { priorities } from '../lib/notifications/policy.js';
import { createProviders } from '../lib/notifications/providers/index.js';
import { channelActivityQueue, notificationWorkflowQueue, type Channel } from '../lib/notifications/start-workflow.js';
import type { WorkerSpec } from './worker-spec.js';

// One set of providers per process, so every queue's sends share one circuit breaker per provider.
const providersByDeps = new WeakMap<ActivityDeps, ChannelProviders>();
function providersFor(deps: ActivityDeps): ChannelProviders {
  let providers = providersByDeps.get(deps);
  if (!providers) {
    const built = createProviders(deps.config);
    providers = { EMAIL: built.email, SMS: built.sms, PUSH: built.push };
    providersByDeps.set(deps, providers);
    reportCircuit(deps.db, built.email, deps.logger);
  }
  return providers;
}

export function deliverySpecs(deps: ActivityDeps): WorkerSpec[] {
  const activities = createNotificationActivities(deps, providersFor(deps));
  return priorities.map((priority) => ({
    taskQueue: notificationWorkflowQueue(deps.config, priority),
    workflows: true,
    activities: { deadLetterNotification: activities.deadLetterNotification.bind(activities) },
    maxConcurrentActivityTaskExecutions: 10,
  }));
}

/** Batch retries from the console: their workflow and activities, which start notifications again. */
export function retrySpecs(deps: ActivityDeps): WorkerSpec[] {
  return [
    {
      taskQueue: notificationRetriesQueue(deps.config),
      workflows: true,
      activities: createNotificationRetryActivities(deps, clientFor(deps)),
      maxConcurrentActivityTaskExecutions: 4,
    },
  ];
}

export function channelSpecs(channel: Channel) {
  return (deps: ActivityDeps): WorkerSpec[] => {
    const activities = createNotificationActivities(deps, providersFor(deps));
    const sendNotification = activities.sendNotification.bind(activities);
    const capacity = { critical: deps.config.SEND_CONCURRENCY_CRITICAL, medium: deps.config.SEND_CONCURRENCY_MEDIUM, low: deps.config.SEND_CONCURRENCY_LOW };
    return priorities.map((priority) => ({
      taskQueue: channelActivityQueue(deps.config, channel, priority),
      workflows: false,
      activities: { sendNotification },
      maxConcurrentActivityTaskExecutions: capacity[priority],
    }));
  };
}
