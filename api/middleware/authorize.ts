// Scope checks, generated from the OpenAPI document: each route's `security` names the scope it needs
// (api/auth/scopes.ts `requires`), and this middleware enforces that, so the document is the policy.
// A route that declares no scope is admin-only: forgetting the declaration can only make a route stricter.
import { createMiddleware } from 'hono/factory';
import { matchedRoutes } from 'hono/route';
import { parseScopes, type Scope } from '../auth/scopes.js';
import type { AppEnv } from '../context.js';
import { AppError, errorResponses } from '../errors.js';

interface RouteDefinition {
  type: string;
  route?: { method: string; path: string; security?: Record<string, string[]>[]; responses?: Record<string, unknown>; request?: { body?: unknown } };
}

/** The scope the route needs, or 'admin' if it declares none. */
export function scopeOf(security: Record<string, string[]>[] | undefined): Scope {
  return parseScopes(security?.[0]?.bearerAuth ?? [])[0] ?? 'admin';
}

/** `GET /v1/notifications/:id` → its scope, from the registry's route definitions. */
export function scopeTable(definitions: readonly RouteDefinition[]): Map<string, Scope> {
  const table = new Map<string, Scope>();
  for (const d of definitions) {
    if (d.type !== 'route' || !d.route) continue;
    const path = d.route.path.replaceAll(/\{([^}]+)\}/g, ':$1');
    table.set(`${d.route.method.toUpperCase()} ${path}`, scopeOf(d.route.security));
  }
  return table;
}

export function authorize(definitions: () => readonly RouteDefinition[]) {
  let table: Map<string, Scope> | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    const { principal } = c.var;
    if (!principal) return next(); // a public path (api/public-paths.ts)
    // The first matching handler is the one that answers (route handlers never fall through).
    const route = matchedRoutes(c).find((r) => r.method !== 'ALL');
    if (!route) return next(); // no such route: the 404 handler answers
    table ??= scopeTable(definitions());
    const needed = table.get(`${route.method} ${route.path}`) ?? 'admin';
    if (!principal.scopes.includes(needed)) {
      throw new AppError('forbidden', `this API key lacks the "${needed}" scope that ${route.method} ${route.path.replaceAll(/:(\w+)/g, '{$1}')} needs`);
    }
    return next();
  });
}

/** Every secured route can answer 401 and 403, and every route with a body 413: say so in the document. */
export function documentAuthResponses(definitions: readonly RouteDefinition[]): void {
  for (const d of definitions) {
    const { route } = d;
    if (d.type !== 'route' || !route?.responses) continue;
    if (route.security?.length) {
      route.responses[401] ??= errorResponses[401];
      route.responses[403] ??= errorResponses[403];
    }
    if (route.request?.body || ['post', 'put', 'patch'].includes(route.method)) route.responses[413] ??= payloadTooLarge;
  }
}

const payloadTooLarge = errorResponses[413];
