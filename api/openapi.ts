// Routers whose request validation failures become problem details, so the OpenAPI document and the
// runtime checks come from the same zod schemas.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './context.js';
import { validationError } from './errors.js';

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues, (result as { target?: string }).target ?? 'request');
    },
  });
}

export type Router = ReturnType<typeof createRouter>;
