// The Hono application: request context, auth, every resource's routes, the OpenAPI document and
// docs, and one error handler that renders problem details.
import { swaggerUI } from '@hono/swagger-ui';
import { serveStatic } from '@hono/node-server/serve-static';
import { HTTPException } from 'hono/http-exception';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import type { AppDeps } from './context.js';
import { domainProblem } from './domain-errors.js';
import { AppError, problemBody, statusOf } from './errors.js';
import { requireApiKey } from './middleware/auth.js';
import { authorize, documentAuthResponses } from './middleware/authorize.js';
import { limitBodies } from './middleware/body-limit.js';
import { requestContext } from './middleware/request-context.js';
import { allowedMethods, documentValidationResponses, enforceContract } from './contract.js';
import { createRouter } from './openapi.js';
import { routers } from './routes/index.js';

const webRoot = relative(process.cwd(), fileURLToPath(new URL('../web', import.meta.url))) || '.';

export function createApp(deps: AppDeps) {
  const app = createRouter();
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('*', requestContext);
  app.use('*', limitBodies(deps.config));
  app.use('*', requireApiKey);
  app.use(
    '*',
    authorize(() => app.openAPIRegistry.definitions as never),
  );
  app.use(
    '*',
    enforceContract(() => app.openAPIRegistry.definitions),
  );
  for (const router of routers) app.route('/', router);
  documentAuthResponses(app.openAPIRegistry.definitions);
  documentValidationResponses(app.openAPIRegistry.definitions);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key: `Authorization: Bearer mf_…`',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Mailflow API', version: '1.0.0', description: 'Email and notification jobs as durable Temporal workflows.' },
    servers: [{ url: deps.config.PUBLIC_BASE_URL }],
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));
  app.get('/', (c) => c.redirect('/web/'));
  app.use('/web/*', serveStatic({ root: webRoot, rewriteRequestPath: (path) => path.replace(/^\/web/, '') }));

  const methodsOf = allowedMethods(() => app.openAPIRegistry.definitions);
  app.notFound((c) => {
    // A path the API has, asked with a method it does not: 405 and the methods it does have.
    const allow = methodsOf(c.req.path);
    if (allow.length > 0) {
      const error = new AppError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(', ')}`);
      return c.json(problemBody(error, c.var.requestId ?? ''), 405, { 'Content-Type': 'application/problem+json', Allow: allow.join(', ') });
    }
    const error = new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`);
    return c.json(problemBody(error, c.var.requestId ?? ''), 404, { 'Content-Type': 'application/problem+json' });
  });

  app.onError((err, c) => {
    const requestId = c.var.requestId ?? '';
    let error: AppError;
    const domain = domainProblem(err);
    if (err instanceof AppError) error = err;
    else if (domain) error = domain;
    else if (err instanceof HTTPException && err.status < 500)
      error = new AppError(err.status === 413 ? 'payload_too_large' : 'bad_request', err.message || 'bad request');
    else {
      // Internals stay in the log; the client gets the request id to quote.
      (c.var.logger ?? deps.logger).error({ err, requestId }, 'unhandled error');
      error = new AppError('internal', 'an unexpected error occurred; quote the request id when reporting it');
    }
    const headers = { 'Content-Type': 'application/problem+json', ...error.options.headers };
    return c.json(problemBody(error, requestId), statusOf(error.code), headers);
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
