// Determinism: the mailing and mailingSlice workflows replay histories recorded from real runs. The
// committed histories (test/fixtures/histories/) come from an earlier version of the code, so a change that
// breaks replay of running mailings fails here (`mailing-v0-*` are from before slices got `sliceControl`).
// `RECORD_HISTORIES=1` writes fresh ones from the current code (into `HISTORIES_DIR`, default that folder).
import { describe, expect, it } from 'vitest';
import { withMailingRig } from '../helpers/mailings.js';
import { itReplaysCommittedHistories, recordHistories, replay } from '../helpers/histories.js';

const list = (n: number, tag: string) => `email\n${Array.from({ length: n }, (_, i) => `${tag}-${i}@example.com`).join('\n')}\n`;

describe('mailing workflow replay', () => {
  // The workflow id is part of what replays (a child's id derives from its parent's).
  itReplaysCommittedHistories('mailing', 3);

  it('replays histories recorded now: a mailing paused and resumed, one of its slices, and a cancelled mailing', async () => {
    await withMailingRig({ ratePerSecond: 5, env: { MAILING_SLICE_SIZE: '10', MAILING_MAX_CHILDREN: '2' } }, async (rig) => {
      const temporal = rig.api.deps.temporal;
      const completed = await rig.upload(list(15, 'replay'));
      await rig.waitFor(completed, (m) => m.counts.sent >= 3);
      expect((await rig.api.request(`/v1/mailings/${completed}/pause`, { method: 'POST' })).status).toBe(202);
      await rig.waitFor(completed, (m) => m.status === 'PAUSED');
      expect((await rig.api.request(`/v1/mailings/${completed}/resume`, { method: 'POST' })).status).toBe(202);
      await rig.waitFor(completed, (m) => m.status === 'COMPLETED', 60_000);
      await temporal.workflow.getHandle(`mailing-${completed}`).result();

      const cancelled = await rig.upload(list(30, 'replay-cancel'));
      await rig.waitFor(cancelled, (m) => m.counts.sent >= 2);
      expect((await rig.api.request(`/v1/mailings/${cancelled}/cancel`, { method: 'POST' })).status).toBe(202);
      await rig.waitFor(cancelled, (m) => m.status === 'CANCELLED', 30_000);
      await temporal.workflow.getHandle(`mailing-${cancelled}`).result();

      const recorded = {
        'mailing-paused-resumed': `mailing-${completed}`,
        'mailing-slice': `mailing-${completed}-slice-0`,
        'mailing-cancelled': `mailing-${cancelled}`,
        'mailing-slice-cancelled': `mailing-${cancelled}-slice-0`,
      };
      const histories = await Promise.all(
        Object.entries(recorded).map(async ([name, workflowId]) => ({
          name,
          workflowId,
          history: await temporal.workflow.getHandle(workflowId).fetchHistory(),
        })),
      );
      expect(await replay(histories)).toEqual([]);
      recordHistories(histories);
    });
  }, 120_000);
});
