// CSV mailings end to end: upload over HTTP, the mailing workflow and its children on a real Temporal
// server, sends through the seed-004 simulator on a rate-limited task queue.
import { pauseSignal, progressQuery, resumeSignal } from '../../workflows/mailings.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SAMPLE_CSV, withMailingRig, useMailingRig } from '../helpers/mailings.js';

const rig = useMailingRig({ ratePerSecond: 40 });

const tokenOf = (body: string) => /verify your token (\S+) to continue/.exec(body)?.[1];

describe('the sample mailing list', () => {
  it('sends each of the 102 valid addresses exactly once with its own token, and records the 3 invalid', async () => {
    await rig.sim.reset();
    const id = await rig.upload(SAMPLE_CSV, { name: 'sample' });
    const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED', 90_000);
    expect(done.counts).toMatchObject({ total: 105, valid: 102, invalid: 3, duplicate: 0, sent: 102, failed: 0, queued: 0 });
    const { sends, duplicates } = await rig.sim.ledger();
    expect(sends).toHaveLength(102);
    expect(duplicates).toEqual([]);
    expect(new Set(sends.map((s) => s.to.toLowerCase())).size).toBe(102);
    expect(sends.every((s) => s.subject === 'Complete your registration')).toBe(true);
    const tokens = sends.map((s) => tokenOf(s.body));
    expect(tokens.every((t) => t && t.length >= 22)).toBe(true);
    expect(new Set(tokens).size).toBe(102);

    const invalid = (await (await rig.api.request(`/v1/mailings/${id}/recipients?status=INVALID`)).json()) as { data: { email: string; reason: string }[] };
    expect(invalid.data.map((r) => r.email).sort()).toEqual(['@domain.com', 'invalid-email', 'not-an-email']);
    expect(invalid.data.every((r) => r.reason)).toBe(true);

    // A recipient verifies with the token from their mail (public endpoint).
    const verify = await rig.api.request('/v1/verify', {
      method: 'POST',
      auth: null,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: tokens[0] }),
    });
    expect(verify.status).toBe(200);
    expect(await verify.json()).toMatchObject({ verified: true, mailingId: id, email: sends[0]!.to });
    expect(
      (
        await rig.api.request('/v1/verify', {
          method: 'POST',
          auth: null,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: 'x'.repeat(24) }),
        })
      ).status,
    ).toBe(404);

    // Paging through every row.
    let cursor: number | null = 0;
    let rows = 0;
    while (cursor !== null) {
      const page = (await (await rig.api.request(`/v1/mailings/${id}/recipients?limit=40&cursor=${cursor}`)).json()) as {
        data: unknown[];
        nextCursor: number | null;
      };
      rows += page.data.length;
      cursor = page.nextCursor;
    }
    expect(rows).toBe(105);
    // The workflow answers the same progress.
    const progress = await rig.api.deps.temporal.workflow.getHandle(done.workflowId).query(progressQuery);
    expect(progress).toMatchObject({ state: 'COMPLETED', sentInFinishedSlices: 102 });
  }, 120_000);
});

describe('files', () => {
  it('handles ; delimiters, quotes, CRLF, a BOM and case-insensitive duplicates', async () => {
    await rig.sim.reset();
    const id = await rig.upload('\uFEFF"name";"Email"\r\n"Doe; Jane";jane@example.com\r\nBob;BOB@example.com\r\nBobby;bob@EXAMPLE.com\r\nX;nope\r\n');
    const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED');
    expect(done.counts).toMatchObject({ total: 4, valid: 2, invalid: 1, duplicate: 1, sent: 2 });
    expect((await rig.sim.ledger()).sends.map((s) => s.to).sort()).toEqual(['BOB@example.com', 'jane@example.com']);
  });

  it('fails a mailing whose file is not CSV, not UTF-8 or has no address column, with the reason', async () => {
    const cases: [Buffer | string, RegExp][] = [
      [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x00]), /binary/],
      [Buffer.from([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x0a, 0xc3, 0x28, 0x0a]), /not UTF-8/],
      ['name,phone\nJane,1234\n', /no address column/],
    ];
    for (const [content, reason] of cases) {
      const id = await rig.upload(content);
      const failed = await rig.waitFor(id, (m) => m.status === 'FAILED');
      expect(failed.failureReason).toMatch(reason);
    }
  });

  it('refuses bad uploads with a problem', async () => {
    expect((await rig.api.request('/v1/mailings', { method: 'POST', body: 'email\na@b.com', headers: { 'content-type': 'text/csv' } })).status).toBe(415);
    const noFile = new FormData();
    noFile.set('name', 'x');
    expect((await rig.api.request('/v1/mailings', { method: 'POST', body: noFile })).status).toBe(400);
    const badOption = new FormData();
    badOption.set('hasHeader', 'maybe');
    badOption.set('file', new Blob(['email\na@b.com\n']), 'a.csv');
    expect((await rig.api.request('/v1/mailings', { method: 'POST', body: badOption })).status).toBe(400);
    expect((await rig.api.request('/v1/mailings', { method: 'POST', body: noFile, auth: null })).status).toBe(401);
    expect((await rig.api.request('/v1/mailings/mlg_nope')).status).toBe(400);
    expect((await rig.api.request('/v1/mailings/mlg_00000000000000000000000000')).status).toBe(404);
  });
});

