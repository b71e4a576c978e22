// Mailflow's own processes as OS processes (a worker, the API), for tests that kill, stop or scrape one.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { testEnv } from './config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ScriptProcess {
  child: ChildProcess;
  /**
   * Resolves once the process says it is up (with what its ready line captured: the API's URL); rejects (with
   * its output) if it exits or takes 90 s.
   */
  ready: Promise<string>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  output: () => string;
}
export type WorkerProcess = ScriptProcess;
export type ApiProcess = ScriptProcess;

/** `script` under tsx with the test environment; ready when its output matches `up` (within `timeoutMs`). */
export function spawnScript(script: string, env: Record<string, string | undefined>, up: RegExp, timeoutMs = 90_000): ScriptProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, ...testEnv({ LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = (async () => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = up.exec(output);
      if (found) return found[1] ?? found[0];
      if (Date.now() > until || child.exitCode !== null) throw new Error(`${script} did not start:\n${output.slice(-4_000)}`);
      await sleep(200);
    }
  })();
  ready.catch(() => {}); // callers await it; an unawaited rejection must not crash the run
  return { child, ready, exited, output: () => output };
}

/**
 * Starts workers/main.ts with the test environment, the given roles and overrides, on the run's prebuilt
 * workflow bundle (the same code as the in-process workers, and a start in about a second).
 */
export function spawnWorkerProcess(roles: string, env: Record<string, string | undefined> = {}): WorkerProcess {
  return spawnScript('workers/main.ts', { WORKFLOW_BUNDLE_PATH: inject('services').WORKFLOW_BUNDLE_PATH, ...env, WORKER_ROLES: roles }, /workers running/);
}

/** api/server.ts (migrations, the start-recovery sweep and all), on a port it picks itself; ready with its URL. */
export function spawnApiProcess(env: Record<string, string | undefined>): ApiProcess {
  return spawnScript('api/server.ts', { ...env, API_PORT: '0' }, /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"api listening"/);
}
