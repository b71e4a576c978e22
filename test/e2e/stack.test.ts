// `npm start` end to end: the launcher brings the API and workers up on the suite's services, the API
// is ready, the platform check workflow ran and `temporal workflow list` shows it; SIGINT (Ctrl-C)
// stops every process it started and exits 0.
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { findTemporalCli } from '../../scripts/services/temporal.js';
import { repoRoot } from '../../scripts/services/index.js';
import { alive, descendants } from '../../scripts/services/process.js';
import { testEnv } from '../helpers/config.js';
import { spawnScript } from '../helpers/worker-process.js';

describe('npm start', () => {
  it('brings the stack up, runs the platform check, and Ctrl-C leaves nothing running', async () => {
    const overrides = { STACK_PORT_OFFSET: '21000', API_PORT: undefined, ADMIN_API_KEY: undefined, ENCRYPTION_KEYS: undefined };
    const env = testEnv(overrides);
    const stack = spawnScript('scripts/start.ts', overrides, /\[mailflow\] ready/, 150_000);
    const { child: launcher, exited } = stack;
    try {
      await stack.ready;
      const output = stack.output();
      const ready = await fetch('http://127.0.0.1:24000/ready');
      expect(ready.status).toBe(200);
      const workflowId = /platform check: (platform-check-[\w-]+)/.exec(output)?.[1];
      expect(workflowId).toBeDefined();
      const cli = findTemporalCli(repoRoot, process.env)!;
      // Visibility trails the run's completion by a moment.
      const list = () =>
        spawnSync(cli, ['workflow', 'list', '--address', env.TEMPORAL_ADDRESS!, '--query', `WorkflowId="${workflowId}"`], { encoding: 'utf8' }).stdout;
      await expect.poll(list, { timeout: 10_000, interval: 500 }).toMatch(new RegExp(`Completed.*${workflowId}|${workflowId}.*Completed`));

      const children = descendants(launcher.pid!);
      expect(children.length).toBeGreaterThanOrEqual(2); // api + workers (+ simulators)
      launcher.kill('SIGINT');
      expect(await exited, stack.output()).toBe(0);
      expect(stack.output()).toContain('[mailflow] stopped');
      // Processes that are already exiting (e.g. a tsx helper reading EOF) get a moment to go.
      const deadline = Date.now() + 5_000;
      while (children.some(alive) && Date.now() < deadline) await sleep(100);
      expect(children.filter(alive)).toEqual([]);
    } finally {
      if (launcher.exitCode === null) launcher.kill('SIGKILL');
    }
  }, 200_000);
});
