// Waking an endpoint's workflow, starting it if it is not running: the projector after new deliveries, the
// API after a replay, a test event or a change to the endpoint.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
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

/**
 * Signals the endpoint's workflow where it runs (registration started it), starting it here only when none
 * runs: a worker never moves another deployment's endpoint (one sharing the database) onto its own queue.
 */
export async function nudgeEndpoint(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, endpointId: string): Promise<void> {
  try {
    await client.workflow.getHandle(webhookEndpointWorkflowId(endpointId)).signal(wakeWebhookEndpoint);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    await wakeEndpoint(client, config, endpointId);
  }
}
