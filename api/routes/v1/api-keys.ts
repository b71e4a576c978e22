import { createRoute, z } from '@hono/zod-openapi';
import { defaultScopes, requires, scopeSchema, type Scope } from '../../auth/scopes.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/api-keys.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter } from '../../openapi.js';

const apiKeySchema = z.object({
  id: z.string().openapi({ example: 'key_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
  name: z.string(),
  prefix: z.string().openapi({ description: 'The first characters of the key, to tell keys apart', example: 'mf_Xy3kQ9a' }),
  scopes: z.array(scopeSchema),
  createdAt: z.string().datetime(),
  lastUsedAt: z.string().datetime().nullable(),
  revokedAt: z.string().datetime().nullable(),
}).openapi('ApiKey');

const iso = (d: Date | null) => d?.toISOString() ?? null;
const toJson = (k: { id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null }) =>
  ({ ...k, scopes: k.scopes as Scope[], createdAt: k.createdAt.toISOString(), lastUsedAt: iso(k.lastUsedAt), revokedAt: iso(k.revokedAt) });


export const apiKeyRoutes = createRouter()
  .openapi(createRoute({
    method: 'post', path: '/v1/api-keys', tags: ['API keys'], summary: 'Create an API key (admin only); the key is shown once',
    operationId: 'createApiKey', ...requires('admin'),
    request: { body: { required: true, content: { 'application/json': { schema: z.object({
      name: z.string().trim().min(1).max(100).openapi({ example: 'billing-service' }),
      scopes: z.array(scopeSchema).min(1).max(3).default(defaultScopes).openapi({ description: 'Default: ["read", "send"]', example: ['read', 'send'] }),
    }).strict() } } } },
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: apiKeySchema.extend({ key: z.string() }) } } },
      400: errorResponses[400], 401: errorResponses[401], 403: errorResponses[403],
    },
  }), async (c) => {
    const body = c.req.valid('json');
    const { key, record } = await createApiKey(c.var.deps.db, body.name, body.scopes);
    return c.json({ ...toJson(record), key }, 201);
  })
  .openapi(createRoute({
    method: 'get', path: '/v1/api-keys', tags: ['API keys'], summary: 'List API keys (admin only)', operationId: 'listApiKeys', ...requires('admin'),
    responses: {
      200: { description: 'Keys, newest first', content: { 'application/json': { schema: z.object({ data: z.array(apiKeySchema) }) } } },
      401: errorResponses[401], 403: errorResponses[403],
    },
  }), async (c) => {
    return c.json({ data: (await listApiKeys(c.var.deps.db)).map(toJson) }, 200);
  })
  .openapi(createRoute({
    method: 'delete', path: '/v1/api-keys/{id}', tags: ['API keys'], summary: 'Revoke an API key (admin only)', operationId: 'revokeApiKey', ...requires('admin'),
    request: { params: z.object({ id: z.string().min(1).max(64) }) },
    responses: { 204: { description: 'Revoked' }, 401: errorResponses[401], 403: errorResponses[403], 404: errorResponses[404] },
  }), async (c) => {
    const { id } = c.req.valid('param');
    if (!(await revokeApiKey(c.var.deps.db, id))) throw new AppError('not_found', `no active API key ${id}`);
    return c.body(null, 204);
  });
