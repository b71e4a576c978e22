// The stack for an evidence run: `npm start` itself (scripts/start.ts) as a child, so the report shows
// what that command runs. Waits for "[mailflow] ready", reads the addresses it printed, and stops it
// the way a user does (SIGINT, Ctrl-C), checking that nothing it started is left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../services/index.js';
import { alive, descendants } from '../services/process.js';

export interface StackEndpoints {
  api: string;
  temporalUi?: string;
  seed004: string;
  mailgun: string;
  sms: string;
  push: string;
  platformCheck?: string;
}

export interface RunningStack {
  endpoints: StackEndpoints;
  /** The launcher's own output (addresses and progress lines; it prints no secrets). */
  output: () => string;
  startedInMs: number;
  stop: () => Promise<{ exitCode: number | null; leftRunning: number[]; stoppedInMs: number }>;
}

const find = (output: string, pattern: RegExp) => pattern.exec(output)?.[1];

export function parseEndpoints(output: string): StackEndpoints {
  const api = find(output, /^\s+API\s+(http:\/\/\S+)/m);
  const seed004 = find(output, /seed-004 API (http:\/\/\S+)/);
  const simulators = /Mailgun (http:\/\/\S+)\s+SMS (http:\/\/\S+)\s+push (http:\/\/\S+)/.exec(output);
  if (!api || !seed004 || !simulators) throw new Error('the launcher did not print the API and simulator addresses (SIMULATORS=off is not supported here)');
  return {
    api,
    seed004,
    mailgun: simulators[1]!,
    sms: simulators[2]!,
    push: simulators[3]!,
    temporalUi: find(output, /Temporal Web UI\s+(http:\/\/\S+)/),
    platformCheck: find(output, /platform check: (platform-check-[\w-]+)/),
  };
}

/** Where the launcher found or started Temporal, PostgreSQL and the mail index (credentials removed). */
export function describeServices(output: string): string[] {
  const launcher = output
    .split('\n')
    .filter((l) => l.startsWith('[mailflow] '))
    .map((l) => l.slice('[mailflow] '.length))
    .filter((l) => !/^(ready|stopping…|stopped|starting services)/.test(l));
  const summary = ['Temporal', 'PostgreSQL', 'Mail index']
    .map((name) => {
      const value = new RegExp(`^\\s+${name}\\s{2,}(\\S.*?)(\\s{2,}|$)`, 'm').exec(output)?.[1];
      return value ? `${name} ${value.replace(/\/\/[^@/\s]*@/, '//')}` : undefined;
    })
    .filter((l): l is string => Boolean(l));
  return [...launcher, ...summary];
}

export async function startStack(env: NodeJS.ProcessEnv, log: (line: string) => void, timeoutMs = 300_000): Promise<RunningStack> {
  const started = Date.now();
  const launcher: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const line of d.toString().split('\n')) if (line.startsWith('[mailflow]') || line.startsWith('[services]')) log(`  ${line}`);
  };
  launcher.stdout!.on('data', onData);
  launcher.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  // Ctrl-C in this terminal reaches the launcher too (same process group); it stops its own children.
  const stop = async () => {
    const t0 = Date.now();
    const children = launcher.pid ? descendants(launcher.pid) : [];
    if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGINT');
    const exitCode = await Promise.race([
      exited,
      sleep(120_000).then(() => {
        launcher.kill('SIGKILL');
        return null;
      }),
    ]);
    const deadline = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < deadline) await sleep(200);
    return { exitCode, leftRunning: children.filter(alive), stoppedInMs: Date.now() - t0 };
  };
  while (!output.includes('[mailflow] ready')) {
    if (launcher.exitCode !== null || Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`the stack did not come up:\n${output.split('\n').slice(-30).join('\n')}`);
    }
    await sleep(250);
  }
  return { endpoints: parseEndpoints(output), output: () => output, startedInMs: Date.now() - started, stop };
}
