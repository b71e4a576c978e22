import { z } from '@hono/zod-openapi';
import { registry } from '../../lib/metrics.js';
import { createRouter, routesTagged } from '../openapi.js';
import { checkReadiness } from '../readiness.js';

const route = routesTagged('Operations');

const check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({
      temporal: check,
      postgres: check,
      index: check.extend({ backend: z.enum(['elasticsearch', 'postgres']) }),
    }),
  })
  .openapi('Readiness');

export const healthRoutes = createRouter()
  .openapi(
    route.get('/health', 'health', 'public', {
      summary: 'Liveness: the process is up',
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  )
  .openapi(
    route.get('/ready', 'ready', 'public', {
      summary: 'Readiness: Temporal, PostgreSQL and the mail index are reachable',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: readinessSchema } } },
        503: { description: 'A dependency is unreachable', content: { 'application/json': { schema: readinessSchema } } },
      },
    }),
    async (c) => {
      const readiness = await checkReadiness(c.var.deps);
      const body = { status: readiness.ready ? ('ready' as const) : ('not_ready' as const), checks: readiness.checks };
      return readiness.ready ? c.json(body, 200) : c.json(body, 503);
    },
  )
  .openapi(
    route.get('/metrics', 'metrics', 'read', {
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType }),
  );
