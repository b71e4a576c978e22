// How a notification reads over the API: the seed-003 fields plus the timeline and history.
import { z } from '@hono/zod-openapi';
import type { NotificationRow } from '../../lib/notifications/admission.js';
import { attemptOutcomes, type AttemptOutcome } from '../../lib/notifications/attempts.js';
import { MASK, type NotificationDetail } from '../../lib/notifications/detail.js';
import { notificationStatuses } from '../../lib/notifications/status.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export const historyEntrySchema = z.object({
  from: z.enum(notificationStatuses).nullable(),
  to: z.enum(notificationStatuses),
  reason: z.string().nullable(),
  at: z.string().datetime(),
});

export const notificationSchema = z
  .object({
    id: z.string().openapi({ example: 'ntf_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    status: z.enum(notificationStatuses),
    type: z.enum(['EMAIL', 'SMS', 'PUSH']),
    priority: z.enum(['critical', 'medium', 'low']),
    userId: z.string().nullable(),
    templateId: z.string().nullable(),
    templateVersion: z.number().int().nullable(),
    correlationId: z.string().nullable(),
    recipient: z.string(),
    subject: z.string().nullable(),
    attempts: z.number().int(),
    lastAttemptedAt: z.string().datetime().nullable(),
    errorMessage: z.string().nullable(),
    provider: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    workflowId: z.string(),
    deadlineAt: z.string().datetime(),
    late: z.boolean().openapi({ description: 'Sent after its priority deadline' }),
    createdAt: z.string().datetime(),
    sentAt: z.string().datetime().nullable(),
    deliveredAt: z.string().datetime().nullable(),
    openedAt: z.string().datetime().nullable(),
    failedAt: z.string().datetime().nullable(),
    deadLetteredAt: z.string().datetime().nullable(),
  })
  .openapi('Notification');

export type NotificationView = z.infer<typeof notificationSchema>;

export function toView(n: NotificationRow): NotificationView {
  return {
    id: n.id,
    status: n.status,
    type: n.channel,
    priority: n.priority,
    userId: n.userId,
    templateId: n.templateId,
    templateVersion: n.templateVersion,
    correlationId: n.correlationId,
    recipient: n.recipient,
    subject: n.subject,
    attempts: n.deliveryAttempts,
    lastAttemptedAt: iso(n.lastAttemptedAt),
    errorMessage: n.errorMessage,
    provider: n.provider,
    providerMessageId: n.providerMessageId,
    workflowId: n.workflowId,
    deadlineAt: n.deadlineAt.toISOString(),
    late: n.late,
    createdAt: n.createdAt.toISOString(),
    sentAt: iso(n.sentAt),
    deliveredAt: iso(n.deliveredAt),
    openedAt: iso(n.openedAt),
    failedAt: iso(n.failedAt),
    deadLetteredAt: iso(n.deadLetteredAt),
  };
}

const int = z.number().int();
export const attemptSchema = z.object({
  attempt: int,
  provider: z.string(),
  outcome: z.enum(attemptOutcomes),
  error: z.string().nullable(),
  latencyMs: int,
  startedAt: z.string().datetime(),
});

export const detailSchema = notificationSchema
  .extend({
    history: z.array(historyEntrySchema),
    params: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: `The template parameters as requested; those whose names say they carry a secret (a link, a code, a token) read ${MASK}` }),
    deliveryAttempts: z.array(attemptSchema),
    providerEvents: z.array(
      z.object({ provider: z.string(), event: z.string(), occurredAt: z.string().datetime().nullable(), receivedAt: z.string().datetime() }),
    ),
    deadline: z.object({
      at: z.string().datetime(),
      met: z.boolean().nullable().openapi({ description: 'Sent by the deadline; null while unsent with time left' }),
      marginMs: z.number().int().openapi({ description: 'Deadline minus send time (or now while unsent): negative is how late' }),
    }),
    suppression: z.object({ address: z.string(), reason: z.string(), createdAt: z.string().datetime() }).nullable(),
    temporalUrl: z.string().nullable().openapi({ description: 'The run in the Temporal Web UI, when TEMPORAL_UI_URL is set' }),
  })
  .openapi('NotificationDetail');

export function detailView(d: NotificationDetail): z.infer<typeof detailSchema> {
  return {
    ...toView(d.notification),
    history: d.history.map((h) => ({ ...h, at: h.at.toISOString() })),
    params: d.params,
    deliveryAttempts: d.attempts.map((a) => ({
      attempt: a.attempt,
      provider: a.provider,
      outcome: a.outcome as AttemptOutcome,
      error: a.error,
      latencyMs: a.latencyMs,
      startedAt: a.startedAt.toISOString(),
    })),
    providerEvents: d.events.map((e) => ({ provider: e.provider, event: e.event, occurredAt: iso(e.occurredAt), receivedAt: e.receivedAt.toISOString() })),
    deadline: { at: d.deadline.at.toISOString(), met: d.deadline.met, marginMs: Math.round(d.deadline.marginMs) },
    suppression: d.suppression ? { address: d.suppression.address, reason: d.suppression.reason, createdAt: d.suppression.createdAt.toISOString() } : null,
    temporalUrl: d.temporalUrl,
  };
}
