import type { Principal } from '../context.js';

/** Who owns what a request creates, and may see it: the API key's id, or "admin" for the admin key. */
export function ownerOf(principal: Principal | undefined): string {
  return principal?.kind === 'api_key' ? principal.keyId : 'admin';
}
