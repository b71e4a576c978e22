// Which MailProvider serves a mailbox, built once per process and mailbox. Adding Gmail means one more
// case here and one more adapter beside lib/mailbox-sync/outlook/ and imap/.
import type { Database } from '../../db/client.js';
import type { ImapConnectionRecord } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { SecretStore } from '../secret-store.js';
import { imapNetworkPolicy, type ImapNetworkPolicy, type ImapSecret } from './imap/connection.js';
import { loadImapSecret } from './imap/credentials.js';
import { ImapMailProvider } from './imap/provider.js';
import { outlookAuthSettings } from './outlook/msal.js';
import { OutlookMailProvider } from './outlook/provider.js';
import { OutlookTokenSource } from './outlook/tokens.js';
import { ProviderRequestError, type MailProvider } from './provider.js';

export interface MailboxRef {
  id: string;
  provider: 'outlook' | 'imap';
  homeAccountId: string | null;
  /** IMAP: the server and login (the secret is in the secret store). */
  connection?: ImapConnectionRecord | null;
}

/** Enough for thousands of active mailboxes per worker; the oldest are rebuilt on demand. */
const MAX_CACHED = 2_000;

export class MailProviders {
  /** Each with the connection settings it was built for. */
  private readonly cached = new Map<string, { provider: MailProvider; settings: string }>();
  private readonly outlookTokens: OutlookTokenSource | undefined;
  private readonly imapPolicy: ImapNetworkPolicy;

  constructor(
    private readonly config: Config,
    private readonly secrets: SecretStore,
    private readonly db: Database,
  ) {
    const settings = outlookAuthSettings(config);
    this.outlookTokens = settings ? new OutlookTokenSource(settings, secrets) : undefined;
    this.imapPolicy = imapNetworkPolicy(config);
  }

  /** The mailbox's provider; built afresh when its IMAP settings changed (a re-link with another TLS mode or sign-in). */
  forMailbox(mailbox: MailboxRef): MailProvider {
    const c = mailbox.connection;
    const settings = c ? [c.host, c.port, c.tls, c.username, c.auth].join(' ') : '';
    const hit = this.cached.get(mailbox.id);
    if (hit?.settings === settings) return hit.provider;
    const provider = this.build(mailbox);
    this.cached.delete(mailbox.id);
    if (this.cached.size >= MAX_CACHED) this.cached.delete(this.cached.keys().next().value!);
    this.cached.set(mailbox.id, { provider, settings });
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
      case 'imap': {
        if (!mailbox.connection) throw new ProviderRequestError(0, `IMAP mailbox ${mailbox.id} has no connection settings`);
        let secret: Promise<ImapSecret> | undefined;
        return new ImapMailProvider({
          mailboxId: mailbox.id,
          target: mailbox.connection,
          policy: this.imapPolicy,
          db: this.db,
          // Read once, and again after a refused login (a re-link may have stored new credentials).
          secret: (reload) => {
            if (reload || !secret) secret = loadImapSecret(this.secrets, mailbox.id);
            secret.catch(() => (secret = undefined));
            return secret;
          },
        });
      }
    }
  }
}
