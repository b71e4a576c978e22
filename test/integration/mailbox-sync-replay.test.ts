// Determinism: the mailboxSync workflow replays histories recorded from real runs. The committed ones
// (test/fixtures/histories/mailbox-sync-*.json, every run of one mailbox's workflow from its link to its
// unlink) come from an earlier version of the code, so a change that breaks replay of running syncs fails
// here. The recorded life takes every path the workflow has: an initial sync in batches, push and its
// lifecycle events, changes and removals, a folder created, renamed and deleted, a throttled page, expired
// cursors and a refused request, pause and resume, a tenant's hold, a resync, a revoked grant and its
// re-link, continue-as-new, and the unlink. `RECORD_HISTORIES=1` writes fresh ones from the current code
// (into `HISTORIES_DIR`, default that folder).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { syncProgressQuery, tenantHoldSignal } from '../../workflows/mailbox-sync.js';
import { historiesDir, historyFromJson, historyToJson, replay, type History } from '../helpers/histories.js';
import { until, withSyncRig } from '../helpers/mailbox-sync.js';
import { installQuietRuntime } from '../helpers/temporal.js';

const dir = historiesDir;
const PREFIX = 'mailbox-sync-';

/** A committed history file: the workflow id and the history, as protobufjs JSON. */
function readRecorded(file: string): { workflowId: string; history: History } {
  const { workflowId, history } = JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as { workflowId: string; history: unknown };
  return { workflowId, history: historyFromJson(history) };
}

beforeAll(() => {
  installQuietRuntime();
});

