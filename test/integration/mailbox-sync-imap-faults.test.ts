// IMAP mailbox sync under load and faults, against a real Dovecot, real Temporal, PostgreSQL and
// Elasticsearch: a 2,000-message initial sync; a move whose two folders are read in either order (forced by
// holding one folder's page activity at a Temporal interceptor); Dovecot itself killed with SIGKILL mid
// initial sync and started again (a private instance, on ports and a data dir of its own); the sync worker
// process killed mid-batch; a password changed, and an OAuth token revoked, after the link, then new
// credentials linked again. Every wait is on a condition; each fault lands where the test put it.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActivityInboundCallsInterceptor, WorkerInterceptors } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MessagePagesInput } from '../../activities/mailbox-sync.js';
import { mailPendingRemovals } from '../../db/schema/index.js';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { addDovecotUser, dovecotLayout, ensureDovecot, type DovecotPorts, type DovecotService } from '../../scripts/services/dovecot.js';
import { repoRoot } from '../../scripts/services/index.js';
import { seedImapMailbox } from '../../scripts/services/imap-mail.js';
import { portOpen } from '../../scripts/services/process.js';
import { endProcess, freePort, groupMembersAlive, waitFor } from '../helpers/chaos.js';
import {
  appendMessages,
  asImapUser,
  createImapUser,
  folderUids,
  imapConnection,
  imapServer,
  imapTestEnv,
  imapUserClient,
  mintImapToken,
  moveMessages,
  revokeImapToken,
  seedMailbox,
  type ImapUser,
} from '../helpers/imap.js';
import { linkImap, waitForImapMirror } from '../helpers/imap-sync.js';
import { startSyncRig, until, type MailboxDetail, type MessageView, type SyncRig } from '../helpers/mailbox-sync.js';
import { unique } from '../helpers/config.js';
import { waitUntil } from '../helpers/wait.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

/** Holds one account's page activities (syncMessagePage) of one folder at the worker until released. */
interface Hold {
  accountId: string;
  folderName: string;
  when: (input: MessagePagesInput) => boolean;
  open: boolean;
  opened: Promise<void>;
  /** Attempts waiting at the hold now; attempts that ran after the release and failed. */
  waiting: number;
  failed: number;
  release: () => void;
}
const holds: Hold[] = [];

function holdPages(accountId: string, folderName: string, when: (input: MessagePagesInput) => boolean = () => true): Hold {
  let release = () => {};
  const opened = new Promise<void>((resolve) => (release = resolve));
  const hold: Hold = {
    accountId,
    folderName,
    when,
    open: false,
    opened,
    waiting: 0,
    failed: 0,
    release: () => {
      hold.open = true;
      release();
    },
  };
  holds.push(hold);
  return hold;
}

const interceptors: WorkerInterceptors = {
  activity: [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const page = input.args[0] as MessagePagesInput;
          const hold =
            ctx.info.activityType === 'syncMessagePage'
              ? holds.find((h) => !h.open && h.accountId === page.accountId && h.folderName === page.folderName && h.when(page))
              : undefined;
          if (!hold) return next(input);
          hold.waiting += 1;
          // Held before it reads anything: it reads the server as it is when released. Its heartbeats (with the
          // checkpoint it came with) keep the attempt from timing out meanwhile.
          while (!hold.open) {
            ctx.heartbeat(ctx.info.heartbeatDetails);
            await Promise.race([hold.opened, sleep(1_000)]);
          }
          hold.waiting -= 1;
          try {
            return await next(input);
          } catch (error) {
            hold.failed += 1;
            throw error;
          }
        },
      } satisfies ActivityInboundCallsInterceptor,
    }),
  ],
};

/** While the watch is up a mailbox's own round is every 300 s (the default): a change shows within a test only if the watch reports it. */
const rigEnv = () => ({ ...imapTestEnv(), IMAP_FOLDER_CHECK_SECONDS: '0.5', SYNC_PAGE_SIZE: '50', SYNC_PAGES_PER_ACTIVITY: '2' });

