// Routers whose request validation failures become problem details, so the OpenAPI document and the
// runtime checks come from the same zod schemas.
import { createRoute, OpenAPIHono, z, type RouteConfig } from '@hono/zod-openapi';
import { requires, type Scope } from './auth/scopes.js';
import { errorResponses } from './errors.js';
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

/** What a route says beyond what `routesTagged` fills in: summary, description, request, responses. */
type RouteDetails = Omit<RouteConfig, 'method' | 'path' | 'tags' | 'operationId' | 'security'>;

/**
 * The route definitions of one OpenAPI tag. `route.get(path, operationId, scope, details)` is
 * `createRoute({ method: 'get', path, tags: [tag], operationId, ...requires(scope), ...details })`, so a
 * handler given it to `.openapi()` still gets typed `c.req.valid(...)` and responses. `scope` is the one
 * scope a key needs ('public': no key, for the paths api/public-paths.ts lists).
 */
export function routesTagged(tag: string) {
  const define =
    <M extends 'get' | 'post' | 'put' | 'patch' | 'delete'>(method: M) =>
    <P extends string, D extends RouteDetails>(path: P, operationId: string, scope: Scope | 'public', details: D) =>
      createRoute({ method, path, tags: [tag], operationId, ...(scope === 'public' ? {} : requires(scope)), ...details });
  return { get: define('get'), post: define('post'), put: define('put'), patch: define('patch'), delete: define('delete') };
}

interface DocumentedRoute {
  request: object;
}

/**
 * Declares a body in the OpenAPI document only: the router adds no validator for it (hono's would buffer
 * the whole multipart body), because the handler streams and checks it itself. Call after `.openapi()`:
 * the registry keeps this route's `request` object (not a copy), so the document shows the body.
 */
export function documentStreamedBody<R extends DocumentedRoute>(
  route: R,
  body: { description?: string; required: true; content: Record<string, { schema: unknown }> },
): R {
  Object.assign(route.request, { body }); // in place: the registry shares this object with the route it registered
  return route;
}

/** A list's page: its items and the cursor of the next page (null on the last). */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });

/** The answer of a list: a page of `item`s. */
export const pageResponses = <T extends z.ZodType>(description: string, item: T) => ({ 200: { description, content: json(pageOf(item)) } });

/** An object of whole-number counts, one property per name, in that order. */
export const counts = <K extends string>(...names: K[]) =>
  z.object(Object.fromEntries(names.map((name) => [name, z.number().int()])) as Record<K, z.ZodNumber>);

/** A list's `limit` query parameter: 1 to `max` items, `byDefault` when absent. */
export const pageLimit = (max: number, byDefault: number) => z.coerce.number().int().min(1).max(max).default(byDefault);

/** A JSON body of `schema`, as a request or a response declares its content. */
export const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

/** A required JSON body of `schema`, as a route's request declares it. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true as const, content: json(schema) });

/** The answers of a read of one resource by id: it as `schema`, or 404 (no such id, or another tenant's). */
export const foundOr404 = <T extends z.ZodType>(description: string, schema: T) => ({ 200: { description, content: json(schema) }, 404: errorResponses[404] });

/** The request and answers of a route on one resource named by `params` (its id): spread into a route's details. */
export const byId = <P extends z.ZodType, T extends z.ZodType>(params: P, description: string, schema: T) => ({
  request: { params },
  responses: foundOr404(description, schema),
});
