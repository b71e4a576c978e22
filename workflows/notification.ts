// One workflow per notification: send through the channel's queue with the priority's retry policy;
// end SENT, or FAILED at once on a permanent error, or DEAD_LETTERED when retries run out. Failed and
// dead-lettered runs end as Failed so the Temporal Web UI's failed filter lists them, and a new run
// under the same workflow id (the API's retry, or Reset in the UI) sends again.
import { ActivityFailure, ApplicationFailure, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { NotificationActivities } from '../activities/notifications.js';
import type { Channel, Priority, RetrySchedule } from '../lib/notifications/policy.js';

export interface NotificationOutcome {
  notificationId: string;
  status: 'SENT';
  provider: string;
  providerMessageId: string;
  late: boolean;
}

/** Error types the send activity raises that must not be retried. */
export const PERMANENT_ERROR_TYPES = ['PermanentSendError', 'NotificationUnsendable', 'RecipientSuppressed'];

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

export async function notification(input: NotificationWorkflowInput): Promise<NotificationOutcome> {
  const { sendNotification } = proxyActivities<NotificationActivities>({
    taskQueue: input.sendTaskQueue,
    // A stuck provider call must not hold a critical send past its deadline: the retry goes elsewhere. The
    // activity aborts its provider request before this ends (attemptBudgetMs), so attempts never overlap.
    startToCloseTimeout: input.priority === 'critical' ? '10 seconds' : '60 seconds',
    // The activity heartbeats every second while it waits on the provider: a dead worker's send is retried
    // within seconds, and a cancelled run's send learns it at once and stops.
    heartbeatTimeout: '5 seconds',
    retry: {
      maximumAttempts: input.retry.maximumAttempts,
      initialInterval: input.retry.initialIntervalMs,
      maximumInterval: input.retry.maximumIntervalMs,
      backoffCoefficient: input.retry.backoffCoefficient,
      nonRetryableErrorTypes: PERMANENT_ERROR_TYPES,
    },
  });
  // Bookkeeping runs on the workflow's own (priority) queue and retries until the database answers.
  const { deadLetterNotification } = proxyActivities<NotificationActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });

  try {
    const sent = await sendNotification({ notificationId: input.notificationId, retry: input.retry });
    return { notificationId: input.notificationId, status: 'SENT', ...sent };
  } catch (error) {
    // The owner cancelled it (the API recorded CANCELLED first): the run ends Cancelled, nothing to record.
    if (isCancellation(error)) throw error;
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
    if (cause instanceof ApplicationFailure && cause.type && PERMANENT_ERROR_TYPES.includes(cause.type)) {
      // The activity already recorded FAILED with the provider's reason.
      throw ApplicationFailure.create({ type: 'NotificationFailed', message, nonRetryable: true, cause });
    }
    log.warn('retries exhausted; dead-lettering', { notificationId: input.notificationId, error: message });
    await deadLetterNotification({ notificationId: input.notificationId, error: message });
    throw ApplicationFailure.create({ type: 'NotificationDeadLettered', message: `dead-lettered: ${message}`, nonRetryable: true, cause });
  }
}
