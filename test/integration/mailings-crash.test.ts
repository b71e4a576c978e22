// A mailing worker process killed mid-request, three times in one mailing: another takes over within
// seconds, the provider's ledger shows every recipient (none missing), and every duplicate is one the
// docs/mailings.md allows: a resend after an unknown outcome, logged as such.
import { describe, expect, it } from 'vitest';
import { spawnWorkerProcess } from '../helpers/worker-process.js';
import { useMailingRig } from '../helpers/mailings.js';

const rig = useMailingRig({ ratePerSecond: 8, workers: false });

/** The worker log lines saying a row was sent again because an earlier attempt's outcome was unknown. */
function unknownOutcomeResends(logs: string, mailingId: string): Map<number, number> {
  const resends = new Map<number, number>();
  for (const line of logs.split('\n')) {
    if (!line.includes('unknown outcome')) continue;
    const entry = JSON.parse(line) as { msg?: string; mailingId?: string; row?: number };
    if (entry.msg === 'previous attempt ended with an unknown outcome; sending again' && entry.mailingId === mailingId && entry.row) {
      resends.set(entry.row, (resends.get(entry.row) ?? 0) + 1);
    }
  }
  return resends;
}

describe('mailing workers killed mid-request, again and again', () => {
  it('end with every valid recipient sent, each duplicate logged as an unknown outcome, and recover within seconds', async () => {
    // Each answer takes 800 ms after the send is accepted: a kill lands while requests are in flight.
    await rig.sim.configure({ latencyMs: 800 });
    const workers = [spawnWorkerProcess('mailings', rig.env)];
    const recoveries: number[] = [];
    try {
      await workers[0]!.ready;
      const emails = Array.from({ length: 60 }, (_, i) => `crash-${i}@example.com`);
      const id = await rig.upload(`email\n${emails.join('\n')}\n`);
      for (const sentAtLeast of [10, 25, 40]) {
        await rig.waitFor(id, (m) => m.counts.sent >= sentAtLeast && m.counts.sending > 0, 60_000);
        workers.at(-1)!.child.kill('SIGKILL');
        const stuck = (await (await rig.api.request(`/v1/mailings/${id}/recipients?status=SENDING`)).json()) as { data: { row: number }[] };
        expect(stuck.data.length).toBeGreaterThan(0);
        const next = spawnWorkerProcess('mailings', rig.env);
        workers.push(next);
        await next.ready;
        const readyAt = Date.now();
        // The dead worker's sends are retried once their heartbeat stops (5 s), not after a whole start-to-close
        // (30 s before): by the time the new worker is up they are waiting for it, or about to be.
        const rows = new Set(stuck.data.map((r) => r.row));
        await expect
          .poll(
            async () => {
              const sent = (await (await rig.api.request(`/v1/mailings/${id}/recipients?status=SENT&limit=500`)).json()) as { data: { row: number }[] };
              return [...rows].every((row) => sent.data.some((r) => r.row === row));
            },
            { timeout: 15_000, interval: 200 },
          )
          .toBe(true);
        recoveries.push(Date.now() - readyAt);
      }
      const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED', 120_000);
      expect(done.counts).toMatchObject({ valid: 60, sent: 60, failed: 0, sending: 0, unknown: 0 });

      const { sends, duplicates } = await rig.sim.ledger();
      expect(new Set(sends.map((s) => s.to))).toEqual(new Set(emails)); // nobody missing
      // A duplicate can only come from the unknown-outcome window, and each one is logged as such.
      const resends = unknownOutcomeResends(workers.map((w) => w.output()).join('\n'), id);
      for (const { to, count } of duplicates) {
        const row = emails.indexOf(to) + 1;
        expect(resends.get(row) ?? 0, `${to} (row ${row}) was sent ${count} times`).toBeGreaterThanOrEqual(count - 1);
      }
      // At most one request per running slice (3) can be in flight when a worker dies.
      expect(sends.length - 60).toBeLessThanOrEqual(3 * 3);
      console.log(
        `killed 3 times: ${sends.length - 60} duplicate send(s) out of ${sends.length}, ${resends.size} row(s) logged as unknown-outcome resends; ` +
          `the dead worker's sends done ${recoveries.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after its replacement was up`,
      );
    } catch (error) {
      // What the last worker said is the first thing to read when this fails.
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nlast worker's output:\n${workers.at(-1)!.output().slice(-4_000)}`, {
        cause: error,
      });
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
    }
  }, 300_000);
});
