// Tenants (admin only): who owns resources. A tenant's keys are its credentials: revoking one ends that
// key's access and nothing else; disabling the tenant refuses all its keys and holds its schedules and
// mailbox syncs until it is enabled again.
import { z } from '@hono/zod-openapi';
import { createApiKey, listApiKeys } from '../../auth/api-keys.js';
import { createTenant, findTenant, listTenants, type TenantRow } from '../../../lib/tenants/tenants.js';
import { changeTenantState } from '../../../lib/tenants/start-workflow.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { byId, createRouter, json, jsonBody, pageLimit, pageResponses, routesTagged } from '../../openapi.js';
import { apiKeyCreatedSchema, apiKeyJson, apiKeySchema, keyFields } from './api-keys.js';

const route = routesTagged('Tenants');

const tenantSchema = z
  .object({
    id: z.string().openapi({ example: 'ten_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    name: z.string(),
    status: z.enum(['ACTIVE', 'DISABLED']),
    disabledAt: z.string().datetime().nullable(),
    disabledReason: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('Tenant');

const tenantView = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  status: t.disabledAt ? ('DISABLED' as const) : ('ACTIVE' as const),
  disabledAt: t.disabledAt?.toISOString() ?? null,
  disabledReason: t.disabledReason,
  createdAt: t.createdAt.toISOString(),
});

const idParam = z.object({ id: z.string().min(1).max(64).openapi({ example: 'ten_01jd9z8x5m3q7c2v4b6n8k0p1r' }) });

const tenantOr404 = async (db: Parameters<typeof findTenant>[0], id: string) => {
  const tenant = await findTenant(db, id);
  if (!tenant) throw new AppError('not_found', `no tenant ${id}`);
  return tenant;
};

export const tenantRoutes = createRouter()
  .openapi(
    route.post('/v1/tenants', 'createTenant', 'admin', {
      summary: 'Create a tenant (admin only); give it keys with POST /v1/tenants/{id}/api-keys',
      request: {
        body: jsonBody(
          z
            .object({ name: z.string().trim().min(1).max(100).openapi({ example: 'acme-production' }) })
            .strict()
            .openapi('TenantRequest'),
        ),
      },
      responses: { 201: { description: 'Created', content: json(tenantSchema) } },
    }),
    async (c) => {
      const tenant = await createTenant(c.var.deps.db, c.req.valid('json'));
      c.var.logger.info({ tenantId: tenant.id }, 'tenant created');
      return c.json(tenantView(tenant), 201);
    },
  )
  .openapi(
    route.get('/v1/tenants', 'listTenants', 'admin', {
      summary: 'List tenants (admin only)',
      request: { query: z.object({ limit: pageLimit(100, 50), cursor: z.string().min(1).max(64).optional() }) },
      responses: pageResponses('Tenants', tenantSchema),
    }),
    async (c) => {
      const page = await listTenants(c.var.deps.db, c.req.valid('query'));
      return c.json({ data: page.data.map(tenantView), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    route.get('/v1/tenants/{id}', 'getTenant', 'admin', {
      summary: 'A tenant (admin only)',
      ...byId(idParam, 'The tenant', tenantSchema),
    }),
    async (c) => c.json(tenantView(await tenantOr404(c.var.deps.db, c.req.valid('param').id)), 200),
  )
  .openapi(
    route.post('/v1/tenants/{id}/disable', 'disableTenant', 'admin', {
      summary: 'Disable a tenant (admin only): its keys are refused at once, its open streams close, its schedules and mailbox syncs are held',
      request: {
        params: idParam,
        body: {
          required: false,
          content: json(z.object({ reason: z.string().trim().min(1).max(500).optional().openapi({ example: 'unpaid invoice' }) }).strict()),
        },
      },
      responses: {
        200: { description: 'Disabled', content: json(tenantSchema) },
        404: errorResponses[404],
        409: errorResponse(409, 'The admin tenant cannot be disabled'),
      },
    }),
    async (c) => {
      const tenant = await changeTenantState(c.var.deps, c.req.valid('param').id, {
        disabled: true,
        reason: (c.req.valid('json') as { reason?: string } | undefined)?.reason,
      });
      c.var.logger.info({ tenantId: tenant.id }, 'tenant disabled');
      return c.json(tenantView(tenant), 200);
    },
  )
  .openapi(
    route.post('/v1/tenants/{id}/enable', 'enableTenant', 'admin', {
      summary: 'Enable a tenant again (admin only): its keys work, and what it had running goes on (what its users paused stays paused)',
      ...byId(idParam, 'Enabled', tenantSchema),
    }),
    async (c) => {
      const tenant = await changeTenantState(c.var.deps, c.req.valid('param').id, { disabled: false });
      c.var.logger.info({ tenantId: tenant.id }, 'tenant enabled');
      return c.json(tenantView(tenant), 200);
    },
  )
  .openapi(
    route.post('/v1/tenants/{id}/api-keys', 'createTenantApiKey', 'admin', {
      summary: 'Create a key of this tenant (admin only): it reaches everything the tenant owns; the key is shown once',
      request: { params: idParam, body: jsonBody(z.object(keyFields).strict()) },
      responses: {
        201: { description: 'Created', content: json(apiKeyCreatedSchema) },
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { key, record } = await createApiKey(c.var.deps.db, { ...c.req.valid('json'), tenantId: id });
      c.var.logger.info({ keyId: record.id, tenantId: id }, 'api key created');
      return c.json({ ...apiKeyJson(record), key }, 201);
    },
  )
  .openapi(
    route.get('/v1/tenants/{id}/api-keys', 'listTenantApiKeys', 'admin', {
      summary: "A tenant's keys, newest first (admin only)",
      ...byId(idParam, 'Keys', z.object({ data: z.array(apiKeySchema) })),
    }),
    async (c) => {
      const tenant = await tenantOr404(c.var.deps.db, c.req.valid('param').id);
      return c.json({ data: (await listApiKeys(c.var.deps.db, tenant.id)).map(apiKeyJson) }, 200);
    },
  );
