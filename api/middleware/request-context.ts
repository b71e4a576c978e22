// Request id (echoed in X-Request-Id), one structured log line per request, and HTTP metrics.
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context.js';
import { newId } from '../../lib/ids.js';
import { httpDuration, httpRequests } from '../../lib/metrics.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const incoming = c.req.header('x-request-id');
  const requestId = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : newId('req');
  const logger = c.var.deps.logger.child({ requestId });
  c.set('requestId', requestId);
  c.set('logger', logger);
  c.header('X-Request-Id', requestId);
  await next();
  const seconds = (performance.now() - started) / 1000;
  // The matched pattern, not the raw path: bounded label cardinality.
  const route = c.req.routePath || 'unmatched';
  const labels = { method: c.req.method, route, status: String(c.res.status) };
  httpRequests.inc(labels);
  httpDuration.observe(labels, seconds);
  const principal = c.var.principal;
  logger.info(
    {
      method: c.req.method,
      path: c.req.path,
      route,
      status: c.res.status,
      durationMs: Math.round(seconds * 1000),
      principal: principal ? (principal.kind === 'admin' ? 'admin' : principal.keyId) : undefined,
      tenant: principal?.tenantId,
    },
    'request',
  );
});
