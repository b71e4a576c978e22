// An IMAP mailbox's password or access token, sealed in the shared secret store (AES-256-GCM, bound to
// the row's name): never in the mailboxes row, the logs or a workflow's history.
import type { SecretStore } from '../../secret-store.js';
import { ReauthRequiredError } from '../provider.js';
import type { ImapSecret } from './connection.js';

export const imapSecretName = (mailboxId: string) => `imap-credentials:${mailboxId}`;

export async function saveImapSecret(secrets: SecretStore, mailboxId: string, secret: ImapSecret): Promise<void> {
  await secrets.put(imapSecretName(mailboxId), JSON.stringify(secret));
}

export async function loadImapSecret(secrets: SecretStore, mailboxId: string): Promise<ImapSecret> {
  const stored = await secrets.get(imapSecretName(mailboxId));
  if (!stored) throw new ReauthRequiredError('the mailbox has no IMAP credentials; link it again');
  return JSON.parse(stored.value) as ImapSecret;
}