type LinkBody = { host: string; port: number; tls: string; username: string } & ({ password: string } | { accessToken: string });

/** POST /v1/accounts/{id}/mailboxes/imap: a link (201), or a re-link of the same login on the same account (200). */
async function linkTo(rig: SyncRig, accountId: string, body: LinkBody, status: 200 | 201): Promise<string> {
  const response = await rig.api.request(`/v1/accounts/${accountId}/mailboxes/imap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== status) throw new Error(`IMAP link: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

function loginOf(user: ImapUser, port = imapConnection(user).port) {
  const { host, tls, username } = imapConnection(user);
  return { host, port, tls, username };
}

async function syncNow(rig: SyncRig, mailboxId: string): Promise<void> {
  const response = await rig.api.request(`/v1/mailboxes/${mailboxId}/sync`, { method: 'POST' });
  if (response.status !== 202) throw new Error(`sync: ${response.status} ${await response.text()}`);
}

async function canLogIn(user: ImapUser): Promise<boolean> {
  try {
    await asImapUser(user, () => Promise.resolve());
    return true;
  } catch {
    return false;
  }
}

const live = (m: MailboxDetail) => m.status === 'LIVE';

/** The mailbox workflow's push state, as its progress query answers it. */
async function pushOf(rig: SyncRig, mailboxId: string): Promise<{ healthy: boolean | undefined }> {
  const progress = (await rig.mailbox(mailboxId)).sync.progress as unknown as { push?: { healthy: boolean } } | null;
  return { healthy: progress?.push?.healthy };
}

/**
 * A Dovecot of the test's own, on free ports and a data dir of its own, with the suite's certificate (so the
 * rig trusts it): killed with SIGKILL (every process of each master's group) and started again on the same mail.
 */
async function privateDovecot() {
  const dataDir = join(repoRoot, '.data', `imap-kill-${inject('services').TEST_RUN_ID}`);
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (taken.has(p)) continue;
      taken.add(p);
      return p;
    }
  };
  const ports: DovecotPorts = { imap: await port(), imaps: await port(), legacy: await port(), oauth: await port() };
  const tlsDir = dovecotLayout(dataDir).tlsDir;
  mkdirSync(tlsDir, { recursive: true });
  for (const file of ['ca.pem', 'ca.key', 'server.pem', 'server.key']) copyFileSync(join(dirname(imapServer().caFile), file), join(tlsDir, file));
  // `fast` only the first time: it starts from an empty mail store.
  const start = (fast: boolean) => ensureDovecot({ dataDir, ports, env: process.env, fast });
  const started: DovecotService[] = [await start(true)];
  return {
    ports,
    passwdDir: started[0]!.passwdDir,
    async kill(): Promise<void> {
      const masters = started.at(-1)!.processes;
      if (masters.length === 0) throw new Error('this Dovecot was not started by the test');
      for (const { child } of masters) {
        const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
        await waitFor(`every process of Dovecot's group ${child.pid} to be gone`, () => Promise.resolve(groupMembersAlive(child.pid!).length === 0), 30_000);
      }
      await waitFor("the private Dovecot's ports to close", async () => !(await portOpen(ports.imap)) && !(await portOpen(ports.legacy)), 30_000);
    },
    async restart(): Promise<void> {
      const again = await start(false);
      started.push(again);
      if (!again.started) throw new Error('the private Dovecot was found running, not started again');
    },
    async stop(): Promise<void> {
      for (const service of started.reverse()) await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('IMAP mailbox sync under load and faults', () => {
  let rig: SyncRig;
  beforeAll(async () => {
    rig = await startSyncRig({ env: rigEnv(), workers: false });
    await rig.startWorkers({}, interceptors);
  }, 120_000);
  afterAll(async () => {
    for (const hold of holds) hold.release();
    await rig?.close();
  });

  it('syncs a 2,000-message mailbox of several folders in full', async () => {
    const user = createImapUser('big');
    const counts = { INBOX: 800, Archive: 500, Sent: 400, 'Archive/2025': 200, Junk: 100 };
    await seedMailbox(user, { folders: counts });
    const { accountId, mailboxId } = await linkImap(rig, user);
    const indexed = await waitForImapMirror(rig, user, accountId, 150_000);
    expect(indexed).toHaveLength(2_000);
    expect(new Set(indexed.map((m) => m.id)).size).toBe(2_000);
    const mailbox = await rig.waitForMailbox(mailboxId, live);
    expect(mailbox.sync.messagesIndexed).toBeGreaterThanOrEqual(2_000);
    expect(mailbox.sync.messagesInIndex).toBe(2_000);
    expect(mailbox.sync.foldersSynced).toBe(mailbox.sync.foldersTotal);
    expect(Object.fromEntries(mailbox.folders.filter((f) => f.total > 0).map((f) => [f.name, f.total]))).toEqual(counts);
  }, 240_000);

  // A move from INBOX to Archive; the folder read second is held until the first has been read after the move.
  const orders = [
    { first: 'destination', held: 'INBOX' },
    { first: 'source', held: 'Archive' },
  ] as const;
  for (const { first, held: heldFolder } of orders) {
    it(`ends a move as one document in its new folder when the ${first} is read first (forced)`, async () => {
      const user = createImapUser('move');
      await seedMailbox(user, { folders: { INBOX: 20, Archive: 10 } });
      const { accountId, mailboxId } = await linkImap(rig, user);
      const before = await waitForImapMirror(rig, user, accountId);
      await rig.waitForMailbox(mailboxId, live);
      const folderId = (name: string) => before.find((m) => m.folder.name === name)!.folder.id;
      const [uid] = await asImapUser(user, (client) => folderUids(client, 'INBOX'));
      const oldId = `${folderId('INBOX')}/${uid}`;
      let newId = '';
      const copies = (messages: MessageView[]) => messages.filter((m) => m.id === oldId || m.id === newId).map((m) => m.id);

      // The folder to be read second waits at the hold, from a round that starts before the move.
      const hold = holdPages(accountId, heldFolder);
      // From the move on, how many documents the message has, as often as the index can be read.
      const seen: number[] = [];
      let counting = true;
      let counter: Promise<void> | undefined;
      let after: MessageView[];
      try {
        try {
          await syncNow(rig, mailboxId);
          await until(`a read of ${heldFolder} to wait at the hold`, () => Promise.resolve(hold.waiting === 1));
          const moved = await asImapUser(user, (client) => moveMessages(client, 'INBOX', [uid!], 'Archive'));
          newId = `${folderId('Archive')}/${moved.get(uid!)}`;
          counter = (async () => {
            while (counting) seen.push(copies(await rig.messages(accountId)).length);
          })();

          if (first === 'destination') {
            // Archive read after the move while INBOX waits: the new document is there and the old one too.
            await waitUntil(
              'the moved message to be indexed in Archive',
              async () => ((await rig.messages(accountId)).some((m) => m.id === newId) ? true : undefined),
              30_000,
            );
            expect(copies(await rig.messages(accountId)).sort()).toEqual([oldId, newId].sort());
          } else {
            // INBOX read after the move while Archive waits: its removal is recorded but not applied, and the
            // old document is the only one.
            await until(
              'the removal from INBOX to be recorded',
              async () =>
                (
                  await rig.api.deps.db
                    .select()
                    .from(mailPendingRemovals)
                    .where(and(eq(mailPendingRemovals.mailboxId, mailboxId), eq(mailPendingRemovals.messageId, oldId)))
                ).length > 0,
            );
            expect(copies(await rig.messages(accountId))).toEqual([oldId]);
          }
          expect(hold.waiting).toBe(1);
        } finally {
          hold.release();
        }
        after = await waitForImapMirror(rig, user, accountId);
      } finally {
        counting = false;
        await counter;
      }
      expect(after.filter((m) => m.id === oldId || m.id === newId).map((m) => [m.id, m.folder.name])).toEqual([[newId, 'Archive']]);
      expect(after).toHaveLength(30);
      // Never none: the removal waited until the destination had been read.
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...seen)).toBeLessThanOrEqual(2);
      await until(
        'the removal to be applied and dropped',
        async () => (await rig.api.deps.db.select().from(mailPendingRemovals).where(eq(mailPendingRemovals.mailboxId, mailboxId))).length === 0,
      );
    }, 120_000);
  }

  it('recovers from Dovecot killed (SIGKILL) and restarted mid initial sync: nothing lost or doubled, and the IDLE watch reconnects', async () => {
    const dovecot = await privateDovecot();
    try {
      const user: ImapUser = { user: `${unique('crash').toLowerCase()}@mailflow.test`, password: randomBytes(12).toString('base64url') };
      addDovecotUser(dovecot.passwdDir, user.user, user.password);
      const at = { port: dovecot.ports.imap };
      await seedImapMailbox(() => imapUserClient(user, at), { owner: user.user, folders: { INBOX: 600, Archive: 600, Sent: 300 } });
      const accountId = await rig.createAccount(user.user);
      // Archive's second batch waits at the hold: the initial sync is mid-way, and mid-folder, when the server dies.
      const hold = holdPages(accountId, 'Archive', (page) => page.cursor !== null);
      let mailboxId: string;
      try {
        mailboxId = await linkTo(rig, accountId, { ...loginOf(user, dovecot.ports.imap), password: user.password }, 201);
        await until("Archive's second batch to wait at the hold", () => Promise.resolve(hold.waiting === 1), 60_000);
        const mid = await rig.waitForMailbox(mailboxId, (m) => m.status === 'SYNCING');
        expect(mid.sync.messagesIndexed).toBeGreaterThan(0);
        expect(mid.sync.messagesIndexed).toBeLessThan(1_500);
        await dovecot.kill();
        // The held batch now reads from a dead server, and fails.
        hold.release();
        await until('the held batch to fail against the dead server', () => Promise.resolve(hold.failed > 0), 30_000);
      } finally {
        hold.release();
      }
      // The watch cannot connect: push is reported down, so folders are polled as without push meanwhile.
      await until('push to be reported down', async () => (await pushOf(rig, mailboxId)).healthy === false, 60_000);
      await dovecot.restart();
      const indexed = await waitForImapMirror(rig, user, accountId, 120_000, at);
      expect(indexed).toHaveLength(1_500);
      expect(new Set(indexed.map((m) => m.id)).size).toBe(1_500);
      await rig.waitForMailbox(mailboxId, live);
      // The watch retries with back-off up to a minute apart, so its next attempt may be that far off.
      await until('push to be reported back', async () => (await pushOf(rig, mailboxId)).healthy === true, 150_000);
      // New mail in INBOX shows: the IDLE watch is connected again (the mailbox's own round is minutes away).
      await asImapUser(user, (client) => appendMessages(client, 'INBOX', 1), at);
      expect(await waitForImapMirror(rig, user, accountId, 60_000, at)).toHaveLength(1_501);
    } finally {
      await dovecot.stop();
    }
  }, 420_000);

  it('loses and doubles nothing when the sync worker process is killed (SIGKILL) mid-batch and another takes over', async () => {
    // A rig of its own without in-process workers: its sync workers are processes, on its own task queues.
    const apart = await startSyncRig({ env: { ...imapTestEnv(), SYNC_PAGE_SIZE: '10' }, workers: false });
    const workers: WorkerProcess[] = [];
    try {
      const user = createImapUser('killed');
      await seedMailbox(user, { folders: { INBOX: 700, Archive: 500, Sent: 300 } });
      workers.push(spawnWorkerProcess('mailbox-sync', apart.env));
      await workers[0]!.ready;
      const { accountId, mailboxId } = await linkImap(apart, user);
      const atKill = await apart.waitForMailbox(
        mailboxId,
        (m) => m.status === 'SYNCING' && m.sync.messagesIndexed > 0 && (m.sync.progress?.requestsInFlight ?? 0) > 0,
      );
      workers[0]!.child.kill('SIGKILL');
      await workers[0]!.exited;
      expect(atKill.sync.messagesIndexed).toBeLessThan(1_500);
      workers.push(spawnWorkerProcess('mailbox-sync', apart.env));
      await workers[1]!.ready;
      const indexed = await waitForImapMirror(apart, user, accountId, 150_000);
      expect(indexed).toHaveLength(1_500);
      expect(new Set(indexed.map((m) => m.id)).size).toBe(1_500);
      await apart.waitForMailbox(mailboxId, live);
      // The batch the dead worker held was taken up again once its heartbeat timed out.
      const history = await apart.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).fetchHistory();
      const retried = history.events!.filter(
        (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) >= 2 && e.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo,
      );
      expect(retried.length).toBeGreaterThan(0);
    } finally {
      for (const worker of workers) await endProcess(worker.child);
      await apart.close();
    }
  }, 240_000);

  it('asks for sign-in again when the password changes, and a re-link with the new one brings it back LIVE', async () => {
    const user = createImapUser('password');
    await seedMailbox(user, { folders: { INBOX: 10, Archive: 5 } });
    const accountId = await rig.createAccount(user.user);
    const mailboxId = await linkTo(rig, accountId, { ...loginOf(user), password: user.password }, 201);
    await rig.waitForMailbox(mailboxId, live);
    await waitForImapMirror(rig, user, accountId);

    const changed: ImapUser = { user: user.user, password: randomBytes(12).toString('base64url') };
    addDovecotUser(imapServer().passwdDir, changed.user, changed.password);
    // Dovecot stats a passwd-file at most once a second and reloads it when its mtime or size changed: the old
    // password is refused from then on (a busy machine can hold the auth process up for longer).
    await until('the old password to be refused', async () => !(await canLogIn(user)), 45_000, 200);
    await syncNow(rig, mailboxId);
    const refused = await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    expect(refused.sync.lastError).toMatch(/refused the login/);

    // Mail that comes while it waits is read once the new password is linked.
    await asImapUser(changed, (client) => appendMessages(client, 'INBOX', 2));
    expect(await linkTo(rig, accountId, { ...loginOf(user), password: changed.password }, 200)).toBe(mailboxId);
    await rig.waitForMailbox(mailboxId, live);
    expect(await waitForImapMirror(rig, changed, accountId)).toHaveLength(17);
  }, 120_000);

  it('asks for sign-in again when its OAuth token is revoked, and a re-link with a new token brings it back LIVE', async () => {
    const user = createImapUser('oauth');
    await seedMailbox(user, { folders: { INBOX: 10, Archive: 5 } });
    const accountId = await rig.createAccount(user.user);
    const token = await mintImapToken(user);
    const mailboxId = await linkTo(rig, accountId, { ...loginOf(user), accessToken: token }, 201);
    await rig.waitForMailbox(mailboxId, live);
    await waitForImapMirror(rig, user, accountId);

    expect(await revokeImapToken(token)).toBe(1);
    await syncNow(rig, mailboxId);
    const refused = await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    expect(refused.sync.lastError).toMatch(/refused the login/);

    await asImapUser(user, (client) => appendMessages(client, 'INBOX', 2));
    expect(await linkTo(rig, accountId, { ...loginOf(user), accessToken: await mintImapToken(user) }, 200)).toBe(mailboxId);
    await rig.waitForMailbox(mailboxId, live);
    expect(await waitForImapMirror(rig, user, accountId)).toHaveLength(17);
  }, 120_000);
});
