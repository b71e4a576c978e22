// The notification activities. sendNotification is idempotent: it returns the recorded outcome when the
// notification was already sent, gives the provider an idempotency key derived from the notification, and
// records the provider's acceptance (SENT) before it reports success, so a retry after a crash never
// sends twice where the provider honours the key.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { asc, eq } from 'drizzle-orm';
import { notificationAttachments, notifications } from '../db/schema/index.js';
import { notificationMetrics } from '../lib/notifications/metrics.js';
import { nextRetryDelayMs, type RetrySchedule } from '../lib/notifications/policy.js';
import { PermanentSendError, TransientSendError, type NotificationProvider, type OutboundMessage } from '../lib/notifications/providers/index.js';
import { transitionStatus } from '../lib/notifications/status.js';
import type { Channel } from '../lib/notifications/start-workflow.js';
import type { ActivityDeps } from './deps.js';

export type ChannelProviders = Record<Channel, NotificationProvider>;

export interface SendInput { notificationId: string; retry: RetrySchedule }
export interface SendOutput { provider: string; providerMessageId: string; late: boolean }

const alreadySent = new Set(['SENT', 'DELIVERED', 'OPENED']);

export function createNotificationActivities(deps: ActivityDeps, providers: ChannelProviders) {
  const { db } = deps;

  return {
    async sendNotification(input: SendInput): Promise<SendOutput> {
      const context = Context.current();
      const { info } = context;
      const [n] = await db.select().from(notifications).where(eq(notifications.id, input.notificationId));
      if (!n) {
        // Admission starts the workflow just before it commits: the row may not be visible yet.
        throw ApplicationFailure.create({ type: 'NotificationNotVisible', message: `notification ${input.notificationId} not found (yet)`, nextRetryDelay: 200 });
      }
      const ids = { notificationId: n.id, workflowId: info.workflowExecution?.workflowId, correlationId: n.correlationId, attempt: info.attempt };
      const logger = deps.logger.child(ids);
      const labels = { channel: n.channel, priority: n.priority };
      if (alreadySent.has(n.status) && n.providerMessageId) {
        logger.info('already sent; not sending again');
        return { provider: n.provider ?? '', providerMessageId: n.providerMessageId, late: n.late };
      }
      if (n.status === 'FAILED' || n.status === 'DEAD_LETTERED') {
        throw ApplicationFailure.create({ type: 'NotificationUnsendable', message: `notification is ${n.status}`, nonRetryable: true });
      }
      if (info.attempt === 1) logger.info({ channel: n.channel, priority: n.priority }, 'notification started');

      const attachments = await db.select().from(notificationAttachments)
        .where(eq(notificationAttachments.notificationId, n.id)).orderBy(asc(notificationAttachments.position));
      const message: OutboundMessage = {
        notificationId: n.id, channel: n.channel, to: n.recipient.split(','),
        ...(n.sender ? { from: n.sender } : {}), ...(n.subject ? { subject: n.subject } : {}), text: n.body, ...(n.bodyHtml ? { html: n.bodyHtml } : {}),
        attachments: await Promise.all(attachments.map(async (a) => ({ filename: a.filename, contentType: a.contentType, content: await deps.blobs.readAll(a.blobId) }))),
        idempotencyKey: `mailflow-${n.id}`,
      };

      logger.info({ provider: providers[n.channel].name }, 'send attempt');
      let result: Awaited<ReturnType<NotificationProvider['send']>>;
      try {
        result = await providers[n.channel].send(message, context.cancellationSignal);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (error instanceof PermanentSendError) {
          await transitionStatus(db, n.id, 'FAILED', { reason: 'provider refused', errorMessage: reason, attempt: true });
          notificationMetrics.failed.inc(labels);
          logger.warn({ error: reason }, 'notification failed permanently');
          throw ApplicationFailure.create({ type: 'PermanentSendError', message: reason, nonRetryable: true });
        }
        await transitionStatus(db, n.id, 'RETRYING', { reason: 'transient failure', errorMessage: reason, attempt: true });
        const retryAfterMs = error instanceof TransientSendError ? error.retryAfterMs : undefined;
        const delay = nextRetryDelayMs(input.retry, info.attempt, retryAfterMs);
        if (info.attempt < input.retry.maximumAttempts) {
          notificationMetrics.retried.inc(labels);
          logger.warn({ error: reason, retryInMs: delay, retryAfterMs }, 'send failed; will retry');
        }
        throw ApplicationFailure.create({ type: 'TransientSendError', message: reason, nextRetryDelay: delay });
      }

      const sentAt = new Date();
      const change = await transitionStatus(db, n.id, 'SENT', {
        reason: `accepted by ${result.provider}`, provider: result.provider, providerMessageId: result.providerMessageId, errorMessage: null, attempt: true, at: sentAt,
      });
      const late = sentAt > n.deadlineAt;
      if (change.applied) {
        notificationMetrics.sent.inc(labels);
        notificationMetrics.endToEnd.observe({ priority: n.priority }, (sentAt.getTime() - n.createdAt.getTime()) / 1000);
        if (late) notificationMetrics.late.inc(labels);
      }
      logger.info({ provider: result.provider, providerMessageId: result.providerMessageId, late }, 'notification sent');
      return { provider: result.provider, providerMessageId: result.providerMessageId, late };
    },

    async deadLetterNotification(input: { notificationId: string; error: string }): Promise<void> {
      const [n] = await db.select({ channel: notifications.channel, priority: notifications.priority, correlationId: notifications.correlationId })
        .from(notifications).where(eq(notifications.id, input.notificationId));
      const change = await transitionStatus(db, input.notificationId, 'DEAD_LETTERED', { reason: 'retries exhausted', errorMessage: input.error });
      if (change.applied && n) notificationMetrics.deadLettered.inc({ channel: n.channel, priority: n.priority });
      deps.logger.error({ notificationId: input.notificationId, workflowId: Context.current().info.workflowExecution?.workflowId, correlationId: n?.correlationId, error: input.error }, 'notification dead-lettered');
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
