// Mailbox sync under Graph's failures: throttling with Retry-After, the 4-request limit per mailbox,
// expired delta tokens, empty pages, a revoked grant and re-linking, continuing as new, and the same
// engine on the PostgreSQL index.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it } from 'vitest';
import { indexNames } from '../../lib/mail-index/mappings.js';
import { mailboxSyncWorkflowId } from '../../lib/mailbox-sync/start-workflow.js';
import { testIndexPrefix } from '../helpers/index-prefix.js';
import { until, withSyncRig, useSyncRig } from '../helpers/mailbox-sync.js';

const elasticsearchUrl = inject('services').ELASTICSEARCH_URL;

const rig = useSyncRig();

describe('Graph limits', () => {
  it('waits out 429 and 503 for their Retry-After, and still syncs everything', async () => {
    // The inbox is held while the mailbox is linked, so the throttled requests land on the sync itself.
    await rig.outlook.configure({ holdFolders: ['inbox'] });
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 150 });
    await rig.outlook.configure({ throttleNext: { count: 2, status: 429, retryAfterSeconds: 2 }, holdFolders: [] });
    await rig.waitForMirror(address, accountId, 60_000);
    const log = await rig.outlook.requests({ mailbox: address });
    const throttled = log.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(2);
    for (const refused of throttled) {
      // The same resource is asked again only after Retry-After (the activity's next retry delay).
      const retry = log.find((r) => r.path === refused.path && r.startedAt > refused.endedAt);
      expect(retry, `no retry of ${refused.path}`).toBeDefined();
      expect(retry!.startedAt - refused.endedAt).toBeGreaterThanOrEqual(1_900);
    }
    await rig.outlook.configure({ throttleNext: { count: 1, status: 503, retryAfterSeconds: 1 } });
    await rig.outlook.act(address, { type: 'newMail', subject: 'After a 503' });
    await rig.waitForMirror(address, accountId);
    expect((await rig.outlook.stats()).byStatus['503']).toBeGreaterThanOrEqual(1);
    expect((await rig.mailbox(mailboxId)).status).toBe('LIVE');
  }, 90_000);

  it('never has more than 4 requests in flight for a mailbox, and does use all 4', async () => {
    await rig.outlook.configure({ latencyMs: 150 });
    try {
      const address = `wide-${Date.now()}@contoso.test`;
      await rig.outlook.createMailbox(address, { messages: 600 });
      for (let i = 0; i < 8; i++) {
        const folder = await rig.outlook.act(address, { type: 'createFolder', displayName: `Project ${i}` });
        await rig.outlook.seed(address, 40, folder.id);
      }
      const accountId = await rig.createAccount(address);
      expect((await rig.link(accountId, address)).status).toBe(302);
      await rig.waitForMirror(address, accountId, 90_000);
      const stats = await rig.outlook.stats();
      expect(stats.maxConcurrent[address]).toBe(4);
      expect(stats.concurrencyRefusals[address] ?? 0).toBe(0);
      // The request log agrees: at no instant did 5 requests of this mailbox overlap.
      const log = await rig.outlook.requests({ mailbox: address });
      const edges = log
        .flatMap(
          (r) =>
            [
              [r.startedAt, 1],
              [r.endedAt, -1],
            ] as const,
        )
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let open = 0;
      let peak = 0;
      for (const [, delta] of edges) {
        open += delta;
        peak = Math.max(peak, open);
      }
      expect(peak).toBeLessThanOrEqual(4);
    } finally {
      await rig.outlook.configure({ latencyMs: 0 });
    }
  }, 120_000);

  it('paces a mailbox under its request budget (here 60 a minute), and still syncs it', async () => {
    await withSyncRig({ env: { SYNC_REQUESTS_PER_10_MINUTES: '600', SYNC_REQUEST_BURST: '4' } }, async (paced) => {
      const address = `paced-${Date.now()}@contoso.test`;
      await paced.outlook.createMailbox(address, { messages: 100 });
      for (let i = 0; i < 4; i++) await paced.outlook.act(address, { type: 'createFolder', displayName: `Folder ${i}` });
      const accountId = await paced.createAccount(address);
      const linked = await paced.link(accountId, address);
      expect(linked.status).toBe(302);
      await paced.waitForMirror(address, accountId, 60_000);
      await sleep(8_000); // steady state: 11 folders to poll every second, at most one request a second
      const starts = (await paced.outlook.requests({ mailbox: address }))
        .filter((r) => r.path.includes('/delta'))
        .map((r) => r.startedAt)
        .sort((a, b) => a - b);
      // Any 10 s window holds at most the burst (4) plus 10 s of refill (10), with a little clock slack.
      for (const [i, start] of starts.entries()) {
        const inWindow = starts.slice(i).filter((t) => t < start + 10_000).length;
        expect(inWindow).toBeLessThanOrEqual(15);
      }
      expect(starts.length).toBeGreaterThan(14);
    });
  }, 120_000);

  it('keeps its request budget across continue-as-new: a new run does not bring a fresh burst', async () => {
    // A burst of 20 and one token per 10 s, runs of 100 history events: the burst alone ends the first run.
    await withSyncRig(
      {
        env: {
          SYNC_REQUESTS_PER_10_MINUTES: '60',
          SYNC_REQUEST_BURST: '20',
          SYNC_HISTORY_EVENTS_PER_RUN: '100',
          SYNC_POLL_INTERVAL_SECONDS: '1',
          SYNC_PAGE_SIZE: '10',
        },
      },
      async (paced) => {
        const address = `carried-${Date.now()}@contoso.test`;
        await paced.outlook.createMailbox(address, { messages: 200 });
        const accountId = await paced.createAccount(address);
        const linked = await paced.link(accountId, address);
        expect(linked.status).toBe(302);
        const mailboxId = linked.location!.searchParams.get('mailboxId')!;
        const runs = async () => {
          let n = 0;
          for await (const _ of paced.api.deps.temporal.workflow.list({ query: `WorkflowId = '${mailboxSyncWorkflowId(mailboxId)}'` })) n++;
          return n;
        };
        await until('the workflow to continue as new', async () => (await runs()) >= 2, 60_000);
        await sleep(12_000);
        const starts = (await paced.outlook.requests({ mailbox: address })).map((r) => r.startedAt).sort((a, b) => a - b);
        // However many runs, the i-th request comes no sooner than the bucket allows: 20 + 0.1 per second.
        for (const [i, start] of starts.entries()) {
          expect(i + 1, `request ${i + 1} at ${start - starts[0]!} ms`).toBeLessThanOrEqual(20 + ((start - starts[0]!) / 1000) * 0.1 + 1);
        }
        expect(starts.length).toBeGreaterThan(20);
      },
    );
  }, 120_000);

  it.skipIf(!elasticsearchUrl)(
    'aborts the page it was fetching ahead when indexing a page fails, so a retry never adds to the requests in flight',
    async () => {
      // An index of its own, closed while the mailbox links: every page's write fails until it reopens.
      const prefix = `${testIndexPrefix(inject('services').TEST_RUN_ID)}-prefetch`;
      await withSyncRig({ env: { ELASTICSEARCH_INDEX_PREFIX: prefix } }, async (failing) => {
        const messagesIndex = indexNames(prefix).messages.index;
        const es = async (action: '_close' | '_open') => {
          const response = await fetch(`${elasticsearchUrl}/${messagesIndex}/${action}`, { method: 'POST' });
          expect(response.status, `${action} ${messagesIndex}`).toBe(200);
        };
        const address = `prefetch-${Date.now()}@contoso.test`;
        await failing.outlook.createMailbox(address, { messages: 200 }); // about 160 in the inbox: pages of 50
        const accountId = await failing.createAccount(address);
        await es('_close');
        // Each page takes 300 ms: the inbox's second page is still on its way when writing the first one fails.
        await failing.outlook.configure({ latencyMs: 300 });
        try {
          expect((await failing.link(accountId, address)).status).toBe(302);
          await until(
            'a page fetched ahead and then abandoned',
            async () =>
              (await failing.outlook.requests({ mailbox: address })).some((r) => r.clientAborted && r.cursor !== null && r.path.endsWith('/messages/delta')),
            30_000,
          );
        } finally {
          await failing.outlook.configure({ latencyMs: 0 });
          await es('_open');
        }
        expect(await failing.waitForMirror(address, accountId, 60_000)).toHaveLength(200);
        const log = await failing.outlook.requests({ mailbox: address });
        const abandoned = log.filter((r) => r.clientAborted);
        // Only pages fetched ahead (each past a folder's first) were abandoned; the folder was read again after.
        expect(abandoned.length).toBeGreaterThan(0);
        for (const r of abandoned) {
          expect(r.cursor).not.toBeNull();
          expect(log.some((later) => later.path === r.path && later.startedAt > r.endedAt && later.status === 200 && !later.clientAborted)).toBe(true);
        }
        expect((await failing.outlook.stats()).concurrencyRefusals[address] ?? 0).toBe(0);
      });
    },
    // Whether a page is still being fetched ahead when the write fails depends on how fast the failed write
    // comes back (within the simulator's 300 ms): on a loaded machine an attempt can miss it, so it has two more.
    { timeout: 120_000, retry: 2 },
  );

  it('follows empty pages that still carry a nextLink', async () => {
    await rig.outlook.configure({ emptyPagesNext: 5 });
    const { address, accountId } = await rig.linkNew({ messages: 80 });
    expect(await rig.waitForMirror(address, accountId)).toHaveLength(80);
    expect((await rig.outlook.config()).emptyPagesNext).toBe(0);
  }, 60_000);
});

