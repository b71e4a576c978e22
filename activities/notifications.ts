// The notification activities. sendNotification is idempotent: it returns the recorded outcome when the
// notification was already sent, gives the provider an idempotency key derived from the notification, and
// records the provider's acceptance (SENT) before it reports success, so a retry after a crash never
// sends twice where the provider honours the key. Each attempt ends inside its own start-to-close: the
// provider request is aborted at the attempt's budget or when Temporal cancels it (heartbeats carry that).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { asc, eq, getTableColumns, sql } from 'drizzle-orm';
import { notificationAttachments, notifications } from '../db/schema/index.js';
import { openContent, redactContent } from '../lib/notifications/content.js';
import { notificationMetrics } from '../lib/notifications/metrics.js';
import { nextRetryDelayMs, type RetrySchedule } from '../lib/notifications/policy.js';
import { PermanentSendError, TransientSendError, type NotificationProvider, type OutboundMessage } from '../lib/notifications/providers/index.js';
import { recordAttempt, type AttemptOutcome } from '../lib/notifications/attempts.js';
import { idempotencyKeyFor, resendCount, transitionStatus } from '../lib/notifications/status.js';
import { findSuppression } from '../lib/notifications/suppressions.js';
import type { Channel } from '../lib/notifications/policy.js';
import type { ActivityDeps } from './deps.js';

export type ChannelProviders = Record<Channel, NotificationProvider>;

export interface SendInput {
  notificationId: string;
  retry: RetrySchedule;
}
export interface SendOutput {
  provider: string;
  providerMessageId: string;
  late: boolean;
}

const alreadySent = new Set(['SENT', 'DELIVERED', 'OPENED']);

/**
 * How long one attempt may spend on the provider: its start-to-close less a margin for recording the
 * outcome, so an attempt is over (request aborted) before Temporal gives up on it and schedules the next.
 */
export function attemptBudgetMs(startToCloseMs: number): number {
  return Math.max(100, startToCloseMs - Math.max(500, startToCloseMs / 10));
}
const HEARTBEAT_EVERY_MS = 1_000;

