// Child-process plumbing shared by the service starters: run as an unprivileged user when we are root
// (PostgreSQL and Elasticsearch refuse root), log to a file, wait for readiness, stop the whole group.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SERVICE_USER = 'mailflow';

export interface RunAs {
  uid: number;
  gid: number;
  home: string;
}

/** Root cannot run PostgreSQL or Elasticsearch: use (and if needed create) a system user. */
export function serviceUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = () => spawnSync('id', ['-u', SERVICE_USER], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER], { encoding: 'utf8' });
    if (made.status !== 0 && lookup().status !== 0) throw new Error(`could not create user ${SERVICE_USER}: ${made.stderr}`);
  }
  const uid = Number(lookup().stdout.trim());
  const gid = Number(spawnSync('id', ['-g', SERVICE_USER], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid, home: '/tmp' };
}

export function chownTree(path: string, runAs: RunAs | undefined): void {
  if (!runAs || !existsSync(path)) return;
  const walk = (p: string) => {
    chownSync(p, runAs.uid, runAs.gid);
    if (statSync(p).isDirectory()) for (const entry of readdirSync(p)) walk(join(p, entry));
  };
  walk(path);
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: {
    logDir: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    runAs?: RunAs;
  },
): ManagedProcess {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${name}.log`);
  const out = openSync(logFile, 'a');
  if (options.runAs) chownSync(logFile, options.runAs.uid, options.runAs.gid);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, ...(options.runAs ? { HOME: options.runAs.home } : {}) },
    stdio: ['ignore', out, out],
    // Own process group: a Ctrl-C in the terminal reaches the launcher, which stops services in order.
    detached: true,
    uid: options.runAs?.uid,
    gid: options.runAs?.gid,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    logFile,
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const kill = (s: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, s);
        } catch {
          /* already gone */
        }
      };
      kill(signal);
      const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!done) {
        kill('SIGKILL');
        await exited;
      }
    },
  };
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it resolves true; fails early if the process died, with the log's tail. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: {
    timeoutMs: number;
    process?: ManagedProcess;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    const child = options.process?.child;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready; see ${options.process!.logFile}`);
    }
    await sleep(250);
  }
  throw new Error(`${what} was not ready within ${options.timeoutMs} ms${options.process ? `; see ${options.process.logFile}` : ''}`);
}

/** On a fresh Debian machine, as root: install packages the scripts need, then look again. */
export function installWithApt<T>(packages: string[], log: (line: string) => void, lookAgain: () => T | undefined): T | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !which('apt-get')) return undefined;
  log(`installing ${packages.join(' ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    if (!install()) return undefined;
  }
  return lookAgain();
}

export function which(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

/** Every process below `pid` (children, theirs, and so on), from `ps`. */
export function descendants(pid: number): number[] {
  const out = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const pairs = out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of pairs)
      if (parent === p) {
        found.push(child);
        walk(child);
      }
  };
  walk(pid);
  return found;
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