describe('mailbox sync workflow replay', () => {
  it('replays the committed histories of earlier runs', async () => {
    const runs = readdirSync(dir)
      .filter((f) => f.startsWith(PREFIX) && f.endsWith('.json'))
      .map(readRecorded);
    expect(runs.length, 'committed runs').toBeGreaterThanOrEqual(2);
    expect(await replay(runs)).toEqual([]);
  }, 120_000);

  it('replays every run of a mailbox recorded now, from its link to its unlink', async () => {
    const env = {
      SYNC_PAGE_SIZE: '10',
      SYNC_PAGES_PER_ACTIVITY: '3',
      SYNC_HISTORY_EVENTS_PER_RUN: '400',
      SYNC_POLL_INTERVAL_SECONDS: '60',
      SYNC_PUSH_POLL_INTERVAL_SECONDS: '120',
    };
    await withSyncRig({ workers: false, env }, async (rig) => {
      await rig.startWorkers({ GRAPH_NOTIFICATION_URL: `${rig.api.url}/v1/webhooks/graph` });
      const post = (path: string) => rig.api.request(path, { method: 'POST' });
      const { address, accountId, mailboxId } = await rig.linkNew({ messages: 60 });
      const workflowId = mailboxSyncWorkflowId(mailboxId);
      const handle = rig.api.deps.temporal.workflow.getHandle(workflowId);
      const progress = () => handle.query(syncProgressQuery);
      const mirrored = () => rig.waitForMirror(address, accountId, 60_000);
      // Folder changes are not pushed (the subscription is to messages): a round is asked for.
      const syncNow = async () => {
        expect((await post(`/v1/mailboxes/${mailboxId}/sync`)).status).toBe(202);
      };
      const phase = async (want: string) => {
        await until(`phase ${want}`, async () => (await progress()).phase === want, 60_000);
      };

      // The initial sync, in batches of pages, and a push subscription.
      await mirrored();
      await until('the subscription', async () => (await progress()).push.healthy, 30_000);

      // Changes, told by push: new mail, a read, a move and a delete (removals confirmed by a round), a throttled page.
      const [first, second, third] = await rig.outlook.messages(address, 'inbox');
      await rig.outlook.act(address, { type: 'newMail', subject: 'A new one' });
      await rig.outlook.act(address, { type: 'markRead', id: first!.id, isRead: !first!.isRead });
      await rig.outlook.act(address, { type: 'move', id: second!.id, to: 'archive' });
      await rig.outlook.configure({ throttleNext: { count: 1, status: 429, retryAfterSeconds: 1 } });
      await rig.outlook.act(address, { type: 'delete', id: third!.id });
      await mirrored();

      // A folder created with mail in it, renamed, then deleted with its mail.
      const folder = await rig.outlook.act(address, { type: 'createFolder', displayName: 'Projects' });
      await rig.outlook.act(address, { type: 'newMail', folder: folder.id, subject: 'In a new folder' });
      await syncNow();
      await mirrored();
      await rig.outlook.act(address, { type: 'renameFolder', folder: folder.id, displayName: 'Old projects' });
      await syncNow();
      await until('the rename', async () => (await rig.mailbox(mailboxId)).folders.some((f) => f.name === 'Old projects'), 30_000);
      await rig.outlook.act(address, { type: 'deleteFolder', folder: folder.id });
      await syncNow();
      await until('the folder gone', async () => !(await rig.mailbox(mailboxId)).folders.some((f) => f.id === folder.id), 30_000);
      await mirrored();

      // Push's lifecycle: a renewal asked for, then the subscription removed (a new one is made).
      const subscribed = (await progress()).push.subscriptionId;
      await rig.outlook.lifecycle(address, 'reauthorizationRequired');
      await rig.outlook.lifecycle(address, 'subscriptionRemoved');
      await until(
        'a new subscription',
        async () => {
          const push = (await progress()).push;
          return push.healthy && push.subscriptionId !== subscribed;
        },
        30_000,
      );

      // A refused request (a page fails and backs off), then expired cursors (the folders read afresh).
      await rig.outlook.configure({ expiredTokenStatus: { status: 400, code: 'BadRequest' } });
      await rig.outlook.configure({ expireDeltaTokens: true });
      await syncNow();
      await until('a refused page', async () => ((await progress()).lastError ?? '').includes('refused'), 30_000);
      await rig.outlook.configure({ expiredTokenStatus: { status: 410, code: 'SyncStateNotFound' } });
      await rig.outlook.act(address, { type: 'newMail', subject: 'After the refusal' });
      await mirrored();

      // Pause and resume; the tenant's hold and its release.
      expect((await post(`/v1/mailboxes/${mailboxId}/pause`)).status).toBe(202);
      await phase('PAUSED');
      expect((await post(`/v1/mailboxes/${mailboxId}/resume`)).status).toBe(202);
      await phase('LIVE');
      await handle.signal(tenantHoldSignal, { held: true });
      await phase('PAUSED');
      await handle.signal(tenantHoldSignal, { held: false });
      await phase('LIVE');

      // A full resync.
      const rounds = (await progress()).roundsCompleted;
      expect((await post(`/v1/mailboxes/${mailboxId}/resync`)).status).toBe(202);
      await until('a round after the resync', async () => (await progress()).roundsCompleted > rounds, 60_000);
      await mirrored();

      // A revoked grant, and its re-link.
      await rig.outlook.revoke(address);
      await syncNow();
      await phase('REAUTH_REQUIRED');
      expect((await rig.link(accountId, address)).status).toBe(302);
      await rig.outlook.act(address, { type: 'newMail', subject: 'After the re-link' });
      await syncNow();
      await mirrored();
      await phase('LIVE');

      // Unlink: the last run purges the mailbox and ends.
      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}`, { method: 'DELETE' })).status).toBe(202);
      await handle.result();

      // Every run, the first first: each names the run it continues.
      const runs: { name: string; workflowId: string; history: History }[] = [];
      let runId: string | undefined;
      for (;;) {
        const history = await rig.api.deps.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
        runs.unshift({ name: '', workflowId, history });
        runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
        if (!runId) break;
      }
      runs.forEach((run, i) => {
        run.name = `${PREFIX}run-${i + 1}`;
      });
      expect(runs.length, 'runs of the workflow (it continued as new)').toBeGreaterThanOrEqual(2);
      expect(await replay(runs)).toEqual([]);
      if (process.env.RECORD_HISTORIES === '1') {
        mkdirSync(dir, { recursive: true });
        for (const f of readdirSync(dir).filter((n) => n.startsWith(PREFIX))) rmSync(`${dir}${f}`);
        for (const { name, history } of runs)
          writeFileSync(`${dir}${name}.json`, `${JSON.stringify({ workflowId, history: historyToJson(history) }, null, 1)}\n`);
      }
    });
  }, 300_000);
});
