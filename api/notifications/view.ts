// How a notification reads over the API: the seed-003 fields plus the timeline and history.
import { z } from '@hono/zod-openapi';
import type { NotificationRow } from '../../lib/notifications/admission.js';
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