export function createNotificationActivities(deps: ActivityDeps, providers: ChannelProviders) {
  const { db } = deps;

  return {
    async sendNotification(input: SendInput): Promise<SendOutput> {
      const context = Context.current();
      const { info } = context;
      // One read: the row, whether it has attachments, and how many times it was resent (the provider key).
      // Qualified: inside the subqueries a bare "id" would be the subquery table's own.
      const rowId = sql`"notifications"."id"`;
      const [found] = await db
        .select({
          n: getTableColumns(notifications),
          hasAttachments: sql<boolean>`exists (select 1 from ${notificationAttachments} a where a.notification_id = ${rowId})`,
          resends: resendCount(rowId),
        })
        .from(notifications)
        .where(eq(notifications.id, input.notificationId));
      if (!found) {
        // Admission commits before it starts the workflow: a missing row was deleted, not late.
        throw ApplicationFailure.create({ type: 'NotificationUnsendable', message: `notification ${input.notificationId} does not exist`, nonRetryable: true });
      }
      const { n } = found;
      const ids = { notificationId: n.id, workflowId: info.workflowExecution?.workflowId, correlationId: n.correlationId, attempt: info.attempt };
      const logger = deps.logger.child(ids);
      const labels = { channel: n.channel, priority: n.priority };
      if (alreadySent.has(n.status) && n.providerMessageId) {
        logger.info('already sent; not sending again');
        return { provider: n.provider ?? '', providerMessageId: n.providerMessageId, late: n.late };
      }
      if (n.status === 'FAILED' || n.status === 'DEAD_LETTERED' || n.status === 'CANCELLED') {
        throw ApplicationFailure.create({ type: 'NotificationUnsendable', message: `notification is ${n.status}`, nonRetryable: true });
      }
      // One info line per notification ('notification sent' or a warning); the steps before it are debug.
      if (info.attempt === 1) logger.debug({ channel: n.channel, priority: n.priority }, 'notification started');

      const attachments = !found.hasAttachments
        ? []
        : await db
            .select()
            .from(notificationAttachments)
            .where(eq(notificationAttachments.notificationId, n.id))
            .orderBy(asc(notificationAttachments.position));
      const to = n.recipients ?? [n.recipient];
      if (n.channel === 'EMAIL') {
        const suppressed = await findSuppression(db, n.owner, to);
        if (suppressed) {
          const reason = `${suppressed.address} is on the suppression list (${suppressed.reason} on ${suppressed.createdAt.toISOString()}); not sent`;
          await transitionStatus(db, n.id, 'FAILED', { reason: `suppressed: ${suppressed.reason}`, errorMessage: reason });
          notificationMetrics.failed.inc(labels);
          logger.warn({ reason: suppressed.reason }, 'recipient suppressed; not sent');
          throw ApplicationFailure.create({ type: 'RecipientSuppressed', message: reason, nonRetryable: true });
        }
      }
      const content = openContent(deps.encryptor, n);
      const redact = (detail: string) => redactContent(detail, { ...content, subject: n.subject });
      const message: OutboundMessage = {
        notificationId: n.id,
        channel: n.channel,
        to,
        ...(n.sender ? { from: n.sender } : {}),
        ...(n.subject ? { subject: n.subject } : {}),
        text: content.text,
        ...(content.html ? { html: content.html } : {}),
        attachments: await Promise.all(
          attachments.map(async (a) => ({ filename: a.filename, contentType: a.contentType, content: await deps.blobs.readAll(a.blobId) })),
        ),
        idempotencyKey: idempotencyKeyFor(n.id, found.resends),
      };

      logger.debug({ provider: providers[n.channel].name }, 'send attempt');
      const startedAt = new Date();
      // The attempt's row and counters are for people reading the console: failing to write them must not
      // fail (and so repeat) a send whose outcome is already recorded on the notification.
      const attempted = (provider: string, outcome: AttemptOutcome, error?: string) =>
        recordAttempt(db, { notification: n, attempt: info.attempt, provider, outcome, error, startedAt, endedAt: new Date() }).catch((err: unknown) =>
          logger.warn({ err }, 'could not record the delivery attempt'),
        );
      let result: Awaited<ReturnType<NotificationProvider['send']>>;
      const budgetMs = attemptBudgetMs(info.startToCloseTimeoutMs);
      const budget = AbortSignal.timeout(budgetMs);
      const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        result = await providers[n.channel].send(message, AbortSignal.any([context.cancellationSignal, budget]));
      } catch (error) {
        // Cancelled (the run was replaced or ended): nothing to record, the new run owns the row.
        if (context.cancellationSignal.aborted) throw error;
        const raw = budget.aborted
          ? `${providers[n.channel].name}: attempt abandoned after ${budgetMs} ms (start-to-close ${info.startToCloseTimeoutMs} ms)`
          : error instanceof Error
            ? error.message
            : String(error);
        // Providers echo what they were sent (an address, the body, a code in it): never store or log that.
        const reason = redact(raw);
        if (error instanceof PermanentSendError) {
          await transitionStatus(db, n.id, 'FAILED', { reason: 'provider refused', errorMessage: reason, attempt: true });
          await attempted(providers[n.channel].name, 'permanent', reason);
          notificationMetrics.failed.inc(labels);
          logger.warn({ error: reason }, 'notification failed permanently');
          throw ApplicationFailure.create({ type: 'PermanentSendError', message: reason, nonRetryable: true });
        }
        await transitionStatus(db, n.id, 'RETRYING', { reason: 'transient failure', errorMessage: reason, attempt: true });
        await attempted(providers[n.channel].name, error instanceof TransientSendError && error.status === 429 ? 'throttled' : 'transient', reason);
        const retryAfterMs = error instanceof TransientSendError ? error.retryAfterMs : undefined;
        const delay = nextRetryDelayMs(input.retry, info.attempt, retryAfterMs);
        if (info.attempt < input.retry.maximumAttempts) {
          notificationMetrics.retried.inc(labels);
          logger.warn({ error: reason, retryInMs: delay, retryAfterMs }, 'send failed; will retry');
        }
        throw ApplicationFailure.create({ type: 'TransientSendError', message: reason, nextRetryDelay: delay });
      } finally {
        clearInterval(heartbeat);
      }

      const sentAt = new Date();
      const change = await transitionStatus(db, n.id, 'SENT', {
        reason: `accepted by ${result.provider}`,
        provider: result.provider,
        providerMessageId: result.providerMessageId,
        errorMessage: null,
        attempt: true,
        at: sentAt,
      });
      const late = sentAt > n.deadlineAt;
      if (change.applied) await attempted(result.provider, 'sent');
      if (change.applied) {
        notificationMetrics.sent.inc(labels);
        notificationMetrics.endToEnd.observe({ priority: n.priority }, (sentAt.getTime() - n.createdAt.getTime()) / 1000);
        if (late) notificationMetrics.late.inc(labels);
      }
      logger.info({ provider: result.provider, providerMessageId: result.providerMessageId, late }, 'notification sent');
      return { provider: result.provider, providerMessageId: result.providerMessageId, late };
    },

    async deadLetterNotification(input: { notificationId: string; error: string }): Promise<void> {
      const [n] = await db
        .select({ channel: notifications.channel, priority: notifications.priority, correlationId: notifications.correlationId })
        .from(notifications)
        .where(eq(notifications.id, input.notificationId));
      const change = await transitionStatus(db, input.notificationId, 'DEAD_LETTERED', { reason: 'retries exhausted', errorMessage: input.error });
      if (change.applied && n) notificationMetrics.deadLettered.inc({ channel: n.channel, priority: n.priority });
      deps.logger.error(
        {
          notificationId: input.notificationId,
          workflowId: Context.current().info.workflowExecution?.workflowId,
          correlationId: n?.correlationId,
          error: input.error,
        },
        'notification dead-lettered',
      );
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
