// Finds or starts a Temporal server: TEMPORAL_ADDRESS, else a `temporal` CLI dev server (from
// TEMPORAL_CLI_PATH, PATH or .tools/, built with `go install` when Go is present), else the SDK's download.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeNames } from '../../lib/temporal/search-attributes.js';
import { portOpen, startProcess, waitUntil, which, type ManagedProcess } from './process.js';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** `process`: the dev server this call started with the CLI (none when reused or run through the SDK). */
export interface TemporalService {
  address: string;
  uiUrl?: string;
  started: boolean;
  process?: ManagedProcess;
  stop: () => Promise<void>;
}

export interface TemporalOptions {
  root: string; // repository root (for .tools/)
  dataDir: string;
  port: number;
  uiPort: number;
  persistent: boolean; // keep history in a SQLite file under dataDir
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

async function reachable(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 }).catch(() => undefined);
  if (!connection) return false;
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

export function findTemporalCli(root: string, env: NodeJS.ProcessEnv, log: (line: string) => void = () => {}): string | undefined {
  const candidates = [env.TEMPORAL_CLI_PATH, which('temporal'), join(root, '.tools', 'temporal')];
  const found = candidates.find((path) => path && existsSync(path));
  if (found) return found;
  if (!which('go')) return undefined;
  log(`building the temporal CLI ${TEMPORAL_CLI_VERSION} with go install (a few minutes, once)…`);
  mkdirSync(join(root, '.tools'), { recursive: true });
  const built = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: join(root, '.tools') },
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('go install of the temporal CLI failed (see the output above)');
  return join(root, '.tools', 'temporal');
}

export async function ensureTemporal(options: TemporalOptions): Promise<TemporalService> {
  const log = options.log ?? (() => {});
  if (options.env.TEMPORAL_ADDRESS) {
    const address = options.env.TEMPORAL_ADDRESS;
    await waitUntil(`Temporal at ${address}`, () => reachable(address), { timeoutMs: 30_000 });
    return { address, uiUrl: options.env.TEMPORAL_UI_URL, started: false, stop: async () => {} };
  }
  const address = `127.0.0.1:${options.port}`;
  const uiUrl = `http://127.0.0.1:${options.uiPort}`;
  if (await portOpen(options.port)) {
    await waitUntil(`Temporal at ${address}`, () => reachable(address), { timeoutMs: 30_000 });
    log(`reusing the Temporal server already on ${address}`);
    return { address, uiUrl, started: false, stop: async () => {} };
  }

  const cli = findTemporalCli(options.root, options.env, log);
  if (!cli) return startWithSdkDownload(options, address, uiUrl);

  mkdirSync(options.dataDir, { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    'default',
    '--log-level',
    'warn',
    // One SQLite connection serialises all persistence: WAL and no fsync keep it fast enough for dev.
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    ...(options.persistent ? ['--db-filename', join(options.dataDir, 'temporal.db')] : []),
    ...searchAttributeNames.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    // One partition per task queue: a queue's rate limit (the mailing provider's) is then enforced by one
    // dispatcher at an even pace, instead of split across partitions that dispatch in bursts.
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
    // An activity on the workflow's own queue (a mailbox's page) goes straight back to the worker that
    // scheduled it, skipping a round through matching (as deploy/temporal/dynamicconfig.yaml does).
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
  ];
  const proc: ManagedProcess = startProcess('temporal', cli, args, { logDir: join(options.dataDir, 'logs') });
  await waitUntil(`Temporal at ${address}`, () => reachable(address), { timeoutMs: 90_000, process: proc });
  return { address, uiUrl, started: true, process: proc, stop: () => proc.stop('SIGTERM', 20_000) };
}

async function startWithSdkDownload(options: TemporalOptions, address: string, uiUrl: string): Promise<TemporalService> {
  // Machines with internet and no Go: the SDK downloads the same CLI and runs its dev server.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      port: options.port,
      ui: true,
      uiPort: options.uiPort,
      dbFilename: options.persistent ? join(options.dataDir, 'temporal.db') : undefined,
      searchAttributes: searchAttributeNames.map((name) => ({ name, type: 'KEYWORD' as const })),
    },
  });
  return { address, uiUrl, started: true, stop: () => env.teardown() };
}
