// The mailbox-sync property (test/helpers/sync-property.ts) against a real Dovecot: a seeded mailbox is linked,
// then a seeded random sequence of user actions over the user's own IMAP connection (new mail, read, unread,
// flag, move, expunge, folders created, renamed and deleted) and server faults (every connection of the user
// kicked, a folder's UIDVALIDITY changed) runs while the initial sync is under way and after it; after each
// part the index must hold exactly the mailbox. The same seed gives the same mailbox and the same actions on
// the same messages (picked by position): only the interleaving with the sync differs.
import type { ImapFlow } from 'imapflow';
import { doveadm } from '../../scripts/services/dovecot.js';
import { prng } from '../../simulators/outlook/fixtures.js';
import * as imap from './imap.js';
import { linkImap, waitForImapMirror } from './imap-sync.js';
import type { SyncRig } from './mailbox-sync.js';

export interface ImapScenarioOptions {
  messages: number;
  actions: number;
  via?: imap.ImapVia;
  settleMs?: number;
}

type Pick = <T>(list: readonly T[]) => T;

/** Selectable folders, in the server's order. */
async function folders(client: ImapFlow): Promise<string[]> {
  return (await client.list()).filter((f) => !f.flags.has('\\Noselect')).map((f) => f.path);
}

export async function runImapSyncScenario(rig: SyncRig, seed: number, options: ImapScenarioOptions, log: (line: string) => void = () => {}): Promise<void> {
  const rand = prng(seed);
  const pick: Pick = (list) => list[Math.floor(rand() * list.length)]!;
  const settleMs = options.settleMs ?? 90_000;
  const user: imap.ImapUser = imap.createImapUser(`prop${seed}`);
  await imap.seedMailbox(user, {
    folders: { INBOX: Math.ceil(options.messages * 0.7), Projects: Math.floor(options.messages * 0.2), Archive: Math.floor(options.messages * 0.1) },
  });
  let folderCount = 0;

  const step = (client: ImapFlow) => async () => {
    const all = await folders(client);
    const custom = all.filter((f) => f !== 'INBOX');
    /** A folder with mail in it, and one of its messages, by position. */
    const someMessage = async (): Promise<{ folder: string; uid: number } | undefined> => {
      for (let tries = 0; tries < 4; tries++) {
        const folder = pick(all);
        const uids = await imap.folderUids(client, folder);
        if (uids.length > 0) return { folder, uid: pick(uids) };
      }
      return undefined;
    };
    const r = rand();
    if (r < 0.15) {
      const folder = pick(['INBOX', 'INBOX', ...custom]);
      log(`new mail in ${folder}`);
      return imap.appendMessages(client, folder, 1 + Math.floor(rand() * 3));
    }
    if (r < 0.45) {
      const m = await someMessage();
      if (!m) return;
      const [flagName, add] = [pick(['\\Seen', '\\Flagged'] as const), rand() < 0.5];
      log(`${add ? '+' : '-'}${flagName} ${m.folder}/${m.uid}`);
      return add ? imap.addFlags(client, m.folder, [m.uid], [flagName]) : imap.removeFlags(client, m.folder, [m.uid], [flagName]);
    }
    if (r < 0.62) {
      const m = await someMessage();
      const to = pick(all);
      if (!m || to === m.folder) return;
      log(`move ${m.folder}/${m.uid} to ${to}`);
      return imap.moveMessages(client, m.folder, [m.uid], to);
    }
    if (r < 0.72) {
      const m = await someMessage();
      if (!m) return;
      log(`expunge ${m.folder}/${m.uid}`);
      return imap.expungeMessages(client, m.folder, [m.uid]);
    }
    if (r < 0.77) {
      const name = `Folder${seed}-${++folderCount}`;
      log(`create ${name}`);
      await imap.createFolder(client, name);
      return imap.appendMessages(client, name, 1);
    }
    if (r < 0.82) {
      if (custom.length === 0) return;
      const from = pick(custom);
      const to = `Renamed${seed}-${++folderCount}`;
      log(`rename ${from} to ${to}`);
      return imap.renameFolder(client, from, to);
    }
    if (r < 0.85) {
      if (custom.length < 2) return;
      const folder = pick(custom);
      log(`delete folder ${folder}`);
      return imap.deleteFolder(client, folder);
    }
    if (r < 0.92) {
      // Every connection of the user cut by the server: the sync's pages and its IDLE watch reconnect.
      log('kick the user');
      doveadm(imap.imapServer().configFile, ['kick', user.user]);
      return;
    }
    const folder = pick(all);
    log(`new UIDVALIDITY for ${folder}`);
    imap.changeUidValidity(user, folder);
  };

  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // A fresh connection per action: a kick or a new UIDVALIDITY cuts the user's own connection too.
      await imap.asImapUser(user, async (client) => {
        await step(client)();
      });
    }
  };

  const { accountId, mailboxId } = await linkImap(rig, user, options.via ?? 'starttls');
  const during = Math.ceil(options.actions / 2);
  await run(0, during);
  log('check after the actions during the initial sync');
  await waitForImapMirror(rig, user, accountId, settleMs, { mailboxId });
  await run(during, options.actions);
  log('check after the actions that followed');
  await waitForImapMirror(rig, user, accountId, settleMs, { mailboxId });
}
