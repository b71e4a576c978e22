// Worker spec for outbound webhooks: the endpoint workflows and their sending activity on a queue of their
// own, and the projector beside them on a thread of its own (outbox → deliveries, then a wake for each
// endpoint that got some).
import type { ActivityDeps } from '../activities/deps.js';
import { createWebhookActivities } from '../activities/webhooks.js';
import { nudgeEndpoint, webhooksQueue } from '../lib/webhooks/start-workflow.js';
import { clientFor } from './temporal-client.js';
import { startProjectorThread } from './webhook-projector-host.js';
import type { BackgroundService, WorkerSpec } from './worker-spec.js';

export function webhookSpecs(deps: ActivityDeps): WorkerSpec[] {
  return [
    {
      taskQueue: webhooksQueue(deps.config),
      workflows: true,
      activities: createWebhookActivities(deps),
      // Each slot is one endpoint's round, mostly waiting on the network.
      maxConcurrentActivityTaskExecutions: deps.config.WEBHOOK_ACTIVITY_SLOTS,
    },
  ];
}

export async function webhookProjectorService(deps: ActivityDeps): Promise<BackgroundService> {
  const client = clientFor(deps);
  return startProjectorThread({
    data: { databaseUrl: deps.config.DATABASE_URL, logLevel: deps.config.LOG_LEVEL, retentionDays: deps.config.WEBHOOK_DELIVERY_RETENTION_DAYS },
    logger: deps.logger,
    wake: (endpointId) => nudgeEndpoint(client, deps.config, endpointId),
  });
}
