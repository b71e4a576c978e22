// IMAP side of the mailbox-sync rig: linking a Dovecot user's mailbox through the API, what the mailbox
// holds as read over a second IMAP connection (folder, UID, \Seen, \Flagged), and a wait until the index
// holds exactly that.
import type { SyncRig, MessageView } from './mailbox-sync.js';
import { asImapUser, imapConnection, type ImapUser, type ImapVia, type imapUserClient } from './imap.js';
import { waitUntil } from './wait.js';

/** Links the user's mailbox to a new account through POST /v1/accounts/{id}/mailboxes/imap. */
export async function linkImap(rig: SyncRig, user: ImapUser, via: ImapVia = 'starttls', connection = imapConnection(user, via)) {
  const accountId = await rig.createAccount(user.user);
  const response = await rig.api.request(`/v1/accounts/${accountId}/mailboxes/imap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ host: connection.host, port: connection.port, tls: connection.tls, username: connection.username, password: user.password }),
  });
  if (response.status !== 201) throw new Error(`IMAP link: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  return { accountId, mailboxId: id };
}

export interface ImapMessageState {
  folder: string;
  uid: number;
  isRead: boolean;
  flagged: boolean;
}

/** How the test reaches the server (by default the suite's Dovecot; `port`: a private one). */
type ClientOptions = NonNullable<Parameters<typeof imapUserClient>[1]>;

/** Every message of every folder as the server has it now. */
export function imapState(user: ImapUser, options: ClientOptions = {}): Promise<ImapMessageState[]> {
  return asImapUser(
    user,
    async (client) => {
      const out: ImapMessageState[] = [];
      for (const folder of await client.list()) {
        if (folder.flags.has('\\Noselect')) continue;
        const box = await client.mailboxOpen(folder.path, { readOnly: true });
        if (box.exists === 0) continue;
        for await (const m of client.fetch('1:*', { uid: true, flags: true }))
          out.push({ folder: folder.path, uid: m.uid, isRead: m.flags?.has('\\Seen') ?? false, flagged: m.flags?.has('\\Flagged') ?? false });
      }
      return out;
    },
    options,
  );
}

const stateKey = (m: ImapMessageState) => `${m.folder}|${m.uid}|${m.isRead}|${m.flagged}`;
/** An indexed IMAP message's folder path and UID (its id is the folder's id and the UID). */
export const indexedKey = (m: MessageView) => `${m.folder.name}|${m.id.split('/').at(-1)}|${m.isRead}|${m.flagStatus === 'flagged'}`;

/** Every selectable folder's path. */
export function imapFolders(user: ImapUser, options: ClientOptions = {}): Promise<string[]> {
  return asImapUser(user, async (client) => (await client.list()).filter((f) => !f.flags.has('\\Noselect')).map((f) => f.path), options);
}

/**
 * Waits until the index holds exactly the server's mailbox: one document per message, same folder, UID and
 * flags; with `mailboxId`, the mailbox's folders are the server's too.
 */
export async function waitForImapMirror(
  rig: SyncRig,
  user: ImapUser,
  accountId: string,
  timeoutMs = 90_000,
  { mailboxId, ...options }: ClientOptions & { mailboxId?: string } = {},
): Promise<MessageView[]> {
  let last = '';
  let indexed: MessageView[] = [];
  await waitUntil(
    () => `the index to mirror ${user.user}: ${last}`,
    async () => {
      const [expected, have] = await Promise.all([imapState(user, options), rig.messages(accountId)]);
      indexed = have;
      const want = expected.map(stateKey).sort();
      const got = have.map(indexedKey).sort();
      const missing = want.filter((k) => !got.includes(k));
      const extra = got.filter((k) => !want.includes(k));
      last = `${want.length} on the server, ${got.length} indexed; missing ${JSON.stringify(missing.slice(0, 5))}; unexpected ${JSON.stringify(extra.slice(0, 5))}`;
      if (missing.length > 0 || extra.length > 0 || got.length !== want.length) return undefined;
      if (!mailboxId) return true;
      const [server, synced] = await Promise.all([imapFolders(user, options), rig.mailbox(mailboxId)]);
      const names = synced.folders.map((f) => f.name).sort();
      last = `folders: ${JSON.stringify(server.sort())} on the server, ${JSON.stringify(synced.folders.map((f) => `${f.name} (${f.id})`))} synced`;
      return JSON.stringify(server) === JSON.stringify(names) ? true : undefined;
    },
    timeoutMs,
    300,
  );
  return indexed;
}
