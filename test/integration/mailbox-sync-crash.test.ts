// Sync worker processes: one killed mid-way through an initial sync (another takes over, and the index
// ends holding exactly the mailbox — nothing lost, nothing twice — including a change made while no
// worker ran), and two sharing one mailbox without exceeding its Graph budget together.
import { describe, expect, it } from 'vitest';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { until } from '../helpers/wait.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { useSyncRig } from '../helpers/mailbox-sync.js';

const rig = useSyncRig({ workers: false });

describe('a sync worker killed mid-sync', () => {
  it('resumes in another process with nothing lost or duplicated', async () => {
    // Slow pages, so the kill lands while requests and bulk writes are in flight.
    await rig.outlook.configure({ latencyMs: 80 });
    const first = spawnWorkerProcess('mailbox-sync', rig.env);
    let second: WorkerProcess | undefined;
    try {
      await first.ready;
      const { address, accountId, mailboxId } = await rig.linkNew({ messages: 3_000 });
      await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesInIndex >= 600, 60_000);
      first.child.kill('SIGKILL');
      const atKill = await rig.mailbox(mailboxId);
      expect(atKill.status).toBe('SYNCING');
      expect(atKill.sync.messagesInIndex).toBeLessThan(3_000);

      // Mail changes while no worker runs.
      const [read, gone] = await rig.outlook.messages(address, 'inbox');
      await rig.outlook.act(address, { type: 'markRead', id: read!.id, isRead: !read!.isRead });
      await rig.outlook.act(address, { type: 'delete', id: gone!.id });
      await rig.outlook.act(address, { type: 'newMail', subject: 'While the worker was down' });

      second = spawnWorkerProcess('mailbox-sync', rig.env);
      await second.ready;
      const mirrored = await rig.waitForMirror(address, accountId, 120_000);
      expect(mirrored).toHaveLength(3_000);
      expect(new Set(mirrored.map((m) => m.id)).size).toBe(3_000);
      const done = await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE', 60_000);
      expect(done.sync.messagesInIndex).toBe(3_000);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await rig.outlook.configure({ latencyMs: 0 });
    }
  }, 240_000);
});

describe('two sync worker processes', () => {
  it("share one mailbox's pages and together never exceed its 4 requests in flight", async () => {
    await rig.outlook.configure({ latencyMs: 120 });
    // Two activity slots each: the mailbox's 4 requests in flight can only be reached with both processes
    // running its pages at once (the workflow's own worker would otherwise take them all by eager dispatch).
    const env = { ...rig.env, SYNC_ACTIVITY_SLOTS: '2' };
    const workers = [spawnWorkerProcess('mailbox-sync', env), spawnWorkerProcess('mailbox-sync', env)];
    try {
      await Promise.all(workers.map((w) => w.ready));
      const address = `shared-${Date.now()}@contoso.test`;
      await rig.outlook.createMailbox(address, { messages: 800 });
      const teams: string[] = [];
      for (let i = 0; i < 8; i++) {
        const folder = await rig.outlook.act(address, { type: 'createFolder', displayName: `Team ${i}` });
        await rig.outlook.seed(address, 60, folder.id);
        teams.push(folder.id);
      }
      // Every folder's pages wait at the simulator until the mailbox has 4 in flight: the limit is reached
      // however slowly this machine runs, and then held to.
      await rig.outlook.configure({ holdFolders: ['inbox', ...teams] });
      const accountId = await rig.createAccount(address);
      const linked = await rig.link(accountId, address);
      const mailboxId = linked.location!.searchParams.get('mailboxId')!;
      await until('4 page requests of the mailbox in flight', async () => (await rig.outlook.stats()).maxConcurrent[address] === 4, 120_000);
      await rig.outlook.configure({ holdFolders: [] });
      await rig.waitForMirror(address, accountId, 120_000);
      const stats = await rig.outlook.stats();
      expect(stats.maxConcurrent[address]).toBe(4);
      expect(stats.concurrencyRefusals[address] ?? 0).toBe(0);
      // Both processes ran this mailbox's pages.
      const history = await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).fetchHistory();
      const identities = new Set(history.events?.map((e) => e.activityTaskStartedEventAttributes?.identity).filter(Boolean));
      expect(identities.size).toBe(2);
    } finally {
      await rig.outlook.configure({ holdFolders: [] });
      for (const w of workers) w.child.kill('SIGTERM');
      await rig.outlook.configure({ latencyMs: 0 });
    }
  }, 180_000);
});