const list = (n: number, tag: string) => `email\n${Array.from({ length: n }, (_, i) => `${tag}-${i}@example.com`).join('\n')}\n`;

describe('provider failures', () => {
  it('retries 5xx, waits out 429s, renews the token when revoked, and marks a refused recipient FAILED', async () => {
    await rig.sim.reset();
    await rig.sim.configure({ failNext: { count: 3, status: 503 }, refuse: ['faults-7@example.com'] });
    const id = await rig.upload(list(30, 'faults'));
    await rig.waitFor(id, (m) => m.counts.sent >= 10);
    const tokensBefore = (await rig.sim.stats()).tokensIssued;
    await rig.sim.configure({ revokeTokens: true });
    const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED', 90_000);
    expect(done.counts).toMatchObject({ valid: 30, sent: 29, failed: 1 });
    expect(done.recentFailures[0]).toMatchObject({ email: 'faults-7@example.com', reason: expect.stringContaining('recipient refused') as string });
    expect(done.recentFailures[0]!.reason).not.toContain('verify your token'); // the echoed body, token and all, is not kept
    const { sends, duplicates } = await rig.sim.ledger();
    expect(sends).toHaveLength(29);
    expect(duplicates).toEqual([]);
    const stats = await rig.sim.stats();
    expect(stats.byStatus['503']).toBe(3);
    expect(stats.byStatus['401']).toBeGreaterThanOrEqual(1);
    expect(stats.tokensIssued).toBeGreaterThan(tokensBefore);
  }, 120_000);

  it('honours 429 Retry-After when the provider is stricter than the queue limit', async () => {
    await rig.sim.reset();
    await rig.sim.configure({ requests: 2, perSeconds: 1 });
    const started = Date.now();
    const id = await rig.upload(list(12, 'slow'));
    const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED', 90_000);
    expect(done.counts.sent).toBe(12);
    expect((await rig.sim.stats()).byStatus['429']).toBeGreaterThan(0);
    expect((await rig.sim.ledger()).duplicates).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
    await rig.sim.configure({ requests: 80, perSeconds: 1 });
  }, 120_000);

  it('renews a token before it expires', async () => {
    await withMailingRig({ ratePerSecond: 5, tokenLifetimeSeconds: 2 }, async (short) => {
      const id = await short.upload(list(20, 'expiry'));
      const done = await short.waitFor(id, (m) => m.status === 'COMPLETED', 60_000);
      expect(done.counts.sent).toBe(20);
      const stats = await short.sim.stats();
      expect(stats.tokensIssued).toBeGreaterThanOrEqual(3);
      expect((await short.sim.ledger()).sends).toHaveLength(20);
    });
  }, 90_000);
});

