// A sync worker keeps one provider per mailbox, so an IMAP mailbox re-linked with other settings (STARTTLS
// instead of plaintext, a token instead of a password) must not go on with the old ones.
import { describe, expect, it } from 'vitest';
import type { Database } from '../../db/client.js';
import type { ImapConnectionRecord } from '../../db/schema/index.js';
import { MailProviders, type MailboxRef } from '../../lib/mailbox-sync/providers.js';
import type { SecretStore } from '../../lib/secret-store.js';
import { testConfig } from '../helpers/config.js';

const connection: ImapConnectionRecord = { host: 'imap.example.com', port: 143, tls: 'none', username: 'jane', auth: 'password' };
const imap = (settings: ImapConnectionRecord): MailboxRef => ({ id: 'mbx_providers', provider: 'imap', homeAccountId: null, connection: settings });

describe('MailProviders', () => {
  it("keeps a mailbox's provider while its IMAP settings stay, and builds a new one when a re-link changed them", () => {
    // Building a provider opens nothing: the stores are never reached here.
    const providers = new MailProviders(testConfig(), {} as SecretStore, {} as Database);
    const first = providers.forMailbox(imap(connection));
    expect(providers.forMailbox(imap({ ...connection }))).toBe(first);
    const upgraded = providers.forMailbox(imap({ ...connection, tls: 'starttls' }));
    expect(upgraded).not.toBe(first);
    expect(providers.forMailbox(imap({ ...connection, tls: 'starttls' }))).toBe(upgraded);
    const token = providers.forMailbox(imap({ ...connection, tls: 'starttls', auth: 'xoauth2' }));
    expect(token).not.toBe(upgraded);
    providers.forget('mbx_providers');
    expect(providers.forMailbox(imap({ ...connection, tls: 'starttls', auth: 'xoauth2' }))).not.toBe(token);
  });
});
