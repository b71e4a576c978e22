// MSAL's token cache for one mailbox, sealed with AES-256-GCM in the shared secret store: refresh
// tokens never touch the disk or the database in clear, and every worker renews from the same cache.
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { SecretStore } from '../../secret-store.js';

export const tokenCacheName = (mailboxId: string) => `outlook-token-cache:${mailboxId}`;

export function mailboxCachePlugin(secrets: SecretStore, mailboxId: string): ICachePlugin {
  const name = tokenCacheName(mailboxId);
  return {
    async beforeCacheAccess(context: TokenCacheContext) {
      const stored = await secrets.get(name);
      if (stored) context.tokenCache.deserialize(stored.value);
    },
    async afterCacheAccess(context: TokenCacheContext) {
      if (context.cacheHasChanged) await secrets.put(name, context.tokenCache.serialize());
    },
  };
}