describe('pause, resume and cancel', () => {
  it('pauses within one send and resumes, from the API and as a Temporal signal', async () => {
    await withMailingRig({ ratePerSecond: 5 }, async (slow) => {
      const id = await slow.upload(list(40, 'pause'));
      await slow.waitFor(id, (m) => m.counts.sent >= 5);
      expect((await slow.api.request(`/v1/mailings/${id}/pause`, { method: 'POST' })).status).toBe(202);
      await slow.waitFor(id, (m) => m.status === 'PAUSED');
      await sleep(1_000);
      const atPause = (await slow.get(id)).counts.sent;
      await sleep(2_000);
      const later = await slow.get(id);
      expect(later.counts.sent - atPause).toBeLessThanOrEqual(1); // queued sends are withdrawn; only one already started may finish
      expect((await slow.api.request(`/v1/mailings/${id}/resume`, { method: 'POST' })).status).toBe(202);
      await slow.waitFor(id, (m) => m.counts.sent >= later.counts.sent + 3);

      // The same through Temporal, as `temporal workflow signal --name pause` does: the names are the CLI's contract.
      expect([pauseSignal.name, resumeSignal.name]).toEqual(['pause', 'resume']);
      const handle = slow.api.deps.temporal.workflow.getHandle(`mailing-${id}`);
      await handle.signal(pauseSignal);
      await expect.poll(async () => (await handle.query(progressQuery)).state, { timeout: 10_000, interval: 250 }).toBe('PAUSED');
      await sleep(500); // a send already started when the signal came may still finish
      const frozen = (await slow.get(id)).counts.sent;
      await sleep(1_500);
      expect((await slow.get(id)).counts.sent - frozen).toBeLessThanOrEqual(1);
      await handle.signal(resumeSignal);
      const done = await slow.waitFor(id, (m) => m.status === 'COMPLETED', 60_000);
      expect(done.counts.sent).toBe(40);
      expect((await slow.sim.ledger()).duplicates).toEqual([]);
    });
  }, 120_000);

  it('cancels, leaving every recipient accurate', async () => {
    await withMailingRig({ ratePerSecond: 5 }, async (slow) => {
      const id = await slow.upload(list(60, 'cancel'));
      await slow.waitFor(id, (m) => m.counts.sent >= 5);
      expect((await slow.api.request(`/v1/mailings/${id}/cancel`, { method: 'POST' })).status).toBe(202);
      const done = await slow.waitFor(id, (m) => m.status === 'CANCELLED', 30_000);
      expect(done.counts.sent + done.counts.cancelled).toBe(60);
      expect(done.counts.cancelled).toBeGreaterThan(0);
      expect((await slow.sim.ledger()).sends).toHaveLength(done.counts.sent);
      expect((await slow.api.request(`/v1/mailings/${id}/resume`, { method: 'POST' })).status).toBe(409);
    });
  }, 90_000);
});

describe('long mailings', () => {
  it('continue as new between batches of slices and still send everyone once', async () => {
    await withMailingRig({ ratePerSecond: 40, env: { MAILING_SLICE_SIZE: '5', MAILING_MAX_CHILDREN: '2', MAILING_SLICES_PER_RUN: '3' } }, async (long) => {
      const id = await long.upload(list(40, 'long'));
      const done = await long.waitFor(id, (m) => m.status === 'COMPLETED', 60_000);
      expect(done.counts.sent).toBe(40);
      expect((await long.sim.ledger()).duplicates).toEqual([]);
      // 8 slices, 3 per run: the first run and the next each ended by continuing as new.
      // The row says COMPLETED just before the last run returns, and visibility lags behind: wait for both.
      await long.api.deps.temporal.workflow.getHandle(`mailing-${id}`).result();
      const runStatuses = async () => {
        const runs: string[] = [];
        for await (const run of long.api.deps.temporal.workflow.list({ query: `WorkflowId = "mailing-${id}"` })) runs.push(run.status.name);
        return runs.sort();
      };
      await expect.poll(runStatuses, { timeout: 10_000, interval: 250 }).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);
      const progress = await long.api.deps.temporal.workflow.getHandle(`mailing-${id}`).query(progressQuery);
      expect(progress).toMatchObject({ slicesDone: 8, sentInFinishedSlices: 40 });
    });
  }, 90_000);
});

describe('sharing the provider limit', () => {
  it('interleaves two mailings on one rate-limited queue', async () => {
    await withMailingRig({ ratePerSecond: 10 }, async (shared) => {
      const a = await shared.upload(list(30, 'first'));
      const b = await shared.upload(list(30, 'second'));
      const firstDone = await shared.waitFor(a, (m) => m.status === 'COMPLETED', 60_000);
      const other = await shared.get(b);
      // Fair share: the second had sent a good part of its list by the time the first finished.
      expect(other.counts.sent).toBeGreaterThanOrEqual(15);
      await shared.waitFor(b, (m) => m.status === 'COMPLETED', 60_000);
      expect(firstDone.counts.sent).toBe(30);
      const { sends } = await shared.sim.ledger();
      expect(sends).toHaveLength(60);
      // Never above the queue's limit: 60 sends at 10/s take at least ~5.5 s.
      const times = sends.map((s) => Date.parse((s as unknown as { acceptedAt: string }).acceptedAt)).sort((x, y) => x - y);
      expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(5_000);
    });
  }, 90_000);
});
