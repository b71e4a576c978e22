import type { Principal } from './principal.js';

/** The tenant that owns what a request creates, and whose resources it may see. */
export function tenantOf(principal: Principal | undefined): string {
  if (!principal) throw new Error('no principal: tenantOf is only for authenticated routes');
  return principal.tenantId;
}
