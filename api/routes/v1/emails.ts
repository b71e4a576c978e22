// Seed 001's form: an email with sender, receiver, subject, content, priority and attachments, as
// multipart. Attachments go to the blob store (outside the workflow history), checksummed, then the
// email is admitted like any notification.
import { z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { admitNotification, type StoredAttachment } from '../../../lib/notifications/admission.js';
import { emailAdmission } from '../../../lib/notifications/email-admission.js';
import { notificationMetrics } from '../../../lib/notifications/metrics.js';
import { parsePriority } from '../../../lib/notifications/policy.js';
import { AppError, errorResponse, errorResponses, validationError } from '../../errors.js';
import { databaseFor } from '../../notifications/connections.js';
import { createRouter, documentStreamedBody, json, routesTagged } from '../../openapi.js';
import { tenantOf } from '../../auth/tenant.js';
import { idempotencyKeyHeader } from './notifications.js';

const route = routesTagged('Notifications');

const fields = z.object({
  sender: z.string().trim().email().max(320),
  receiver: z.string().trim().email().max(320),
  subject: z.string().trim().min(1).max(998),
  content: z.string().min(1).max(1_000_000),
  format: z.enum(['text', 'html']).default('text'),
  priority: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return 'medium' as const;
      const parsed = parsePriority(value);
      if (!parsed) ctx.addIssue({ code: 'custom', message: 'expected critical | medium | low (or HIGH | MEDIUM | LOW)' });
      return parsed ?? 'medium';
    }),
  correlationId: z.string().min(1).max(128).optional(),
});

export const emailRoutes = createRouter();

// The whole request may not exceed the attachments' total plus room for the text fields.
emailRoutes.use('/v1/emails', async (c, next) => {
  const { ATTACHMENTS_MAX_TOTAL_BYTES: total } = c.var.deps.config;
  const limit = bodyLimit({
    maxSize: total + 2 * 1024 * 1024,
    onError: () => {
      throw new AppError('payload_too_large', `the request exceeds ${total} bytes of attachments`);
    },
  });
  return limit(c as never, next);
});

const sendEmailRoute = route.post('/v1/emails', 'sendEmail', 'send', {
  summary: 'Accept an email with subject, content and attachments (multipart) for asynchronous delivery',
  description: 'Attachments: each up to ATTACHMENT_MAX_BYTES (10 MB), together up to ATTACHMENTS_MAX_TOTAL_BYTES (25 MB).',
  request: { headers: idempotencyKeyHeader },
  responses: {
    200: {
      description: 'Duplicate of an earlier request with the same Idempotency-Key',
      content: json(z.object({ id: z.string(), status: z.string(), workflowId: z.string(), duplicate: z.boolean() })),
    },
    202: {
      description: 'Accepted',
      content: json(z.object({ id: z.string(), status: z.string(), workflowId: z.string(), duplicate: z.boolean() })),
    },
    413: errorResponse(413, 'Attachments too large'),
    415: errorResponse(415, 'Not multipart/form-data'),
    422: errorResponses[422],
    429: errorResponses[429],
  },
});

/** The multipart form, for the document (the handler parses and checks it: see `fields`). */
const emailForm = z
  .object({
    sender: z.string().email().max(320),
    receiver: z.string().email().max(320),
    subject: z.string().min(1).max(998),
    content: z.string().min(1).max(1_000_000),
    format: z.enum(['text', 'html']).optional(),
    priority: z.enum(['critical', 'medium', 'low', 'HIGH', 'MEDIUM', 'LOW']).optional(),
    correlationId: z.string().min(1).max(128).optional(),
    attachment: z
      .array(z.string().openapi({ type: 'string', format: 'binary' }))
      .optional()
      .openapi({ description: 'Files; repeat the field for several' }),
  })
  .openapi('EmailForm');

emailRoutes.openapi(sendEmailRoute, async (c) => {
  const { deps } = c.var;
  const contentType = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data/i.test(contentType))
    throw new AppError('unsupported_media_type', 'send multipart/form-data (fields sender, receiver, subject, content, priority; files in "attachment")');
  const form = await c.req.parseBody({ all: true });
  const text = Object.fromEntries(
    Object.entries(form)
      .filter(([k]) => k !== 'attachment')
      .map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
  );
  const nonText = Object.entries(text).find(([, v]) => typeof v !== 'string');
  if (nonText) throw new AppError('validation', `field ${nonText[0]} must be text`, { errors: [{ path: nonText[0], message: 'expected text, got a file' }] });
  const parsed = fields.safeParse(text);
  if (!parsed.success) throw validationError(parsed.error.issues, 'form');
  const files = [form.attachment ?? []].flat().filter((f): f is File => typeof f !== 'string');
  const { ATTACHMENT_MAX_BYTES: eachMax, ATTACHMENTS_MAX_TOTAL_BYTES: totalMax } = deps.config;
  const tooBig = files.find((f) => f.size > eachMax);
  if (tooBig) throw new AppError('payload_too_large', `attachment ${tooBig.name} is ${tooBig.size} bytes; the limit is ${eachMax} per file`);
  if (files.reduce((sum, f) => sum + f.size, 0) > totalMax) throw new AppError('payload_too_large', `attachments total more than ${totalMax} bytes`);

  const stored: StoredAttachment[] = [];
  const idempotencyKey = c.req.valid('header')['idempotency-key'];
  try {
    for (const file of files) {
      const blob = await deps.blobs.put(file.stream() as unknown as AsyncIterable<Uint8Array>, {
        kind: 'attachment',
        contentType: file.type || 'application/octet-stream',
        filename: file.name || 'attachment',
        maxBytes: eachMax,
      });
      stored.push({ blobId: blob.id, filename: blob.filename ?? 'attachment', contentType: blob.contentType, size: blob.size, sha256: blob.sha256 });
    }
    const email = parsed.data;
    const { notification, created } = await admitNotification(
      { ...deps, db: databaseFor(deps, email.priority) },
      {
        scope: tenantOf(c.var.principal),
        ...(idempotencyKey ? { idempotencyKey } : {}),
        fingerprint: { ...email, attachments: stored.map((a) => ({ filename: a.filename, sha256: a.sha256 })) },
        ...emailAdmission(email),
        attachments: stored,
      },
    );
    if (!created) await Promise.all(stored.map((a) => deps.blobs.delete(a.blobId)));
    else notificationMetrics.accepted.inc({ channel: 'EMAIL', priority: email.priority });
    c.var.logger.info(
      { notificationId: notification.id, workflowId: notification.workflowId, attachments: stored.length, duplicate: !created },
      'email received',
    );
    return c.json({ id: notification.id, status: notification.status, workflowId: notification.workflowId, duplicate: !created }, created ? 202 : 200);
  } catch (error) {
    await Promise.all(stored.map((a) => deps.blobs.delete(a.blobId).catch(() => undefined)));
    throw error;
  }
});
documentStreamedBody(sendEmailRoute, { required: true, content: { 'multipart/form-data': { schema: emailForm } } });
