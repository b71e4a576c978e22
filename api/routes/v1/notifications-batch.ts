// POST /v1/notifications/batch: up to 1,000 template-form notifications in one call, each with the single
// request's checks and its own answer (lib/notifications/batch.ts). Only the envelope is validated as a
// whole; each item is validated on its own, so one bad item is refused in its result, not the call.
import { z } from '@hono/zod-openapi';
import { tenantOf } from '../../auth/tenant.js';
import { errorResponses } from '../../errors.js';
import { createRouter, json, jsonBody, routesTagged } from '../../openapi.js';
import {
  admitBatch,
  MAX_BATCH_ITEMS,
  prepareTemplateItems,
  refusedAsValidation,
  type BatchItemResult,
  type BatchRefusal,
  type FieldIssue,
  type TemplateNotificationItem,
} from '../../../lib/notifications/batch.js';
import { countRateLimited } from '../../../lib/notifications/metrics.js';
import { notificationStatuses } from '../../../lib/notifications/status.js';
import { createBody, idempotencyKey } from './notifications.js';

const route = routesTagged('Notifications');

const batchBody = z
  .object({
    items: z
      .array(
        z.record(z.string(), z.unknown()).openapi({
          description:
            'A NotificationRequest (the body of POST /v1/notifications) with an optional `idempotencyKey` (as the Idempotency-Key header). ' +
            'Each item is validated on its own: one that does not match is refused in its result, not the batch.',
          example: {
            idempotencyKey: 'order-ABC123-shipped',
            userId: 'user-42',
            type: 'SMS',
            templateId: 'ORDER_SHIPPED_SMS',
            templateParams: { orderId: 'ABC123', trackingUrl: 'https://t.example/ABC123' },
          },
        }),
      )
      .min(1)
      .max(MAX_BATCH_ITEMS),
  })
  .strict()
  .openapi('NotificationBatchRequest');

const admitted = {
  index: z.number().int(),
  id: z.string(),
  status: z.enum(notificationStatuses),
  workflowId: z.string(),
  deadlineAt: z.string().datetime(),
};
const batchResult = z
  .discriminatedUnion('outcome', [
    z.object({ outcome: z.literal('accepted'), ...admitted }),
    z.object({
      outcome: z.literal('duplicate'),
      ...admitted,
      duplicateOf: z.number().int().optional().openapi({ description: 'The earlier item of this batch it repeats; absent for an earlier request' }),
    }),
    z.object({
      outcome: z.literal('refused'),
      index: z.number().int(),
      reason: z.enum(['validation', 'unknown_template', 'unknown_user', 'no_contact', 'rate_limited', 'idempotency_conflict']),
      detail: z.string(),
      errors: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .openapi({ description: 'validation: each issue, its path inside the item' }),
      retryAfterSeconds: z.number().int().optional().openapi({ description: 'rate_limited: when one more fits' }),
      limit: z.object({ description: z.string(), limit: z.number().int(), windowSeconds: z.number().int() }).optional(),
      notificationId: z.string().optional().openapi({ description: 'idempotency_conflict: the notification the key already names' }),
    }),
  ])
  .openapi('NotificationBatchResult');

const batchAnswer = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    refused: z.number().int(),
    results: z.array(batchResult).openapi({ description: 'One per item, in the order of the items' }),
  })
  .openapi('NotificationBatchAnswer');

const issuesOf = (issues: readonly { path: readonly PropertyKey[]; message: string }[], prefix: string[] = []): FieldIssue[] =>
  issues.map((i) => ({ path: [...prefix, ...i.path.map(String)].join('.') || '(root)', message: i.message }));

/** One item, checked exactly as the single request's body and header are. */
function parseItem(raw: Record<string, unknown>): TemplateNotificationItem | BatchRefusal {
  const { idempotencyKey: key, ...body } = raw;
  const parsedKey = key === undefined ? undefined : idempotencyKey.safeParse(key);
  const parsedBody = createBody.safeParse(body);
  const issues = [...(parsedKey?.success === false ? issuesOf(parsedKey.error.issues, ['idempotencyKey']) : [])];
  if (!parsedBody.success) issues.push(...issuesOf(parsedBody.error.issues));
  if (issues.length > 0 || !parsedBody.success) return refusedAsValidation('item', issues);
  return { idempotencyKey: parsedKey?.data, body: parsedBody.data };
}

const view = (r: BatchItemResult) => {
  if ('deadlineAt' in r) return { ...r, deadlineAt: r.deadlineAt.toISOString() };
  if (r.reason !== 'rate_limited') return r;
  const { description, limit, windowSeconds } = r.limit;
  return { ...r, limit: { description, limit, windowSeconds } };
};

export const notificationBatchRoutes = createRouter().openapi(
  route.post('/v1/notifications/batch', 'createNotificationBatch', 'send', {
    summary: `Accept up to ${MAX_BATCH_ITEMS} notifications (template + params) in one call, each answered on its own`,
    description:
      'Each item is validated, rate-limited and made idempotent (its `idempotencyKey`) as POST /v1/notifications would, and gets its own result, ' +
      'in order: accepted, a duplicate of an earlier item or request, or refused with its reason. One refused item never refuses the others. ' +
      'The batch is stored in one transaction; workflows start after it commits, critical first.',
    request: { body: jsonBody(batchBody) },
    responses: {
      200: { description: 'Every item answered (some may be refused)', content: json(batchAnswer) },
      400: errorResponses[400],
      401: errorResponses[401],
    },
  }),
  async (c) => {
    const { items } = c.req.valid('json');
    const { deps } = c.var;
    const candidates = await prepareTemplateItems(deps.db, items.map(parseItem));
    const results = await admitBatch(deps, tenantOf(c.var.principal), candidates);
    for (const r of results) if (r.outcome === 'refused' && r.reason === 'rate_limited') countRateLimited(r.limit);
    const count = (outcome: BatchItemResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
    const answer = { accepted: count('accepted'), duplicates: count('duplicate'), refused: count('refused'), results: results.map(view) };
    c.var.logger.info(
      { items: items.length, accepted: answer.accepted, duplicates: answer.duplicates, refused: answer.refused },
      'notification batch received',
    );
    return c.json(answer, 200);
  },
);
