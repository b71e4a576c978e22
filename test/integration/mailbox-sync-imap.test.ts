// IMAP mailbox sync against a real Dovecot, real Temporal, PostgreSQL and Elasticsearch: the initial sync,
// then each kind of change a user makes over a second IMAP connection (also while the initial sync runs),
// on each of the server's paths (QRESYNC, CONDSTORE only, neither), until the index equals the mailbox.
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { connectTemporalClient } from '../../lib/temporal/connection.js';
import { testConfig } from '../helpers/config.js';
import { until, waitFor } from '../helpers/wait.js';
import {
  asImapUser,
  changeUidValidity,
  createFolder,
  createImapUser,
  deleteFolder,
  expungeMessages,
  flag,
  folderUids,
  imapConnection,
  imapServer,
  imapTestEnv,
  imapUserClient,
  markSeen,
  markUnseen,
  moveMessages,
  renameFolder,
  seedMailbox,
  appendMessages,
  type ImapUser,
  type ImapVia,
} from '../helpers/imap.js';
import { linkImap, waitForImapMirror } from '../helpers/imap-sync.js';
import { changesIn, startSyncRig, type MessageView, type SyncRig } from '../helpers/mailbox-sync.js';
import { messageIdOf } from '../../lib/mailbox-sync/imap/provider.js';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { subscriptionLifecycleSignal } from '../../workflows/mailbox-sync.js';

/** How the sync read each of the mailbox's folders: its cursors' mode (qresync, condstore or flags). */
async function folderModes(rig: SyncRig, mailboxId: string): Promise<string[]> {
  const { db, close } = connectDatabase(testConfig(rig.env).DATABASE_URL, { max: 1 });
  try {
    const rows = await db.execute<{ cursor: string }>(`select cursor from mailbox_folders where mailbox_id = '${mailboxId}'`);
    return [...new Set(rows.map((r) => (JSON.parse(r.cursor) as { mode: string }).mode))];
  } finally {
    await close();
  }
}

/** Every kind of change a user makes, over their own connection. */
async function makeChanges(user: ImapUser) {
  await asImapUser(user, async (client) => {
    const inbox = await folderUids(client, 'INBOX');
    await appendMessages(client, 'INBOX', 2);
    await markSeen(client, 'INBOX', inbox.slice(0, 3));
    await markUnseen(client, 'INBOX', inbox.slice(3, 4));
    await flag(client, 'INBOX', inbox.slice(4, 5));
    await moveMessages(client, 'INBOX', inbox.slice(5, 8), 'Archive');
    await moveMessages(client, 'Archive', (await folderUids(client, 'Archive')).slice(0, 2), 'INBOX');
    await expungeMessages(client, 'INBOX', inbox.slice(8, 9));
    await createFolder(client, 'Projects');
    await appendMessages(client, 'Projects', 1);
    await renameFolder(client, 'Archive/2025', 'Archive/Old');
  });
}

