// Starting a notification's workflow: the boundary between admission (API) and delivery (workers).
// The workflow id derives from the notification id, so a duplicate start joins the running one.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import type { Channel, Priority } from './policy.js';
import { notification, type NotificationWorkflowInput } from '../../workflows/notification.js';

export type { Channel, Priority, NotificationWorkflowInput };

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

export interface StartableNotification extends NotificationWorkflowInput {
  userId: string | null;
  correlationId: string | null;
  /** The schedule whose firing admitted it (a `ScheduleId` search attribute in the Web UI). */
  scheduleId?: string | null;
}

/**
 * `admit`: a duplicate start joins the running run. `retry` (the caller holds the row, moved from FAILED or
 * DEAD_LETTERED to PENDING under its lock): always a new run. A previous run may still be open (it wrote
 * DEAD_LETTERED or FAILED and is about to end, or a webhook failed it while it waits); joining it would
 * leave the row PENDING with no run once it ends, so it is terminated, and a completed one is no obstacle.
 */
export type StartMode = 'admit' | 'retry';

export async function startNotificationWorkflow(
  client: Client,
  config: Pick<Config, 'TASK_QUEUE_PREFIX'>,
  n: StartableNotification,
  mode: StartMode = 'admit',
) {
  const input: NotificationWorkflowInput = {
    notificationId: n.notificationId,
    channel: n.channel,
    priority: n.priority,
    acceptedAt: n.acceptedAt,
    sendTaskQueue: n.sendTaskQueue,
    retry: n.retry,
  };
  return client.workflow.start(notification, {
    workflowId: notificationWorkflowId(n.notificationId),
    taskQueue: notificationWorkflowQueue(config, n.priority),
    args: [input],
    workflowIdConflictPolicy: mode === 'retry' ? 'TERMINATE_EXISTING' : 'USE_EXISTING',
    // Admission never restarts a closed run; a retry follows any closed run (a webhook can fail a completed one).
    workflowIdReusePolicy: mode === 'retry' ? 'ALLOW_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY',
    searchAttributes: {
      NotificationChannel: [n.channel],
      NotificationPriority: [n.priority],
      ...(n.userId ? { UserId: [n.userId] } : {}),
      ...(n.correlationId ? { CorrelationId: [n.correlationId] } : {}),
      ...(n.scheduleId ? { ScheduleId: [n.scheduleId] } : {}),
    },
  });
}
