import { z } from '@hono/zod-openapi';
import { defaultScopes, scopeSchema, type Scope } from '../../auth/scopes.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../auth/api-keys.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter, json, jsonBody, routesTagged } from '../../openapi.js';

const route = routesTagged('API keys');

export const apiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    tenantId: z
      .string()
      .openapi({ description: 'The tenant whose credential the key is: it reaches everything the tenant owns', example: 'ten_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The first characters of the key, to tell keys apart', example: 'mf_Xy3kQ9a' }),
    scopes: z.array(scopeSchema),
    createdAt: z.string().datetime(),
    lastUsedAt: z.string().datetime().nullable(),
    revokedAt: z.string().datetime().nullable(),
  })
  .openapi('ApiKey');

export const apiKeyCreatedSchema = apiKeySchema
  .extend({ key: z.string().openapi({ description: 'The key itself: shown this once, never again' }) })
  .openapi('ApiKeyCreated');

export const keyFields = {
  name: z.string().trim().min(1).max(100).openapi({ example: 'billing-service' }),
  scopes: z
    .array(scopeSchema)
    .min(1)
    .max(3)
    .default(defaultScopes)
    .openapi({ description: 'Default: ["read", "send"]', example: ['read', 'send'] }),
};

const iso = (d: Date | null) => d?.toISOString() ?? null;
export const apiKeyJson = (k: {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}) => ({
  ...k,
  scopes: k.scopes as Scope[],
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  revokedAt: iso(k.revokedAt),
});

export const apiKeyRoutes = createRouter()
  .openapi(
    route.post('/v1/api-keys', 'createApiKey', 'admin', {
      summary: 'Create an API key (admin only); the key is shown once',
      description:
        'With `tenantId`, a further key of that tenant (it reaches everything the tenant owns). Without it, a key of a new tenant of its own, named after the key.',
      request: {
        body: jsonBody(
          z
            .object({
              ...keyFields,
              tenantId: z
                .string()
                .min(1)
                .max(64)
                .optional()
                .openapi({ description: 'The tenant the key is for (default: a new tenant)', example: 'ten_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
            })
            .strict(),
        ),
      },
      responses: {
        201: { description: 'Created', content: json(apiKeyCreatedSchema) },
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { key, record } = await createApiKey(c.var.deps.db, body);
      c.var.logger.info({ keyId: record.id, tenantId: record.tenantId }, 'api key created');
      return c.json({ ...apiKeyJson(record), key }, 201);
    },
  )
  .openapi(
    route.get('/v1/api-keys', 'listApiKeys', 'admin', {
      summary: 'List API keys (admin only)',
      responses: {
        200: { description: 'Keys, newest first', content: json(z.object({ data: z.array(apiKeySchema) })) },
      },
    }),
    async (c) => {
      return c.json({ data: (await listApiKeys(c.var.deps.db)).map(apiKeyJson) }, 200);
    },
  )
  .openapi(
    route.delete('/v1/api-keys/{id}', 'revokeApiKey', 'admin', {
      summary: 'Revoke an API key (admin only)',
      description:
        "Ends the key's access within seconds (its open streams close, its pending sign-ins fail) and nothing else: its tenant keeps every resource, reachable with the tenant's other keys.",
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: { 204: { description: 'Revoked' }, 404: errorResponses[404] },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await revokeApiKey(c.var.deps.db, id))) throw new AppError('not_found', `no active API key ${id}`);
      c.var.logger.info({ keyId: id }, 'api key revoked');
      return c.body(null, 204);
    },
  );
