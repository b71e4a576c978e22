import { z } from '@hono/zod-openapi';
import { admitMailing } from '../../../lib/mailings/admission.js';
import { controlMailing, getMailing, listMailings, listRecipients, verifyToken, type MailingControl } from '../../../lib/mailings/service.js';
import { idempotencyKeyHeader } from './notifications.js';
import { AppError, errorResponse, errorResponses, validationError } from '../../errors.js';
import { streamUpload } from '../../multipart-upload.js';
import { mailingSchema } from '../../mailings/view.js';
import { byId, createRouter, documentStreamedBody, json, jsonBody, pageLimit, routesTagged } from '../../openapi.js';
import { tenantOf } from '../../auth/tenant.js';

const route = routesTagged('Mailings');

// UNKNOWN: the mailing was cancelled after a request whose answer never came (it may have been delivered).
const recipientStatuses = ['QUEUED', 'SENDING', 'SENT', 'FAILED', 'INVALID', 'DUPLICATE', 'CANCELLED', 'UNKNOWN'] as const;
const createdSchema = z.object({ id: z.string(), status: z.string(), workflowId: z.string(), duplicate: z.boolean() });
const idParam = z.object({ id: z.string().regex(/^mlg_[0-9a-z]{26}$/, 'a mailing id (mlg_…)') });

const optionsSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  hasHeader: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  emailColumn: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .transform((v) => (v === undefined ? null : /^\d+$/.test(v) ? Number(v) : v)),
  delimiter: z.enum([',', ';']).optional(),
});

const signalRoute = (name: MailingControl, summary: string) =>
  route.post(`/v1/mailings/{id}/${name}`, `${name}Mailing`, 'send', {
    summary,
    description: `Signals the mailing's workflow; the same as \`temporal workflow signal --workflow-id mailing-<id> --name ${name}\`.`,
    request: { params: idParam },
    responses: {
      202: { description: 'Signalled', content: json(z.object({ id: z.string(), signal: z.string() })) },
      404: errorResponses[404],
      409: errorResponse(409, 'The mailing has finished'),
    },
  });

const createMailingRoute = route.post('/v1/mailings', 'createMailing', 'send', {
  summary: 'Upload a CSV mailing list (multipart, field "file"); every valid address gets one mail with its own token',
  description:
    'Fields: file (required), name, hasHeader (true|false, default true), emailColumn (header name or 0-based index; default a header named "email"), delimiter (, or ; — detected when absent). The file is streamed to storage; parsing happens in the workflow. ' +
    'With an Idempotency-Key, a repeated upload (same key, same file and fields, within IDEMPOTENCY_TTL_HOURS) answers 200 with the mailing the first one made, concurrent ones included; the same key with a different upload answers 422. ' +
    'The mailing is stored and its workflow started in one unit: a failed start stores nothing.',
  request: { headers: idempotencyKeyHeader },
  responses: {
    200: { description: 'Duplicate of an earlier upload with the same Idempotency-Key', content: json(createdSchema) },
    202: { description: 'Accepted', content: json(createdSchema) },
    413: errorResponse(413, 'The file is too large'),
    415: errorResponse(415, 'Not multipart'),
    422: errorResponse(422, 'The Idempotency-Key was used with a different upload'),
    503: errorResponse(503, 'The workflow could not be started; nothing was stored'),
  },
});

/** The multipart form, for the document (the handler streams the file and checks the fields: see `optionsSchema`). */
const mailingForm = z
  .object({
    file: z.string().openapi({ type: 'string', format: 'binary', description: 'The CSV list' }),
    name: z.string().min(1).max(200).optional(),
    hasHeader: z.enum(['true', 'false']).optional(),
    emailColumn: z.string().min(1).max(100).optional().openapi({ description: 'Header name or 0-based index' }),
    delimiter: z.enum([',', ';']).optional(),
  })
  .openapi('MailingForm');

