// A worker as its own OS process (workers/main.ts), for tests that kill, stop or scrape one.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { testEnv } from './config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker logs "workers running"; rejects (with its output) if it exits or takes 90 s. */
  ready: Promise<void>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  output: () => string;
}

/**
 * Starts workers/main.ts with the test environment, the given roles and overrides, on the run's prebuilt
 * workflow bundle (the same code as the in-process workers, and a start in about a second).
 */
export function spawnWorkerProcess(roles: string, env: Record<string, string | undefined> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: root,
    env: { ...process.env, ...testEnv({ LOG_LEVEL: 'info', WORKFLOW_BUNDLE_PATH: inject('services').WORKFLOW_BUNDLE_PATH, ...env, WORKER_ROLES: roles }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = (async () => {
    const until = Date.now() + 90_000;
    while (!output.includes('workers running')) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`worker did not start:\n${output}`);
      await sleep(200);
    }
  })();
  ready.catch(() => {}); // callers await it; an unawaited rejection must not crash the run
  return { child, ready, exited, output: () => output };
}
