// What an API key may do. Each route declares the one scope it needs in its OpenAPI `security`
// (`bearerAuth: [scope]`), and api/middleware/authorize.ts enforces exactly what the document says.
import { z } from '@hono/zod-openapi';

export const scopes = ['admin', 'send', 'read'] as const;
export type Scope = (typeof scopes)[number];
export const scopeSchema = z
  .enum(scopes)
  .openapi({ description: 'admin: keys, templates, users · send: create and control notifications, emails, mailings, accounts · read: everything else' });

/** What a key created without `scopes` may do (and what keys made before scopes existed got). */
export const defaultScopes: Scope[] = ['read', 'send'];

/** The security requirement of a route that needs `scope`: spread into createRoute. */
export const requires = (scope: Scope) => ({ security: [{ bearerAuth: [scope] }] });

/** The scopes a stored row grants: unknown names (from a later version) grant nothing. */
export function parseScopes(values: readonly string[]): Scope[] {
  return values.filter((v): v is Scope => (scopes as readonly string[]).includes(v));
}
