// Which MailProvider serves a mailbox, built once per process and mailbox. Adding Gmail or IMAP means
// one more case here and one more adapter beside lib/mailbox-sync/outlook/.
import type { Config } from '../config.js';
import type { SecretStore } from '../secret-store.js';
import { outlookAuthSettings } from './outlook/msal.js';
import { OutlookMailProvider } from './outlook/provider.js';
import { OutlookTokenSource } from './outlook/tokens.js';
import { ProviderRequestError, type MailProvider } from './provider.js';

export interface MailboxRef {
  id: string;
  provider: 'outlook';
  homeAccountId: string | null;
}

/** Enough for thousands of active mailboxes per worker; the oldest are rebuilt on demand. */
const MAX_CACHED = 2_000;

export class MailProviders {
  private readonly cached = new Map<string, MailProvider>();
  private readonly outlookTokens: OutlookTokenSource | undefined;

  constructor(
    private readonly config: Config,
    secrets: SecretStore,
  ) {
    const settings = outlookAuthSettings(config);
    this.outlookTokens = settings ? new OutlookTokenSource(settings, secrets) : undefined;
  }

  forMailbox(mailbox: MailboxRef): MailProvider {
    const hit = this.cached.get(mailbox.id);
    if (hit) return hit;
    const provider = this.build(mailbox);
    if (this.cached.size >= MAX_CACHED) this.cached.delete(this.cached.keys().next().value!);
    this.cached.set(mailbox.id, provider);
    return provider;
  }

  forget(mailboxId: string): void {
    this.cached.delete(mailboxId);
    this.outlookTokens?.forget(mailboxId);
  }

  private build(mailbox: MailboxRef): MailProvider {
    switch (mailbox.provider) {
      case 'outlook': {
        const tokens = this.outlookTokens;
        if (!tokens) throw new ProviderRequestError(0, 'Outlook is not configured (set OUTLOOK_CLIENT_ID and OUTLOOK_CLIENT_SECRET)');
        return new OutlookMailProvider({
          graphUrl: this.config.OUTLOOK_GRAPH_URL,
          timeoutMs: this.config.GRAPH_TIMEOUT_MS,
          accessToken: (forceRefresh) => tokens.accessToken(mailbox, { forceRefresh }),
        });
      }
    }
  }
}
