// A mailing worker process killed mid-mailing: another takes over, and the provider's ledger shows every
// recipient exactly once — none missing, none twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../helpers/config.js';
import { startMailingRig, type MailingRig } from '../helpers/mailings.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let rig: MailingRig;
beforeAll(async () => { rig = await startMailingRig({ ratePerSecond: 8, workers: false }); }, 60_000);
afterAll(async () => { await rig?.close(); });

function spawnWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: root, env: { ...process.env, ...testEnv({ ...env, WORKER_ROLES: 'mailing', LOG_LEVEL: 'info' }) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const ready = (async () => {
    const until = Date.now() + 90_000;
    while (!output.includes('workers running')) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`worker did not start:\n${output}`);
      await sleep(200);
    }
  })();
  return { child, ready };
}

describe('a mailing worker killed mid-mailing', () => {
  it('ends with every valid recipient sent exactly once', async () => {
    const first = spawnWorker(rig.env);
    let second: ReturnType<typeof spawnWorker> | undefined;
    try {
      await first.ready;
      const csv = `email\n${Array.from({ length: 60 }, (_, i) => `crash-${i}@example.com`).join('\n')}\n`;
      const id = await rig.upload(csv);
      await rig.waitFor(id, (m) => m.counts.sent >= 15, 60_000);
      first.child.kill('SIGKILL');
      const atKill = (await rig.get(id)).counts.sent;
      expect(atKill).toBeLessThan(60);
      second = spawnWorker(rig.env);
      await second.ready;
      const done = await rig.waitFor(id, (m) => m.status === 'COMPLETED', 120_000);
      expect(done.counts).toMatchObject({ valid: 60, sent: 60, failed: 0 });
      const { sends, duplicates } = await rig.sim.ledger();
      expect(duplicates).toEqual([]);
      expect(sends.map((s) => s.to).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `crash-${i}@example.com`).sort());
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
    }
  }, 240_000);
});
