import { z } from '@hono/zod-openapi';
import { retryNotification } from '../../../lib/notifications/admission.js';
import { admitAlone } from '../../../lib/notifications/grouped-admission.js';
import { notificationDetail } from '../../../lib/notifications/detail.js';
import { listNotifications } from '../../../lib/notifications/list.js';
import { decodeTimeCursor, encodeTimeCursor } from '../../time-cursor.js';
import { MAX_PUSH_TOKENS } from '../../../lib/notifications/recipients.js';
import {
  correlationIdField,
  recipientOverrideField,
  refineRecipientOverride,
  templateIdField,
  templateParamsField,
  userIdField,
} from '../../../lib/notifications/request-fields.js';
import { notificationStatuses } from '../../../lib/notifications/status.js';
import { tenantOf } from '../../auth/tenant.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { databaseFor } from '../../notifications/connections.js';
import { detailSchema, detailView, notificationSchema, toView } from '../../notifications/view.js';
import { channel, filterFields, priority, toFilters } from '../../notifications/filters.js';
import { byId, createRouter, json, jsonBody, pageLimit, pageResponses, routesTagged } from '../../openapi.js';

const route = routesTagged('Notifications');

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
    userId: userIdField,
    type: channel,
    templateId: templateIdField,
    templateParams: templateParamsField.openapi({ example: { orderId: 'ABC123', itemName: 'Laptop' } }),
    priority: priority.optional(),
    correlationId: correlationIdField.optional(),
    to: recipientOverrideField.optional().openapi({
      description: `Overrides the user's contact point: one email address (EMAIL), one E.164 number (SMS), or 1 to ${MAX_PUSH_TOKENS} device tokens (PUSH)`,
      example: 'jane@example.com',
    }),
  })
  .strict()
  .superRefine(refineRecipientOverride)
  .openapi('NotificationRequest');

const accepted = z
  .object({ id: z.string(), status: z.enum(notificationStatuses), workflowId: z.string(), deadlineAt: z.string().datetime(), duplicate: z.boolean() })
  .openapi('NotificationAccepted');

const cursorSchema = z.string().max(200).optional().openapi({ description: "From the previous page's nextCursor" });
const idParam = z.object({ id: z.string().min(1).max(64) });

export const notificationRoutes = createRouter()
  .openapi(
    route.post('/v1/notifications', 'createNotification', 'send', {
      summary: 'Accept a notification (template + params) for asynchronous delivery',
      description:
        'Answers at once: 202 with the new notification, or 200 with the existing one for a repeated Idempotency-Key. Never sends inside the request.',
      request: { headers: idempotencyKeyHeader, body: jsonBody(createBody) },
      responses: {
        200: { description: 'Duplicate of an earlier request with the same Idempotency-Key', content: json(accepted) },
        202: { description: 'Accepted', content: json(accepted) },
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
    route.get('/v1/notifications', 'listNotifications', 'read', {
      summary: 'List notifications, newest first, with filters and cursor paging',
      request: { query: z.object({ ...filterFields, cursor: cursorSchema, limit: pageLimit(200, 50) }) },
      responses: pageResponses('A page of notifications', notificationSchema),
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listNotifications(
        c.var.deps.db,
        tenantOf(c.var.principal),
        toFilters(q),
        q.limit,
        q.cursor ? decodeTimeCursor(q.cursor, 'id') : undefined,
      );
      return c.json({ data: page.rows.map(toView), nextCursor: page.next ? encodeTimeCursor(page.next.createdAt, page.next.id) : null }, 200);
    },
  )
  .openapi(
    route.get('/v1/notifications/{id}', 'getNotification', 'read', {
      summary: 'A notification with everything that happened to it',
      description:
        'Its status history, each delivery attempt (provider, outcome, error, latency), the provider events (delivered, opened, bounced, complained), the deadline and its margin, the suppression that stopped it, and its run in the Temporal Web UI.',
      ...byId(idParam, 'The notification', detailSchema),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const found = await notificationDetail(c.var.deps, tenantOf(c.var.principal), id);
      if (!found) throw new AppError('not_found', `no notification ${id}`);
      return c.json(detailView(found), 200);
    },
  )
  .openapi(
    route.post('/v1/notifications/{id}/retry', 'retryNotification', 'send', {
      summary: 'Send a dead-lettered (or permanently failed) notification again, as a new workflow run',
      request: { params: idParam },
      responses: {
        202: { description: 'Back to PENDING; a new run started', content: json(accepted) },
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
