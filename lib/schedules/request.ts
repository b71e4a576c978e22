// What a schedule sends: a notification request as POST /v1/notifications takes it, or an email as
// POST /v1/emails takes it (no attachments). Both resolve, at creation (to validate) and at every firing
// (to send what the template and directory say then), into the one admission request.
import { z } from '@hono/zod-openapi';
import type { Database } from '../../db/client.js';
import type { Encryptor } from '../crypto.js';
import { templateAdmission, type AdmissionRequest } from '../notifications/admission.js';
import { emailAdmission } from '../notifications/email-admission.js';
import { parsePriority } from '../notifications/policy.js';
import { resolveContact } from '../notifications/recipients.js';
import * as fields from '../notifications/request-fields.js';
import { getLatestTemplate, renderTemplate, TemplateChannelError } from '../notifications/templates.js';

const priority = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return 'medium';
    const parsed = parsePriority(value);
    if (!parsed) ctx.addIssue({ code: 'custom', message: 'expected HIGH | MEDIUM | LOW (or critical | medium | low)' });
    return parsed ?? 'medium';
  })
  .openapi({ type: 'string', example: 'MEDIUM' });

export const scheduledNotificationSchema = z
  .object({
    userId: fields.userIdField,
    type: z.enum(['EMAIL', 'SMS', 'PUSH']),
    templateId: fields.templateIdField,
    templateParams: fields.templateParamsField,
    priority,
    correlationId: fields.correlationIdField.optional(),
    to: fields.recipientOverrideField.optional(),
  })
  .strict()
  .superRefine(fields.refineRecipientOverride)
  .openapi('ScheduledNotification', { description: 'As POST /v1/notifications takes it' });

export const scheduledEmailSchema = z
  .object({
    sender: z.string().trim().email().max(320),
    receiver: z.string().trim().email().max(320),
    subject: z.string().trim().min(1).max(998),
    content: z.string().min(1).max(1_000_000),
    format: z.enum(['text', 'html']).default('text'),
    priority,
    correlationId: z.string().min(1).max(128).optional(),
  })
  .strict()
  .openapi('ScheduledEmail', { description: 'As POST /v1/emails takes it, without attachments' });

export type ScheduledRequest =
  { kind: 'notification'; notification: z.infer<typeof scheduledNotificationSchema> } | { kind: 'email'; email: z.infer<typeof scheduledEmailSchema> };

/** The admission request a firing makes (scope and idempotency key are the firing's). Throws the admission errors. */
export async function resolveRequest(db: Database, request: ScheduledRequest): Promise<Omit<AdmissionRequest, 'scope' | 'idempotencyKey' | 'fingerprint'>> {
  if (request.kind === 'email') return emailAdmission(request.email);
  const n = request.notification;
  const template = await getLatestTemplate(db, n.templateId);
  if (template.channel !== n.type) throw new TemplateChannelError(template.id, template.channel, n.type);
  const rendered = renderTemplate(template, n.templateParams);
  const recipients = n.to === undefined ? await resolveContact(db, n.userId, n.type) : [n.to].flat();
  const { fingerprint: _fingerprint, ...admission } = templateAdmission(n, template, rendered, recipients, n.priority);
  return admission;
}

// The request holds message content: sealed at rest, bound to its schedule.
const aad = (scheduleId: string) => `schedule-request:${scheduleId}`;
export function sealRequest(encryptor: Encryptor, scheduleId: string, request: ScheduledRequest): string {
  return encryptor.encrypt(JSON.stringify(request), aad(scheduleId));
}
export function openRequest(encryptor: Encryptor, scheduleId: string, sealed: string): ScheduledRequest {
  return JSON.parse(encryptor.decrypt(sealed, aad(scheduleId))) as ScheduledRequest;
}