describe('expired delta tokens', () => {
  it('syncs the folders afresh, with no duplicates and no stale leftovers (messages and a folder deleted meanwhile)', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 100 });
    const folder = await rig.outlook.act(address, { type: 'createFolder', displayName: 'Old projects' });
    await rig.outlook.seed(address, 15, folder.id);
    await rig.waitForMirror(address, accountId);
    const before = await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    // Everything issued so far expires; meanwhile mail is deleted, read, and a whole folder goes.
    await rig.outlook.configure({ expireDeltaTokens: true });
    const [gone, read] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'delete', id: gone!.id });
    await rig.outlook.act(address, { type: 'markRead', id: read!.id, isRead: !read!.isRead });
    await rig.outlook.act(address, { type: 'deleteFolder', folder: folder.id });
    const mirrored = await rig.waitForMirror(address, accountId);
    expect(mirrored).toHaveLength(99);
    expect(new Set(mirrored.map((m) => m.id)).size).toBe(99);
    expect((await rig.outlook.stats()).byStatus['410']).toBeGreaterThanOrEqual(1);
    // The fresh delta rewrote every message still there (progress is published every 2 s: wait for it).
    const after = await rig.waitForMailbox(
      mailboxId,
      (m) => m.status === 'LIVE' && !m.folders.some((f) => f.id === folder.id) && m.sync.messagesIndexed >= before.sync.messagesIndexed + 99,
    );
    expect(after.sync.messagesIndexed).toBeGreaterThanOrEqual(before.sync.messagesIndexed + 99);
  }, 60_000);
});

