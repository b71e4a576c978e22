// The suite's real Dovecot, as the IMAP provider meets it: each door (STARTTLS, implicit TLS, the legacy
// instance without CONDSTORE/QRESYNC), each way to sign in (password, XOAUTH2 against the introspection
// simulator), and the helpers tests use to act as the mailbox's owner.
import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import * as imap from '../helpers/imap.js';
import { until } from '../helpers/wait.js';

/** What connecting answered: the client (logged in) or the error. */
type ConnectError = Error & { code?: string; authenticationFailed?: boolean };

async function attempt(options: ConstructorParameters<typeof ImapFlow>[0]): Promise<{ client?: ImapFlow; error?: ConnectError }> {
  const client = new ImapFlow({ logger: false, disableAutoIdle: true, ...options });
  client.on('error', () => {});
  try {
    await client.connect();
    return { client };
  } catch (error) {
    client.close();
    return { error: error as ConnectError };
  }
}

describe('the local Dovecot', () => {
  it('logs a fresh user in over STARTTLS, with CONDSTORE and QRESYNC', async () => {
    const user = imap.createImapUser();
    const client = await imap.imapUserClient(user, { qresync: true });
    try {
      expect(client.secureConnection).toBe(true);
      expect(client.capabilities.has('CONDSTORE')).toBe(true);
      expect(client.capabilities.has('QRESYNC')).toBe(true);
      expect(client.capabilities.has('IDLE')).toBe(true);
      expect(client.capabilities.has('MOVE')).toBe(true);
      expect([...client.enabled]).toEqual(expect.arrayContaining(['CONDSTORE', 'QRESYNC']));
      const inbox = await client.mailboxOpen('INBOX');
      expect(inbox.highestModseq).toBeDefined();
      expect(inbox.exists).toBe(0);
    } finally {
      await client.logout();
    }
  });

  it('offers STARTTLS without requiring it: the same port logs in over plain text', async () => {
    const user = imap.createImapUser();
    const client = await imap.imapUserClient(user, { via: 'plain' });
    try {
      expect(client.secureConnection).toBe(false);
      expect(client.authenticated).toBe(true);
    } finally {
      await client.logout();
    }
  });

  it('has a legacy instance without CONDSTORE and QRESYNC, on the same mail', async () => {
    const user = imap.createImapUser();
    await imap.asImapUser(user, (c) => imap.appendMessages(c, 'INBOX', 3));
    const legacy = await imap.imapUserClient(user, { via: 'legacy', qresync: true });
    try {
      expect(legacy.secureConnection).toBe(true);
      expect(legacy.capabilities.has('IDLE')).toBe(true);
      expect(legacy.capabilities.has('CONDSTORE')).toBe(false);
      expect(legacy.capabilities.has('QRESYNC')).toBe(false);
      expect([...legacy.enabled]).toEqual([]);
      const inbox = await legacy.mailboxOpen('INBOX');
      expect(inbox.exists).toBe(3);
      // Its own index files, where no client turned modseqs on: SELECT reports no HIGHESTMODSEQ either.
      expect(inbox.highestModseq).toBeUndefined();
      // A change made through the main instance shows on the next sync.
      await imap.asImapUser(user, (c) => imap.appendMessages(c, 'INBOX', 1));
      await legacy.noop();
      expect(legacy.mailbox && legacy.mailbox.exists).toBe(4);
    } finally {
      await legacy.logout();
    }
  });

  it('serves implicit TLS with a certificate the local CA verifies, and fails verification without it', async () => {
    const user = imap.createImapUser();
    const { host, imapsPort } = imap.imapServer();
    const trusted = await imap.imapUserClient(user, { via: 'imaps' });
    try {
      expect(trusted.secureConnection).toBe(true);
      expect(trusted.capabilities.has('QRESYNC')).toBe(true);
    } finally {
      await trusted.logout();
    }
    const untrusted = await attempt({ host, port: imapsPort, secure: true, auth: { user: user.user, pass: user.password } });
    expect(untrusted.client).toBeUndefined();
    expect(untrusted.error?.code ?? untrusted.error?.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
    // STARTTLS on the plain port meets the same certificate.
    const viaStartTls = await attempt({ host, port: imap.imapServer().port, doSTARTTLS: true, auth: { user: user.user, pass: user.password } });
    expect(viaStartTls.client).toBeUndefined();
    expect(viaStartTls.error?.code ?? viaStartTls.error?.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
  });

  it('refuses a wrong password and an unknown user', async () => {
    const user = imap.createImapUser();
    const { host, port } = imap.imapServer();
    const wrong = await attempt({ host, port, doSTARTTLS: false, auth: { user: user.user, pass: `${user.password}x` } });
    expect(wrong.error?.authenticationFailed).toBe(true);
    const unknown = await attempt({ host, port, doSTARTTLS: false, auth: { user: `nobody-${user.user}`, pass: user.password } });
    expect(unknown.error?.authenticationFailed).toBe(true);
  });

  it('signs in with XOAUTH2 using a minted token, and refuses it once revoked', async () => {
    const user = imap.createImapUser();
    const other = imap.createImapUser();
    const token = await imap.mintImapToken(user);
    const client = await imap.imapUserClient(user, { accessToken: token });
    try {
      expect(client.authenticated).toBe(true);
    } finally {
      await client.logout();
    }
    const { host, port } = imap.imapServer();
    // A token is good only for its own user.
    const wrongUser = await attempt({ host, port, doSTARTTLS: false, auth: { user: other.user, accessToken: token } });
    expect(wrongUser.error?.authenticationFailed).toBe(true);

    expect(await imap.revokeImapToken(token)).toBe(1);
    const revoked = await attempt({ host, port, doSTARTTLS: false, auth: { user: user.user, accessToken: token } });
    expect(revoked.error?.authenticationFailed).toBe(true);
    // Dovecot asked the simulator each time.
    const ledger = (await (await fetch(`${imap.imapServer().oauthUrl}/_control/ledger`)).json()) as { username: string | null; active: boolean }[];
    expect(ledger.filter((e) => e.username === user.user).map((e) => e.active)).toEqual(expect.arrayContaining([true, false]));
    // The password still works beside bearer tokens.
    expect(await imap.asImapUser(user, (c) => Promise.resolve(c.authenticated))).toBe(true);
  });
});

describe('acting as the IMAP user', () => {
  it('seeds 2,000 realistic messages across folders', async () => {
    const user = imap.createImapUser();
    const started = Date.now();
    const seeded = await imap.seedMailbox(user, { folders: { INBOX: 1000, Sent: 300, Archive: 300, 'Archive/2025': 300, Junk: 100 } });
    const elapsed = Date.now() - started;
    console.log(`seeded 2,000 messages in ${elapsed} ms`);
    await imap.asImapUser(user, async (c) => {
      for (const [folder, messages] of Object.entries(seeded)) expect((await imap.folderStatus(c, folder)).messages).toBe(messages.length);
      const folders = await c.list();
      expect(folders.find((f) => f.path === 'Sent')?.specialUse).toBe('\\Sent');
      expect(folders.find((f) => f.path === 'Archive/2025')?.delimiter).toBe('/');
      const lock = await c.getMailboxLock('INBOX');
      try {
        const kinds = new Set<string>();
        const ids = new Set<string>();
        for await (const m of c.fetch('1:200', { envelope: true, bodyStructure: true, flags: true })) {
          kinds.add(m.bodyStructure?.type ?? '');
          ids.add(m.envelope?.messageId ?? '');
          expect(m.envelope?.from?.[0]?.address).toMatch(/@/);
          expect(m.envelope?.subject).toBeTruthy();
        }
        expect(kinds).toEqual(new Set(['text/plain', 'multipart/alternative', 'multipart/mixed']));
        expect(ids.size).toBe(200);
      } finally {
        lock.release();
      }
    });
  });

  it('changes flags, moves, expunges and manages folders', async () => {
    const user = imap.createImapUser();
    const client = await imap.imapUserClient(user);
    try {
      const { uids } = await imap.appendMessages(client, 'INBOX', 6);
      expect(uids).toHaveLength(6);
      await imap.markSeen(client, 'INBOX', uids.slice(0, 2));
      await imap.addFlags(client, 'INBOX', [uids[2]!], ['\\Flagged']);
      await imap.removeFlags(client, 'INBOX', [uids[0]!], ['\\Seen']);
      expect((await imap.folderStatus(client, 'INBOX')).unseen).toBe(6 - 1);

      await imap.createFolder(client, 'Projects');
      const moved = await imap.moveMessages(client, 'INBOX', [uids[3]!, uids[4]!], 'Projects');
      expect([...moved.keys()]).toEqual([uids[3], uids[4]]);
      expect(await imap.folderUids(client, 'Projects')).toEqual([...moved.values()]);
      await imap.expungeMessages(client, 'INBOX', [uids[5]!]);
      expect(await imap.folderUids(client, 'INBOX')).toEqual(uids.slice(0, 3));

      await imap.renameFolder(client, 'Projects', 'Archive/Projects');
      expect((await imap.folderStatus(client, 'Archive/Projects')).messages).toBe(2);
      await imap.deleteFolder(client, 'Archive/Projects');
      expect((await client.list()).map((f) => f.path)).not.toContain('Archive/Projects');
    } finally {
      await client.logout();
    }
  });

  it("changes a folder's UIDVALIDITY", async () => {
    const user = imap.createImapUser();
    const client = await imap.imapUserClient(user);
    try {
      await imap.appendMessages(client, 'INBOX', 2);
      const before = (await imap.folderStatus(client, 'INBOX')).uidValidity;
      const next = imap.changeUidValidity(user, 'INBOX');
      expect(BigInt(next)).not.toBe(before);
      await until('the new UIDVALIDITY', async () => (await imap.folderStatus(client, 'INBOX')).uidValidity === BigInt(next));
      expect((await imap.folderStatus(client, 'INBOX')).messages).toBe(2);
    } finally {
      await client.logout();
    }
  });
});
