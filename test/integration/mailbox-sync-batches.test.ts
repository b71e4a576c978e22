// A folder in its initial sync is read several pages per activity (fewer workflow turns per page), still
// one request at a time, each page recorded before its next link is followed; an attempt that fails
// mid-batch is retried from the last page it recorded, so no page is read twice and none is skipped.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { syncMetrics } from '../../lib/mailbox-sync/metrics.js';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { withSyncRig } from '../helpers/mailbox-sync.js';

it('reads a folder several pages per activity, and a batch throttled mid-way goes on from its last recorded page', async () => {
  // Long poll interval: once the small folders are done, every request is one of the inbox's pages.
  await withSyncRig({ env: { SYNC_PAGES_PER_ACTIVITY: '100', SYNC_POLL_INTERVAL_SECONDS: '600' } }, async (rig) => {
    const address = `batches-${Date.now()}@contoso.test`;
    const counted = async (metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }) =>
      (await metric.get()).values.filter((v) => v.labels.provider === 'outlook').reduce((n, v) => n + v.value, 0);
    const before = {
      pages: await counted(syncMetrics.pages),
      throttled: await counted(syncMetrics.throttled),
      written: await counted(syncMetrics.messagesWritten),
    };
    await rig.outlook.createMailbox(address, { messages: 0 });
    await rig.outlook.seed(address, 500, 'inbox'); // ten pages of 50
    await rig.outlook.configure({ latencyMs: 300 });
    try {
      const accountId = await rig.createAccount(address);
      const linked = await rig.link(accountId, address);
      const mailboxId = linked.location!.searchParams.get('mailboxId')!;
      const inboxId = (await rig.waitForMailbox(mailboxId, (m) => m.folders.some((f) => f.name === 'Inbox'))).folders.find((f) => f.name === 'Inbox')!.id;
      const inboxPages = async () =>
        (await rig.outlook.requests({ mailbox: address })).filter((r) => r.path.includes(inboxId) && r.path.endsWith('/messages/delta'));
      // Three pages answered: the fourth is in its 300 ms of latency, and is the one refused.
      const deadline = Date.now() + 60_000;
      while ((await inboxPages()).filter((r) => r.status === 200).length < 3) {
        if (Date.now() > deadline) throw new Error('the inbox sync did not start');
        await sleep(20);
      }
      await rig.outlook.configure({ throttleNext: { count: 1, status: 429, retryAfterSeconds: 1 } });
      expect(await rig.waitForMirror(address, accountId, 60_000)).toHaveLength(500);

      const log = await inboxPages();
      const refused = log.filter((r) => r.status === 429);
      expect(refused).toHaveLength(1);
      const answered = log.filter((r) => r.status === 200);
      // The refused page was neither a batch's first nor skipped: it is asked again, after Retry-After…
      expect(answered.findIndex((r) => r.cursor === refused[0]!.cursor)).toBeGreaterThanOrEqual(3);
      // …and no page was read twice (a retry from the batch's first cursor would read its pages again).
      expect(new Set(answered.map((r) => r.cursor)).size).toBe(answered.length);
      // One request at a time: each page's request starts after the previous one ended.
      for (let i = 1; i < log.length; i++) expect(log[i]!.startedAt).toBeGreaterThanOrEqual(log[i - 1]!.endedAt);

      // Fewer activities than pages: the ten pages (and the refused one) took two activity attempts, not eleven.
      const history = await rig.api.deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(mailboxId)).fetchHistory();
      const inboxActivities = history.events!.filter((e) => {
        const input = e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data;
        return input && Buffer.from(input).toString().includes(`"folderId":"${inboxId}"`);
      });
      expect(answered.length).toBeGreaterThanOrEqual(10);
      expect(inboxActivities.length).toBeLessThanOrEqual(2);
      // The worker's metrics saw the same: every page, the messages written and the one 429.
      expect((await counted(syncMetrics.pages)) - before.pages).toBeGreaterThanOrEqual(answered.length);
      expect((await counted(syncMetrics.messagesWritten)) - before.written).toBe(500);
      expect((await counted(syncMetrics.throttled)) - before.throttled).toBe(1);
    } finally {
      await rig.outlook.configure({ latencyMs: 0, throttleNext: null });
    }
  });
}, 120_000);
