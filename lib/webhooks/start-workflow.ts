// Waking an endpoint's workflow, starting it if it is not running: the projector after new deliveries, the
// API after a replay, a test event or a change to the endpoint.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import { wakeWebhookEndpoint, webhookEndpoint } from '../../workflows/webhook-endpoint.js';

export const webhookEndpointWorkflowId = (endpointId: string) => `webhook-endpoint-${endpointId}`;

/** The webhooks role's queue: delivery to tenants' endpoints never takes another role's worker slots. */
export const webhooksQueue = (config: Pick<Config, 'TASK_QUEUE_PREFIX'>) => taskQueue(config, 'webhooks');

export async function wakeEndpoint(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, endpointId: string): Promise<void> {
  await client.workflow.signalWithStart(webhookEndpoint, {
    workflowId: webhookEndpointWorkflowId(endpointId),
    taskQueue: webhooksQueue(config),
    args: [{ endpointId }],
    signal: wakeWebhookEndpoint,
    signalArgs: [],
  });
}
