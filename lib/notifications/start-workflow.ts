// Starting a notification's workflow: the boundary between admission (API) and delivery (workers).
// The workflow id derives from the notification id, so a duplicate start joins the running one.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import type { RetrySchedule } from './policy.js';

export type Channel = 'EMAIL' | 'SMS' | 'PUSH';
export type Priority = 'critical' | 'medium' | 'low';

export const NOTIFICATION_WORKFLOW_TYPE = 'notification';

export function notificationWorkflowId(notificationId: string): string {
  return `notification-${notificationId}`;
}

/** One workflow queue per priority: a LOW backlog never occupies CRITICAL's worker slots. */
export function notificationWorkflowQueue(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, priority: Priority): string {
  return taskQueue(config, `notifications-${priority}`);
}

/** One activity queue per channel and priority: each channel's worker role scales alone. */
export function channelActivityQueue(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, channel: Channel, priority: Priority): string {
  return taskQueue(config, `send-${channel.toLowerCase()}-${priority}`);
}

export interface NotificationWorkflowInput {
  notificationId: string;
  channel: Channel;
  priority: Priority;
  /** Epoch ms of acceptance; the deadline is measured from it. */
  acceptedAt: number;
  /** The channel-and-priority queue whose workers call the provider. */
  sendTaskQueue: string;
  retry: RetrySchedule;
}

export interface StartableNotification extends NotificationWorkflowInput {
  userId: string | null;
  correlationId: string | null;
}

export async function startNotificationWorkflow(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, n: StartableNotification) {
  const input: NotificationWorkflowInput = {
    notificationId: n.notificationId, channel: n.channel, priority: n.priority, acceptedAt: n.acceptedAt,
    sendTaskQueue: n.sendTaskQueue, retry: n.retry,
  };
  return client.workflow.start(NOTIFICATION_WORKFLOW_TYPE, {
    workflowId: notificationWorkflowId(n.notificationId),
    taskQueue: notificationWorkflowQueue(config, n.priority),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // A closed run may start again only after it failed (dead letter or permanent failure): the retry endpoint.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    searchAttributes: {
      NotificationChannel: [n.channel],
      NotificationPriority: [n.priority],
      ...(n.userId ? { UserId: [n.userId] } : {}),
      ...(n.correlationId ? { CorrelationId: [n.correlationId] } : {}),
    },
  });
}
