// Mailing workflow races, each forced deterministically: the workflows run on the real dev server with
// stand-in activities that block on latches the test opens, signals are sent while no worker can see them
// (so they land in one workflow task), and a test-only interceptor holds a child's start open.
import { mailing, mailingSlice } from '../../workflows/mailings.js';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { cancelSignal, pauseSignal, resumeSignal, type MailingProgress, type SliceResult } from '../../workflows/mailings.js';
import { childStartsHeldQuery, openChildStartGateSignal } from '../fixtures/workflows/child-start-gate.js';
import { unique } from '../helpers/config.js';
import { withMailingRig } from '../helpers/mailings.js';
import { createTestWorker, installQuietRuntime, temporalClient } from '../helpers/temporal.js';

type Client = Awaited<ReturnType<typeof temporalClient>>['client'];
let temporal: Awaited<ReturnType<typeof temporalClient>>;
let client: Client;
beforeAll(async () => {
  temporal = await temporalClient();
  client = temporal.client;
});
afterAll(async () => {
  await temporal?.close();
});

function latch() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

async function historyHas(handle: WorkflowHandle, has: (event: Record<string, unknown>) => boolean): Promise<boolean> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).some((e) => has(e as unknown as Record<string, unknown>));
}

/** Resolves with the result, or rejects naming what never happened. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a slice', () => {
  it('survives a pause and a resume that land together: the withdrawn send is sent again, nothing fails', async () => {
    const taskQueue = unique('slice');
    const sendQueue = unique('slice-send');
    const sliceRecipients = () => Promise.resolve([1, 2]);
    const input = { mailingId: 'mlg_race', fromRow: 1, toRow: 2, sendTaskQueue: sendQueue, paused: false };

    // 1. The slice puts its first send in the rate-limited queue, where no worker takes it yet.
    const first = await createTestWorker({ taskQueue, activities: { sliceRecipients } });
    const handle = await first.run(async () => {
      const h = await client.workflow.start(mailingSlice, { taskQueue, workflowId: unique('slice-race'), args: [input] });
      await expect.poll(async () => (await h.describe()).raw.pendingActivities?.length ?? 0, { timeout: 15_000, interval: 200 }).toBe(1);
      return h as WorkflowHandle;
    });

    // 2. With no worker running, pause and resume arrive: one workflow task sees both, so the resume
    //    lands before the withdrawn send comes back cancelled.
    await handle.signal(pauseSignal);
    await handle.signal(resumeSignal);

    const sends: number[] = [];
    const second = await createTestWorker({ taskQueue, activities: { sliceRecipients } });
    const sender = await createTestWorker({
      taskQueue: sendQueue,
      workflows: false,
      activities: {
        sendToRecipient: ({ row }: { row: number }) => {
          sends.push(row);
          return Promise.resolve({ status: 'SENT' as const });
        },
      },
    });
    const result = await second.run(async () => {
      // The send must come back cancelled (not be taken by the sender first) for the race to be the one under test.
      await expect.poll(() => historyHas(handle, (e) => Boolean(e.activityTaskCanceledEventAttributes)), { timeout: 20_000, interval: 200 }).toBe(true);
      return sender.run(() => within(handle.result() as Promise<SliceResult>, 30_000, 'the slice did not finish'));
    });
    expect(result).toEqual({ sent: 2, failed: 0, cancelled: false });
    expect(sends).toEqual([1, 2]);
  }, 90_000);
});

describe('a mailing whose child is starting', () => {
  let bundle: { code: string };
  beforeAll(async () => {
    installQuietRuntime();
    bundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
      workflowInterceptorModules: [fileURLToPath(new URL('../fixtures/workflows/child-start-gate.ts', import.meta.url))],
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
  }, 120_000);

  /** A mailing of two rows in one slice, on stand-in activities; parse and the slice's row read wait for latches. */
  async function gatedMailing(
    run: (ctx: {
      handle: WorkflowHandle;
      sends: number[];
      statuses: string[];
      parseStarted: Promise<void>;
      releaseParse: () => void;
      releaseSliceRead: () => void;
      sliceId: string;
    }) => Promise<void>,
  ) {
    const taskQueue = unique('mailing-race');
    const parseStarted = latch();
    const parse = latch();
    const sliceRead = latch();
    const sends: number[] = [];
    const statuses: string[] = [];
    const activities = {
      parseMailing: async () => {
        parseStarted.release();
        await parse.opened;
        return { totalRows: 2, validRows: 2, invalidRows: 0, duplicateRows: 0 };
      },
      setMailingStatus: ({ status }: { status: string }) => {
        statuses.push(status);
        return Promise.resolve();
      },
      cancelUnsent: () => Promise.resolve({ cancelled: 2 - sends.length, unknown: 0 }),
      sliceRecipients: async ({ fromRow, toRow }: { fromRow: number; toRow: number }) => {
        await sliceRead.opened;
        return Array.from({ length: toRow - fromRow + 1 }, (_, i) => fromRow + i);
      },
      sendToRecipient: ({ row }: { row: number }) => {
        sends.push(row);
        return Promise.resolve({ status: 'SENT' as const });
      },
    };
    const connection = await NativeConnection.connect({ address: inject('services').TEMPORAL_ADDRESS });
    try {
      const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities });
      const workflowId = unique('mailing-race');
      await worker.runUntil(async () => {
        const handle = (await client.workflow.start(mailing, {
          taskQueue,
          workflowId,
          args: [{ mailingId: 'mlg_race', sendTaskQueue: taskQueue, sliceSize: 2, maxChildren: 1 }],
        })) as WorkflowHandle;
        await run({
          handle,
          sends,
          statuses,
          parseStarted: parseStarted.opened,
          releaseParse: parse.release,
          releaseSliceRead: sliceRead.release,
          sliceId: `${workflowId}-slice-0`,
        });
      });
    } finally {
      await connection.close();
    }
  }

  const childStartHeld = (handle: WorkflowHandle) => expect.poll(() => handle.query(childStartsHeldQuery), { timeout: 15_000, interval: 100 }).toBe(1);

  it('hands a resume that arrived while the child was starting to the child (it does not wait paused forever)', async () => {
    await gatedMailing(async ({ handle, sends, statuses, parseStarted, releaseParse, releaseSliceRead }) => {
      releaseSliceRead();
      await parseStarted;
      await handle.signal(pauseSignal); // paused while parsing: the child starts paused
      releaseParse();
      await childStartHeld(handle);
      await handle.signal(resumeSignal); // the parent has no child in its map yet
      await expect.poll(async () => (await handle.query<MailingProgress>('progress')).state, { timeout: 10_000, interval: 100 }).toBe('SENDING');
      await handle.signal(openChildStartGateSignal);
      const done = await within(handle.result() as Promise<MailingProgress>, 20_000, 'the mailing did not complete: the child never heard the resume');
      expect(done).toMatchObject({ state: 'COMPLETED', sentInFinishedSlices: 2, failedSlices: 0 });
      expect(sends).toEqual([1, 2]);
      expect(statuses.at(-1)).toBe('COMPLETED');
    });
  }, 60_000);

  it('hands a cancel that arrived while the child was starting to the child (it sends nothing)', async () => {
    await gatedMailing(async ({ handle, sends, statuses, releaseParse, releaseSliceRead, sliceId }) => {
      releaseParse();
      await childStartHeld(handle); // the child is running, held before it reads its rows
      await handle.signal(cancelSignal);
      await handle.signal(openChildStartGateSignal);
      // Let the child read its rows only once the parent has told it (or after a while if it never does).
      const child = client.workflow.getHandle(sliceId);
      for (let waited = 0; waited < 10_000 && !(await historyHas(child, (e) => Boolean(e.workflowExecutionSignaledEventAttributes))); waited += 200)
        await sleep(200);
      releaseSliceRead();
      const done = await within(handle.result() as Promise<MailingProgress>, 20_000, 'the mailing did not end');
      expect(done.state).toBe('CANCELLED');
      expect(sends).toEqual([]);
      expect(statuses.at(-1)).toBe('CANCELLED');
    });
  }, 60_000);
});

