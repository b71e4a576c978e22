import { createRoute, z } from '@hono/zod-openapi';
import { requires } from '../../auth/scopes.js';
import { retryNotification } from '../../../lib/notifications/admission.js';
import { admitAlone } from '../../../lib/notifications/grouped-admission.js';
import { notificationDetail } from '../../../lib/notifications/detail.js';
import { listNotifications, parseCursorTime, type NotificationCursor } from '../../../lib/notifications/list.js';
import { checkRecipientOverride, MAX_PUSH_TOKENS } from '../../../lib/notifications/recipients.js';
import { notificationStatuses } from '../../../lib/notifications/status.js';
import { tenantOf } from '../../auth/tenant.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { databaseFor } from '../../notifications/connections.js';
import { detailSchema, detailView, notificationSchema, toView } from '../../notifications/view.js';
import { channel, filterFields, priority, toFilters } from '../../notifications/filters.js';
import { createRouter } from '../../openapi.js';

/** An idempotency key: the Idempotency-Key header, or a batch item's `idempotencyKey`. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const idempotencyKeyHeader = z.object({
  'idempotency-key': idempotencyKey
    .optional()
    .openapi({ description: 'Same key + same body within 24 h returns the same notification (200); a different body is refused (422).' }),
});

export const createBody = z
  .object({
    userId: z
      .string()
      .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'letters, digits and _ . : @ - (at most 128)')
      .openapi({ example: 'user-42' }),
    type: channel,
    templateId: z.string().min(1).max(64).openapi({ example: 'ORDER_SHIPPED_CONFIRMATION' }),
    templateParams: z
      .record(z.string(), z.union([z.string().max(10_000), z.number(), z.boolean()]))
      .default({})
      .openapi({ example: { orderId: 'ABC123', itemName: 'Laptop' } }),
    priority: priority.optional(),
    correlationId: z.string().min(1).max(128).optional(),
    to: z
      .union([z.string().min(1).max(4096), z.array(z.string().min(1).max(4096)).min(1).max(MAX_PUSH_TOKENS)])
      .optional()
      .openapi({
        description: `Overrides the user's contact point: one email address (EMAIL), one E.164 number (SMS), or 1 to ${MAX_PUSH_TOKENS} device tokens (PUSH)`,
        example: 'jane@example.com',
      }),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.to === undefined) return;
    for (const issue of checkRecipientOverride(body.type, body.to)) ctx.addIssue({ code: 'custom', path: ['to', ...issue.path], message: issue.message });
  })
  .openapi('NotificationRequest');

const accepted = z
  .object({ id: z.string(), status: z.enum(notificationStatuses), workflowId: z.string(), deadlineAt: z.string().datetime(), duplicate: z.boolean() })
  .openapi('NotificationAccepted');

const cursorSchema = z.string().max(200).optional().openapi({ description: "From the previous page's nextCursor" });
function encodeCursor(n: NotificationCursor): string {
  return Buffer.from(`${n.createdAt}|${n.id}`).toString('base64url');
}
function decodeCursor(cursor: string): NotificationCursor {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = parseCursorTime(at ?? '');
  if (!id || !createdAt) throw new AppError('validation', 'invalid cursor', { errors: [{ path: 'cursor', message: 'not a cursor this API issued' }] });
  return { createdAt, id };
}

export const notificationRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/notifications',
      tags: ['Notifications'],
      operationId: 'createNotification',
      ...requires('send'),
      summary: 'Accept a notification (template + params) for asynchronous delivery',
      description:
        'Answers at once: 202 with the new notification, or 200 with the existing one for a repeated Idempotency-Key. Never sends inside the request.',
      request: { headers: idempotencyKeyHeader, body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: {
        200: { description: 'Duplicate of an earlier request with the same Idempotency-Key', content: { 'application/json': { schema: accepted } } },
        202: { description: 'Accepted', content: { 'application/json': { schema: accepted } } },
        400: errorResponses[400],
        401: errorResponses[401],
        422: errorResponses[422],
        429: errorResponses[429],
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const idempotencyKey = c.req.valid('header')['idempotency-key'];
      const { deps } = c.var;
      const prio = body.priority ?? 'medium';
      const scope = tenantOf(c.var.principal);
      const item = { idempotencyKey, body };
      // CRITICAL alone on its own pool; the rest in groups, one transaction per group under a burst.
      const admitted =
        prio === 'critical' ? await admitAlone({ ...deps, db: databaseFor(deps, prio) }, scope, item) : await deps.groupedAdmission.admit(deps, scope, item);
      const duplicate = admitted.outcome === 'duplicate';
      c.var.logger.info(
        { notificationId: admitted.id, workflowId: admitted.workflowId, correlationId: body.correlationId, duplicate },
        'notification received',
      );
      return c.json(
        { id: admitted.id, status: admitted.status, workflowId: admitted.workflowId, deadlineAt: admitted.deadlineAt.toISOString(), duplicate },
        duplicate ? 200 : 202,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/notifications',
      tags: ['Notifications'],
      operationId: 'listNotifications',
      ...requires('read'),
      summary: 'List notifications, newest first, with filters and cursor paging',
      request: {
        query: z.object({
          ...filterFields,
          cursor: cursorSchema,
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: {
        200: {
          description: 'A page of notifications',
          content: { 'application/json': { schema: z.object({ data: z.array(notificationSchema), nextCursor: z.string().nullable() }) } },
        },
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listNotifications(c.var.deps.db, tenantOf(c.var.principal), toFilters(q), q.limit, q.cursor ? decodeCursor(q.cursor) : undefined);
      return c.json({ data: page.rows.map(toView), nextCursor: page.next ? encodeCursor(page.next) : null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/notifications/{id}',
      tags: ['Notifications'],
      operationId: 'getNotification',
      ...requires('read'),
      summary: 'A notification with everything that happened to it',
      description:
        'Its status history, each delivery attempt (provider, outcome, error, latency), the provider events (delivered, opened, bounced, complained), the deadline and its margin, the suppression that stopped it, and its run in the Temporal Web UI.',
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: {
        200: { description: 'The notification', content: { 'application/json': { schema: detailSchema } } },
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const found = await notificationDetail(c.var.deps, tenantOf(c.var.principal), id);
      if (!found) throw new AppError('not_found', `no notification ${id}`);
      return c.json(detailView(found), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/notifications/{id}/retry',
      tags: ['Notifications'],
      operationId: 'retryNotification',
      ...requires('send'),
      summary: 'Send a dead-lettered (or permanently failed) notification again, as a new workflow run',
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: {
        202: { description: 'Back to PENDING; a new run started', content: { 'application/json': { schema: accepted } } },
        401: errorResponses[401],
        404: errorResponses[404],
        409: errorResponse(409, 'Not dead-lettered or failed'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { deps } = c.var;
      const row = await retryNotification(deps.db, deps.temporal, deps.config, tenantOf(c.var.principal), id);
      c.var.logger.info({ notificationId: id, workflowId: row.workflowId, correlationId: row.correlationId }, 'notification retry requested');
      return c.json({ id: row.id, status: row.status, workflowId: row.workflowId, deadlineAt: row.deadlineAt.toISOString(), duplicate: false }, 202);
    },
  );
