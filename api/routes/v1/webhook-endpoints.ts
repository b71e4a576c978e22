// Webhook endpoints: where a tenant's events are POSTed, signed (Standard Webhooks), in order per mailbox,
// at least once. Thin: the checks and the writes are lib/webhooks/service.ts's.
import { z } from '@hono/zod-openapi';
import { listDeliveries } from '../../../lib/webhooks/deliveries.js';
import { listEndpoints } from '../../../lib/webhooks/endpoints.js';
import { changeEndpoint, ownedEndpoint, registerEndpoint, removeEndpoint, replay, rotateEndpointSecret, sendTestEvent } from '../../../lib/webhooks/service.js';
import { tenantOf } from '../../auth/tenant.js';
import { errorResponses } from '../../errors.js';
import { byId, createRouter, json, jsonBody, pageLimit, pageResponses, routesTagged } from '../../openapi.js';
import { deliverySchema, deliveryView, endpointFields, endpointSchema, endpointView, endpointWithSecretSchema } from '../../webhooks/view.js';

const route = routesTagged('Webhooks');

const endpointParams = z.object({ id: z.string().min(1).max(64).openapi({ example: 'whe_01jd9z8x5m3q7c2v4b6n8k0p1r' }) });
const deliveryParams = endpointParams.extend({
  deliveryId: z
    .string()
    .regex(/^\d{1,18}$/, 'a delivery number')
    .openapi({ example: '4711' }),
});
const cursor = z
  .string()
  .regex(/^[\w-]{1,64}$/, "the previous page's nextCursor")
  .optional();
const queuedSchema = z.object({ queued: z.number().int().openapi({ description: 'Deliveries queued' }) });