describe('cancelling a mailing', () => {
  it('leaves no recipient SENDING: a send whose answer never came becomes UNKNOWN, the rest CANCELLED', async () => {
    // Every answer comes after the client has given up: row 1's outcome is unknown, and it is retried meanwhile.
    await withMailingRig({ ratePerSecond: 10, env: { SEED004_TIMEOUT_MS: '500' } }, async (rig) => {
      await rig.sim.configure({ latencyMs: 2_000 });
      const id = await rig.upload(`email\n${Array.from({ length: 5 }, (_, i) => `unknown-${i}@example.com`).join('\n')}\n`);
      const unanswered = async () => {
        const page = (await (await rig.api.request(`/v1/mailings/${id}/recipients?status=SENDING`)).json()) as {
          data: { row: number; reason: string | null }[];
        };
        return page.data.filter((r) => r.reason).map((r) => r.row);
      };
      await expect.poll(unanswered, { timeout: 30_000, interval: 200 }).toEqual([1]);
      expect((await rig.api.request(`/v1/mailings/${id}/cancel`, { method: 'POST' })).status).toBe(202);
      const done = await rig.waitFor(id, (m) => m.status === 'CANCELLED', 30_000);
      expect(done.counts).toMatchObject({ valid: 5, sending: 0, queued: 0, sent: 0, cancelled: 4, unknown: 1 });
      const unknown = (await (await rig.api.request(`/v1/mailings/${id}/recipients?status=UNKNOWN`)).json()) as {
        data: { row: number; status: string; reason: string }[];
      };
      expect(unknown.data).toEqual([
        expect.objectContaining({ row: 1, status: 'UNKNOWN', reason: expect.stringMatching(/may or may not have been delivered/) as string }),
      ]);
      expect((await rig.sim.ledger()).sends.every((s) => s.to === 'unknown-0@example.com')).toBe(true);
    });
  }, 90_000);

  it('keeps a recipient UNKNOWN when a later attempt was refused: the earlier request may still have been delivered', async () => {
    await withMailingRig({ ratePerSecond: 10, env: { SEED004_TIMEOUT_MS: '500' } }, async (rig) => {
      await rig.sim.configure({ latencyMs: 2_000 });
      const id = await rig.upload(`email\n${Array.from({ length: 3 }, (_, i) => `refused-${i}@example.com`).join('\n')}\n`);
      const row1 = async () => {
        const page = (await (await rig.api.request(`/v1/mailings/${id}/recipients?limit=1`)).json()) as { data: { status: string; reason: string | null }[] };
        return page.data[0]!;
      };
      await expect.poll(async () => (await row1()).reason ?? '', { timeout: 30_000, interval: 100 }).toMatch(/seed004 \/send-email/); // timed out: unknown
      // From now on every request is refused with a 503 (known not sent), and answered at once.
      await rig.sim.configure({ latencyMs: 0, failNext: { count: 1_000, status: 503 } });
      await expect.poll(async () => (await row1()).reason ?? '', { timeout: 30_000, interval: 100 }).toMatch(/503/);
      expect((await row1()).status).toBe('SENDING'); // the first request's outcome is still unknown
      expect((await rig.api.request(`/v1/mailings/${id}/cancel`, { method: 'POST' })).status).toBe(202);
      const done = await rig.waitFor(id, (m) => m.status === 'CANCELLED', 30_000);
      expect(done.counts).toMatchObject({ sending: 0, queued: 0, cancelled: 2, unknown: 1 });
      expect((await rig.sim.ledger()).sends.map((s) => s.to)).toContain('refused-0@example.com'); // it was delivered
    });
  }, 90_000);
});