describe('a revoked grant', () => {
  it('puts the mailbox in REAUTH_REQUIRED without retrying forever, and a re-link resumes the same mailbox', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 20 });
    await rig.waitForMirror(address, accountId);
    await rig.outlook.revoke(address);
    const refused = await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    expect(refused.sync.lastError).toMatch(/refused/);
    expect(refused.sync.progress?.phase).toBe('REAUTH_REQUIRED');
    // It waits for a re-link: no more Graph requests, whatever the poll interval.
    await until('in-flight requests to finish', async () => (await rig.mailbox(mailboxId)).sync.progress?.requestsInFlight === 0);
    const requests = (await rig.outlook.requests({ mailbox: address })).length;
    await rig.outlook.act(address, { type: 'newMail', subject: 'Sent while the grant was revoked' });
    await sleep(2_500);
    expect((await rig.outlook.requests({ mailbox: address })).length).toBe(requests);

    const relinked = await rig.link(accountId, address);
    expect(relinked.location?.searchParams.get('mailboxId')).toBe(mailboxId);
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const mailboxes = (await (await rig.api.request(`/v1/accounts/${accountId}/mailboxes`)).json()) as { data: unknown[] };
    expect(mailboxes.data).toHaveLength(1);
  }, 60_000);
});

describe('long-running workflow', () => {
  it('continues as new before its history grows large, keeping its cursors, counters and pending work', async () => {
    await withSyncRig({ env: { SYNC_HISTORY_EVENTS_PER_RUN: '150' } }, async (small) => {
      const { address, accountId, mailboxId } = await small.linkNew({ messages: 300 });
      await small.waitForMirror(address, accountId);
      const handle = small.api.deps.temporal.workflow.getHandle(`mailbox-sync-${mailboxId}`);
      const firstRun = (await handle.describe()).runId;
      await until(
        'a new run',
        async () => (await small.api.deps.temporal.workflow.getHandle(`mailbox-sync-${mailboxId}`).describe()).runId !== firstRun,
        60_000,
      );
      const [m] = await small.outlook.messages(address, 'inbox');
      await small.outlook.act(address, { type: 'move', id: m!.id, to: 'archive' });
      await small.outlook.act(address, { type: 'newMail', subject: 'After continuing as new' });
      await small.waitForMirror(address, accountId);
      const detail = await small.waitForMailbox(mailboxId, (x) => x.status === 'LIVE');
      // Counters carried across runs: the initial 300 are still counted.
      expect(detail.sync.progress!.messagesIndexed).toBeGreaterThanOrEqual(301);
      const runs = [];
      for await (const run of small.api.deps.temporal.workflow.list({ query: `WorkflowId = "mailbox-sync-${mailboxId}"` })) runs.push(run);
      expect(runs.length).toBeGreaterThanOrEqual(2);
    });
  }, 120_000);
});

describe('the PostgreSQL index', () => {
  it('runs the same engine where no Elasticsearch runs', async () => {
    await withSyncRig({ env: { ELASTICSEARCH_URL: '' } }, async (pg) => {
      expect(pg.api.deps.mailIndex.backend).toBe('postgres');
      const { address, accountId } = await pg.linkNew({ messages: 50 });
      await pg.waitForMirror(address, accountId);
      const [a, b] = await pg.outlook.messages(address, 'inbox');
      await pg.outlook.act(address, { type: 'move', id: a!.id, to: 'archive' });
      await pg.outlook.act(address, { type: 'delete', id: b!.id });
      await pg.outlook.act(address, { type: 'flag', id: a!.id, flagStatus: 'flagged' });
      expect(await pg.waitForMirror(address, accountId)).toHaveLength(49);
    });
  }, 60_000);
});