export const webhookEndpointRoutes = createRouter()
  .openapi(
    route.post('/v1/webhook-endpoints', 'createWebhookEndpoint', 'send', {
      summary:
        'Register an endpoint (its signing secret is shown once): the events it subscribes to, recorded from now on, are POSTed to it signed (Standard Webhooks), in order per mailbox, at least once (deduplicate by `webhook-id`)',
      request: { body: jsonBody(z.object(endpointFields).strict()) },
      responses: { 201: { description: 'Registered', content: json(endpointWithSecretSchema) }, 422: errorResponses[422] },
    }),
    async (c) => {
      const { endpoint, secret } = await registerEndpoint(c.var.deps, tenantOf(c.var.principal), c.req.valid('json'));
      c.var.logger.info({ endpointId: endpoint.id }, 'webhook endpoint registered');
      return c.json({ ...endpointView(endpoint), secret }, 201);
    },
  )
  .openapi(
    route.get('/v1/webhook-endpoints', 'listWebhookEndpoints', 'read', {
      summary: "The tenant's endpoints, newest first",
      request: { query: z.object({ limit: pageLimit(100, 50), cursor }) },
      responses: pageResponses('A page of endpoints', endpointSchema),
    }),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await listEndpoints(c.var.deps.db, tenantOf(c.var.principal), q.limit + 1, q.cursor);
      const page = rows.slice(0, q.limit);
      return c.json({ data: page.map(endpointView), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null }, 200);
    },
  )
  .openapi(
    route.get('/v1/webhook-endpoints/{id}', 'getWebhookEndpoint', 'read', { summary: 'One endpoint', ...byId(endpointParams, 'The endpoint', endpointSchema) }),
    async (c) => c.json(endpointView(await ownedEndpoint(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('param').id)), 200),
  )
  .openapi(
    route.patch('/v1/webhook-endpoints/{id}', 'updateWebhookEndpoint', 'send', {
      summary: 'Change an endpoint (URL, event types, filter), or disable or enable it',
      request: { params: endpointParams, body: jsonBody(z.object(endpointFields).partial().strict()) },
      responses: { 200: { description: 'Changed', content: json(endpointSchema) }, 404: errorResponses[404], 422: errorResponses[422] },
    }),
    async (c) => {
      const endpoint = await changeEndpoint(c.var.deps, tenantOf(c.var.principal), c.req.valid('param').id, c.req.valid('json'));
      return c.json(endpointView(endpoint), 200);
    },
  )
  .openapi(
    route.delete('/v1/webhook-endpoints/{id}', 'deleteWebhookEndpoint', 'send', {
      summary: 'Delete an endpoint and its deliveries (none is sent after this)',
      request: { params: endpointParams },
      responses: { 204: { description: 'Deleted' }, 404: errorResponses[404] },
    }),
    async (c) => {
      await removeEndpoint(c.var.deps, tenantOf(c.var.principal), c.req.valid('param').id);
      return c.body(null, 204);
    },
  )
  .openapi(
    route.post('/v1/webhook-endpoints/{id}/secret/rotate', 'rotateWebhookEndpointSecret', 'send', {
      summary: 'A new signing secret, shown once; the old one signs beside it for the overlap',
      request: {
        params: endpointParams,
        body: jsonBody(
          z
            .object({
              overlapSeconds: z
                .number()
                .int()
                .min(0)
                .max(7 * 86_400)
                .default(86_400)
                .openapi({ description: 'How long the previous secret keeps signing too (default a day; 0: not at all)' }),
            })
            .strict(),
        ),
      },
      responses: { 200: { description: 'Rotated', content: json(endpointWithSecretSchema) }, 404: errorResponses[404] },
    }),
    async (c) => {
      const { overlapSeconds } = c.req.valid('json');
      const { endpoint, secret } = await rotateEndpointSecret(c.var.deps, tenantOf(c.var.principal), c.req.valid('param').id, overlapSeconds);
      c.var.logger.info({ endpointId: endpoint.id, overlapSeconds }, 'webhook secret rotated');
      return c.json({ ...endpointView(endpoint), secret }, 200);
    },
  )
  .openapi(
    route.get('/v1/webhook-endpoints/{id}/deliveries', 'listWebhookDeliveries', 'read', {
      summary: "The endpoint's deliveries, newest first: event, attempts, last answer and time, next retry",
      request: {
        params: endpointParams,
        query: z.object({ limit: pageLimit(200, 50), cursor, status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']).optional() }),
      },
      responses: { ...pageResponses('A page of deliveries', deliverySchema), 404: errorResponses[404] },
    }),
    async (c) => {
      const owner = tenantOf(c.var.principal);
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      await ownedEndpoint(c.var.deps.db, owner, id);
      const beforeId = q.cursor && /^\d+$/.test(q.cursor) ? Number(q.cursor) : undefined;
      const rows = await listDeliveries(c.var.deps.db, owner, id, { limit: q.limit + 1, beforeId, status: q.status });
      const page = rows.slice(0, q.limit);
      return c.json({ data: page.map(deliveryView), nextCursor: rows.length > q.limit ? String(page.at(-1)!.id) : null }, 200);
    },
  )
  .openapi(
    route.post('/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/replay', 'replayWebhookDelivery', 'send', {
      summary: 'Send a delivered (or given-up) event again, with its webhook-id, at the end of its lane',
      request: { params: deliveryParams },
      responses: { 202: { description: 'Queued', content: json(queuedSchema) }, 404: errorResponses[404] },
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid('param');
      const queued = await replay(c.var.deps, tenantOf(c.var.principal), id, { deliveryId: Number(deliveryId) });
      return c.json({ queued }, 202);
    },
  )
  .openapi(
    route.post('/v1/webhook-endpoints/{id}/replay', 'replayWebhookDeliveries', 'send', {
      summary: 'Send again every event the endpoint was given since a time (at most 10,000), in order',
      request: {
        params: endpointParams,
        body: jsonBody(z.object({ since: z.string().datetime({ offset: true }).openapi({ example: '2026-12-07T09:00:00Z' }) }).strict()),
      },
      responses: { 202: { description: 'Queued', content: json(queuedSchema) }, 404: errorResponses[404] },
    }),
    async (c) => {
      const queued = await replay(c.var.deps, tenantOf(c.var.principal), c.req.valid('param').id, { since: new Date(c.req.valid('json').since) });
      return c.json({ queued }, 202);
    },
  )
  .openapi(
    route.post('/v1/webhook-endpoints/{id}/test', 'sendWebhookTestEvent', 'send', {
      summary: 'Send a `webhook.test` event to the endpoint now',
      request: { params: endpointParams },
      responses: { 202: { description: 'Queued', content: json(deliverySchema) }, 404: errorResponses[404] },
    }),
    async (c) => c.json(deliveryView(await sendTestEvent(c.var.deps, tenantOf(c.var.principal), c.req.valid('param').id)), 202),
  );
