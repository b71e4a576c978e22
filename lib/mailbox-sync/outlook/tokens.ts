// Access tokens for a linked mailbox, renewed silently through MSAL from the mailbox's sealed cache.
// A process keeps the current token in memory until two minutes before it expires, so a sync round
// does not read and decrypt the cache for every page.
import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import type { SecretStore } from '../../secret-store.js';
import { ReauthRequiredError } from '../provider.js';
import { createMsalApp, OUTLOOK_SCOPES, type OutlookAuthSettings } from './msal.js';
import { mailboxCachePlugin } from './token-cache.js';

export interface TokenOwner {
  id: string;
  homeAccountId: string | null;
}

const RENEW_BEFORE_MS = 120_000;

export class OutlookTokenSource {
  private readonly current = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly settings: OutlookAuthSettings,
    private readonly secrets: SecretStore,
  ) {}

  async accessToken(mailbox: TokenOwner, options: { forceRefresh?: boolean } = {}): Promise<string> {
    const held = this.current.get(mailbox.id);
    if (held && !options.forceRefresh && held.expiresAt - Date.now() > RENEW_BEFORE_MS) return held.token;
    const app = createMsalApp(this.settings, mailboxCachePlugin(this.secrets, mailbox.id));
    const accounts = await app.getTokenCache().getAllAccounts();
    const account = accounts.find((a) => a.homeAccountId === mailbox.homeAccountId) ?? (accounts.length === 1 ? accounts[0] : undefined);
    if (!account) throw new ReauthRequiredError('the token cache holds no signed-in account');
    try {
      const result = await app.acquireTokenSilent({ account, scopes: OUTLOOK_SCOPES, forceRefresh: options.forceRefresh ?? false });
      const expiresAt = result.expiresOn?.getTime() ?? Date.now() + 300_000;
      this.current.set(mailbox.id, { token: result.accessToken, expiresAt });
      return result.accessToken;
    } catch (error) {
      this.current.delete(mailbox.id);
      // invalid_grant (revoked, expired, consent withdrawn) arrives as an interaction-required error.
      if (error instanceof InteractionRequiredAuthError || (error instanceof ServerError && error.errorCode === 'invalid_grant')) {
        throw new ReauthRequiredError(`Microsoft refused the refresh token (${error.errorCode || 'invalid_grant'})`);
      }
      throw error;
    }
  }

  forget(mailboxId: string): void {
    this.current.delete(mailboxId);
  }
}
