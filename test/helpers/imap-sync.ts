// IMAP side of the mailbox-sync rig: what a Dovecot user's mailbox holds, read over a second IMAP
// connection (folder, UID, \Seen, \Flagged), and a wait until the index holds exactly that.
import { ImapFlow } from 'imapflow';
import type { SyncRig, MessageView } from './mailbox-sync.js';
import { waitUntil } from './wait.js';

export interface ImapLogin {
  host: string;
  port: number;
  username: string;
  password: string;
}

export async function imapClient(login: ImapLogin): Promise<ImapFlow> {
  const client = new ImapFlow({ host: login.host, port: login.port, secure: false, auth: { user: login.username, pass: login.password }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export interface ImapMessageState {
  folder: string;
  uid: number;
  isRead: boolean;
  flagged: boolean;
}

/** Every message of every folder as the server has it now. */
export async function imapState(login: ImapLogin): Promise<ImapMessageState[]> {
  const client = await imapClient(login);
  try {
    const out: ImapMessageState[] = [];
    for (const folder of await client.list()) {
      if (folder.flags.has('\\Noselect')) continue;
      const box = await client.mailboxOpen(folder.path, { readOnly: true });
      if (box.exists === 0) continue;
      for await (const m of client.fetch('1:*', { uid: true, flags: true }))
        out.push({ folder: folder.path, uid: m.uid, isRead: m.flags?.has('\\Seen') ?? false, flagged: m.flags?.has('\\Flagged') ?? false });
    }
    return out;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

const stateKey = (m: ImapMessageState) => `${m.folder}|${m.uid}|${m.isRead}|${m.flagged}`;
/** An indexed IMAP message's folder path and UID (its id is the folder's id and the UID). */
export const indexedKey = (m: MessageView) => `${m.folder.name}|${m.id.split('/').at(-1)}|${m.isRead}|${m.flagStatus === 'flagged'}`;

/** Waits until the index holds exactly the server's mailbox: one document per message, same folder, UID and flags. */
export async function waitForImapMirror(rig: SyncRig, login: ImapLogin, accountId: string, timeoutMs = 90_000): Promise<MessageView[]> {
  let last = '';
  let indexed: MessageView[] = [];
  await waitUntil(
    () => `the index to mirror ${login.username}: ${last}`,
    async () => {
      const [expected, have] = await Promise.all([imapState(login), rig.messages(accountId)]);
      indexed = have;
      const want = expected.map(stateKey).sort();
      const got = have.map(indexedKey).sort();
      const missing = want.filter((k) => !got.includes(k));
      const extra = got.filter((k) => !want.includes(k));
      last = `${want.length} on the server, ${got.length} indexed; missing ${JSON.stringify(missing.slice(0, 5))}; unexpected ${JSON.stringify(extra.slice(0, 5))}`;
      return missing.length === 0 && extra.length === 0 ? true : undefined;
    },
    timeoutMs,
    300,
  );
  return indexed;
}
