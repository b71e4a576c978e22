import type { Scope } from './scopes.js';

/**
 * Who is calling: the admin key from ADMIN_API_KEY (every scope, in the tenant "admin"), or a stored key
 * with its scopes, of its tenant. `credential` names the key (api/auth/api-keys.ts) for what outlives the
 * request: stream cookies and pending sign-ins.
 */
export type Principal =
  | { kind: 'admin'; tenantId: string; credential: string; scopes: readonly Scope[] }
  | { kind: 'api_key'; keyId: string; name: string; tenantId: string; credential: string; scopes: readonly Scope[] };