export const mailingRoutes = createRouter()
  .openapi(createMailingRoute, async (c) => {
    const { deps } = c.var;
    const upload = await streamUpload(c.req.raw, deps.blobs, { fileField: 'file', maxBytes: deps.config.MAILING_MAX_CSV_BYTES, kind: 'mailing-csv' });
    const parsed = optionsSchema.safeParse(upload.fields);
    if (!parsed.success || !upload.file) {
      if (upload.file) await deps.blobs.delete(upload.file.id);
      if (!upload.file) throw new AppError('validation', 'a CSV file is required in the "file" field', { errors: [{ path: 'file', message: 'required' }] });
      throw validationError(parsed.error!.issues, 'form');
    }
    const o = parsed.data;
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const file = upload.file;
    const { mailing, created } = await admitMailing(deps.db, deps.temporal, deps.config, {
      scope: tenantOf(c.var.principal),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      file,
      name: o.name ?? null,
      options: { hasHeader: o.hasHeader, emailColumn: o.emailColumn, delimiter: o.delimiter ?? null },
    }).catch(async (error: unknown) => {
      await deps.blobs.delete(file.id).catch(() => undefined);
      throw error;
    });
    if (!created) await deps.blobs.delete(file.id); // the first upload's file is the mailing's
    c.var.logger.info({ mailingId: mailing.id, workflowId: mailing.workflowId, bytes: file.size, duplicate: !created }, 'mailing received');
    return c.json({ id: mailing.id, status: mailing.status, workflowId: mailing.workflowId, duplicate: !created }, created ? 202 : 200);
  })
  .openapi(
    route.get('/v1/mailings', 'listMailings', 'read', {
      summary: 'Mailings, newest first',
      request: { query: z.object({ limit: pageLimit(100, 20) }) },
      responses: {
        200: { description: 'Mailings', content: json(z.object({ data: z.array(mailingSchema) })) },
      },
    }),
    async (c) => c.json({ data: await listMailings(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('query').limit) }, 200),
  )
  .openapi(
    route.get('/v1/mailings/{id}', 'getMailing', 'read', {
      summary: 'A mailing: status, counts, send rate, ETA, recent failures',
      ...byId(idParam, 'The mailing', mailingSchema),
    }),
    async (c) => c.json(await getMailing(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('param').id), 200),
  )
  .openapi(
    route.get('/v1/mailings/{id}/recipients', 'listMailingRecipients', 'read', {
      summary: "A mailing's rows by status, in row order, with cursor paging (tokens are never shown)",
      request: {
        params: idParam,
        query: z.object({
          status: z.enum(recipientStatuses).optional(),
          cursor: z.coerce.number().int().min(0).max(2_147_483_647).optional(),
          limit: pageLimit(500, 100),
        }),
      },
      responses: {
        200: {
          description: 'Rows',
          content: {
            'application/json': {
              schema: z.object({
                data: z.array(
                  z.object({
                    row: z.number().int(),
                    email: z.string(),
                    status: z.enum(recipientStatuses),
                    reason: z.string().nullable(),
                    attempts: z.number().int(),
                    providerMessageId: z.string().nullable(),
                    sentAt: z.string().datetime().nullable(),
                    verifiedAt: z.string().datetime().nullable(),
                  }),
                ),
                nextCursor: z.number().int().nullable(),
              }),
            },
          },
        },
        404: errorResponses[404],
      },
    }),
    async (c) => c.json(await listRecipients(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('param').id, c.req.valid('query')), 200),
  )
  .openapi(signalRoute('pause', 'Pause a mailing: no new send starts until it is resumed'), async (c) => {
    const { id } = c.req.valid('param');
    await controlMailing(c.var.deps.db, c.var.deps.temporal, tenantOf(c.var.principal), id, 'pause');
    return c.json({ id, signal: 'pause' }, 202);
  })
  .openapi(signalRoute('resume', 'Resume a paused mailing'), async (c) => {
    const { id } = c.req.valid('param');
    await controlMailing(c.var.deps.db, c.var.deps.temporal, tenantOf(c.var.principal), id, 'resume');
    return c.json({ id, signal: 'resume' }, 202);
  })
  .openapi(signalRoute('cancel', 'Cancel a mailing: unsent recipients become CANCELLED'), async (c) => {
    const { id } = c.req.valid('param');
    await controlMailing(c.var.deps.db, c.var.deps.temporal, tenantOf(c.var.principal), id, 'cancel');
    return c.json({ id, signal: 'cancel' }, 202);
  })
  .openapi(
    route.post('/v1/verify', 'verifyToken', 'public', {
      summary: 'A recipient verifies the token from their mail (public)',
      request: { body: jsonBody(z.object({ token: z.string().min(16).max(128) })) },
      responses: {
        200: {
          description: 'Verified',
          content: json(z.object({ verified: z.literal(true), mailingId: z.string(), email: z.string(), verifiedAt: z.string().datetime() })),
        },
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const verified = await verifyToken(c.var.deps.db, c.req.valid('json').token);
      if (!verified) throw new AppError('not_found', 'unknown token');
      return c.json({ verified: true as const, mailingId: verified.mailingId, email: verified.email, verifiedAt: verified.verifiedAt.toISOString() }, 200);
    },
  );
documentStreamedBody(createMailingRoute, { required: true, content: { 'multipart/form-data': { schema: mailingForm } } });