describe('IMAP mailbox sync', () => {
  let rig: SyncRig;
  beforeAll(async () => {
    rig = await startSyncRig({ env: { ...imapTestEnv(), IMAP_POLL_INTERVAL_SECONDS: '1', IMAP_FOLDER_CHECK_SECONDS: '0.5', SYNC_PAGE_SIZE: '40' } });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
  });

  const paths: [string, ImapVia, string][] = [
    ['QRESYNC', 'starttls', 'qresync'],
    ['neither CONDSTORE nor QRESYNC', 'legacy', 'flags'],
  ];
  for (const [name, via, mode] of paths) {
    it(`syncs every folder, then follows each kind of change (${name})`, async () => {
      const user = createImapUser();
      await seedMailbox(user, { folders: { INBOX: 60, Archive: 25, 'Archive/2025': 10 } });
      const { accountId, mailboxId } = await linkImap(rig, user, via);
      await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
      const first = await waitForImapMirror(rig, user, accountId);
      expect(first).toHaveLength(95);
      expect(first.every((m) => m.subject.length > 0 && m.from !== null)).toBe(true);

      await makeChanges(user);
      await waitForImapMirror(rig, user, accountId);
      await asImapUser(user, (client) => deleteFolder(client, 'Projects'));
      const after = await waitForImapMirror(rig, user, accountId);
      expect(after.some((m) => m.folder.name === 'Projects')).toBe(false);
      expect(await folderModes(rig, mailboxId)).toEqual([mode]);
    }, 180_000);
  }

  it('follows changes made while the initial sync is still running, on the CONDSTORE-only path', async () => {
    const condstore = await startSyncRig({ env: { ...imapTestEnv(), IMAP_USE_QRESYNC: 'false', IMAP_POLL_INTERVAL_SECONDS: '1', SYNC_PAGE_SIZE: '40' } });
    try {
      const user = createImapUser();
      await seedMailbox(user, { folders: { INBOX: 400, Archive: 200, 'Archive/2025': 10 } });
      const { accountId, mailboxId } = await linkImap(condstore, user);
      // Changes start as soon as the first page is in: the initial sync is still reading.
      await condstore.waitForMailbox(mailboxId, (m) => m.sync.messagesIndexed > 0 && m.status === 'SYNCING', 60_000);
      await makeChanges(user);
      await waitForImapMirror(condstore, user, accountId);
      await asImapUser(user, (client) => expungeMessages(client, 'Archive', '1:5'));
      await waitForImapMirror(condstore, user, accountId);
      expect(await folderModes(condstore, mailboxId)).toEqual(['condstore']);
    } finally {
      await condstore.close();
    }
  }, 240_000);

  it('reads a folder afresh when its UIDVALIDITY changes, without duplicates', async () => {
    const user = createImapUser();
    await seedMailbox(user, { folders: { INBOX: 30, Archive: 20, 'Archive/2025': 1 } });
    const { accountId, mailboxId } = await linkImap(rig, user);
    await waitForImapMirror(rig, user, accountId);
    const uidValidity = changeUidValidity(user, 'Archive');
    await asImapUser(user, (client) => appendMessages(client, 'Archive', 1));
    await waitForImapMirror(rig, user, accountId);
    // The folder was read afresh under its new UIDVALIDITY (its cursor names it), and the index still equals the mailbox.
    const { db, close } = connectDatabase(testConfig(rig.env).DATABASE_URL, { max: 1 });
    try {
      await until(
        'the folder read under its new UIDVALIDITY',
        async () => {
          const cursors = await db.execute<{ cursor: string | null }>(
            `select cursor from mailbox_folders where mailbox_id = '${mailboxId}' and display_name = 'Archive'`,
          );
          return (
            cursors.length === 1 &&
            cursors[0]!.cursor !== null &&
            (JSON.parse(cursors[0]!.cursor) as { uidValidity: string }).uidValidity === String(uidValidity)
          );
        },
        60_000,
      );
    } finally {
      await close();
    }
    await waitForImapMirror(rig, user, accountId);
  }, 180_000);

  it('names new mail created and a read updated on the live feed; a move is a creation in its new folder and a removal (UIDs change)', async () => {
    const user = createImapUser();
    await seedMailbox(user, { folders: { INBOX: 10, Archive: 5 } });
    const { accountId, mailboxId } = await linkImap(rig, user);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const listed = await waitForImapMirror(rig, user, accountId);
    const start = (await rig.feed(mailboxId)).at(-1)?.seq ?? 0;
    const [read, moved] = listed.filter((m) => m.folder.name === 'INBOX');
    const archiveId = listed.find((m) => m.folder.name === 'Archive')!.folder.id;
    const uidOf = (m: MessageView) => Number(m.id.split('/').at(-1));

    const { arrivedUid, movedUid } = await asImapUser(user, async (client) => {
      const { uids } = await appendMessages(client, 'INBOX', 1);
      await (read!.isRead ? markUnseen : markSeen)(client, 'INBOX', [uidOf(read!)]);
      const uidMap = await moveMessages(client, 'INBOX', [uidOf(moved!)], 'Archive');
      return { arrivedUid: uids[0]!, movedUid: uidMap.get(uidOf(moved!))! };
    });
    const arrived = messageIdOf(read!.folder.id, arrivedUid);
    const movedTo = messageIdOf(archiveId, movedUid);
    await waitForImapMirror(rig, user, accountId);
    const events = await waitFor(
      'the moved message removed from its old folder on the feed',
      () => rig.feed(mailboxId, start),
      (recorded) => recorded.some((e) => (e.data.removed as string[] | undefined)?.includes(moved!.id)),
    );
    const changes = changesIn(events).map((c) => [c.kind, c.message.id, c.kind === 'created' ? [] : c.changed]);
    expect(changes.sort()).toEqual(
      [
        ['created', arrived, []],
        ['updated', read!.id, ['isRead']],
        ['created', movedTo, []],
      ].sort(),
    );
  }, 120_000);

  it("waits out the server's connection limit ([LIMIT] at login) without asking the user to sign in again", async () => {
    const user = createImapUser();
    await seedMailbox(user, { folders: { INBOX: 20 } });
    const { accountId, mailboxId } = await linkImap(rig, user);
    await waitForImapMirror(rig, user, accountId);
    // The user's own clients take every connection Dovecot allows them (10 per user and address).
    const held: Awaited<ReturnType<typeof imapUserClient>>[] = [];
    try {
      for (;;) {
        try {
          held.push(await imapUserClient(user));
        } catch {
          break;
        }
      }
      await appendMessages(held[0]!, 'INBOX', 1);
      // Its watch may hold no connection now either: the round is asked for.
      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/sync`, { method: 'POST' })).status).toBe(202);
      // The sync's page is refused at login with [LIMIT]: Temporal retries it later (the failure is its last attempt's).
      const temporal = await connectTemporalClient(testConfig(rig.env));
      try {
        await until(
          'a page refused with [LIMIT]',
          async () => {
            const { raw } = await temporal.workflow.getHandle(`mailbox-sync-${mailboxId}`).describe();
            return (raw.pendingActivities ?? []).some((a) => /LIMIT/.test(a.lastFailure?.message ?? ''));
          },
          60_000,
        );
      } finally {
        await temporal.connection.close();
      }
      expect((await rig.mailbox(mailboxId)).status).toBe('LIVE');
    } finally {
      for (const client of held) await client.logout().catch(() => client.close());
    }
    await waitForImapMirror(rig, user, accountId);
    expect((await rig.mailbox(mailboxId)).status).toBe('LIVE');
  }, 180_000);

  it('follows an INBOX change by IDLE alone, with no poll and the folder check as often as imapflow waits to IDLE', async () => {
    // The workflow's own rounds an hour apart: only the watch's IDLE can bring the change. A folder check every
    // 5 s once kept the watching connection from ever IDLEing (imapflow waited 15 s of quiet), and Dovecot's
    // STATUS of the selected INBOX does not see another session's changes.
    const idle = await startSyncRig({
      env: { ...imapTestEnv(), IMAP_POLL_INTERVAL_SECONDS: '3600', IMAP_WATCHED_POLL_INTERVAL_SECONDS: '3600', IMAP_FOLDER_CHECK_SECONDS: '5' },
    });
    try {
      const user = createImapUser();
      await seedMailbox(user, { folders: { INBOX: 10 } });
      const { accountId, mailboxId } = await linkImap(idle, user);
      await idle.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
      await waitForImapMirror(idle, user, accountId);
      // The change comes once the watch is up (its connection then runs a folder check every 5 s).
      const { db, close } = connectDatabase(testConfig(idle.env).DATABASE_URL, { max: 1 });
      try {
        await until(
          'the IDLE watch to be up',
          async () => (await db.execute(`select 1 from imap_watches where mailbox_id = '${mailboxId}' and watching_since is not null`)).length === 1,
          60_000,
        );
      } finally {
        await close();
      }
      await asImapUser(user, async (client) => {
        const uids = await folderUids(client, 'INBOX');
        await markSeen(client, 'INBOX', uids.slice(0, 1));
        await markUnseen(client, 'INBOX', uids.slice(1, 2));
      });
      await waitForImapMirror(idle, user, accountId, 20_000);
    } finally {
      await idle.close();
    }
  }, 180_000);

  it('says push is back when a watch is taken over while the workflow was told it is interrupted', async () => {
    // A watch leased anew (its holder died, or its lease ran out) cannot know what the holder before it told
    // the workflow: its first connection says `restored`, or push stays down with the watch up.
    const user = createImapUser();
    await seedMailbox(user, { folders: { INBOX: 3 } });
    const { mailboxId } = await linkImap(rig, user);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const pushHealthy = async () => ((await rig.mailbox(mailboxId)).sync.progress as unknown as { push?: { healthy: boolean } } | null)?.push?.healthy;
    const { db, close } = connectDatabase(testConfig(rig.env).DATABASE_URL, { max: 1 });
    const watch = async () =>
      (
        await db.execute<{ holder: string | null; up: boolean }>(
          `select holder, watching_since is not null as up from imap_watches where mailbox_id = '${mailboxId}'`,
        )
      )[0];
    try {
      await until('the IDLE watch to be up, and push healthy', async () => (await watch())?.up === true && (await pushHealthy()) === true, 60_000);
      // The holder before told the workflow its watch was down, then died with its lease.
      const temporal = await connectTemporalClient(testConfig(rig.env));
      try {
        await temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).signal(subscriptionLifecycleSignal, { event: 'interrupted' });
      } finally {
        await temporal.connection.close();
      }
      await until('push to be reported down', async () => (await pushHealthy()) === false, 30_000);
      await db.execute(
        `update imap_watches set holder = 'a-worker-that-died', held_until = now() - interval '1 second', watching_since = null where mailbox_id = '${mailboxId}'`,
      );
      await until(
        'another watch to be up',
        async () => {
          const now = await watch();
          return now?.holder !== 'a-worker-that-died' && now?.up === true;
        },
        60_000,
      );
      await until('push to be reported back', async () => (await pushHealthy()) === true, 30_000);
    } finally {
      await close();
    }
  }, 180_000);

  it('never holds more connections to the server than IMAP_CONNECTIONS_PER_MAILBOX', async () => {
    // A front port counts the mailbox's connections to Dovecot as they open and close.
    let open = 0;
    let most = 0;
    const sockets = new Set<Socket>();
    const server = imapServer();
    const front = createServer((client) => {
      open += 1;
      most = Math.max(most, open);
      const upstream = connect(server.port, server.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
      }
      client.on('close', () => {
        open -= 1;
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const limited = await startSyncRig({ env: { ...imapTestEnv(), IMAP_CONNECTIONS_PER_MAILBOX: '3', IMAP_POLL_INTERVAL_SECONDS: '1', SYNC_PAGE_SIZE: '20' } });
    try {
      const user = createImapUser();
      await seedMailbox(user, { folders: { INBOX: 120, Archive: 60, Sent: 60, Junk: 20, 'Archive/2025': 10 } });
      const port = (front.address() as { port: number }).port;
      const { accountId } = await linkImap(limited, user, 'starttls', { ...imapConnection(user), port });
      await waitForImapMirror(limited, user, accountId);
      await makeChanges(user);
      await waitForImapMirror(limited, user, accountId);
      expect(most).toBeGreaterThanOrEqual(2);
      expect(most).toBeLessThanOrEqual(3);
    } finally {
      await limited.close();
      for (const s of sockets) s.destroy();
      front.close();
    }
  }, 240_000);
});
