// `npm start`: the whole stack on this machine. Finds or starts Temporal (with its Web UI), PostgreSQL,
// Elasticsearch and Dovecot (IMAP, with a seeded demo user), applies migrations, starts the simulators, the
// API and every worker role, runs a platform check workflow, prints where to look. Ctrl-C stops everything it
// started, and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { runMigrations } from '../db/migrate.js';
import { PLATFORM_QUEUE, taskQueue } from '../lib/temporal/task-queues.js';
import { loadOrCreateDevSecrets } from './dev-secrets.js';
import { demoImapLines, ensureDemoImapUser } from './services/imap-demo.js';
import { ensureServices, profiles, repoRoot } from './services/index.js';
import { roles } from '../workers/role-names.js';
import { platformCheck } from '../workflows/platform-check.js';
import { simulatorEnv } from './stack-ports.js';

const log = (line: string) => console.log(`[mailflow] ${line}`);
const quietBundler = { trace() {}, debug() {}, info() {}, warn: (m: string) => log(m), error: (m: string) => log(m), log() {} };
const offset = Number(process.env.STACK_PORT_OFFSET ?? 0);
// STACK_PORT_OFFSET moves the local Dovecot's ports with the API's (another stack's IMAP server is not this one's).
const profile = {
  ...profiles.stack,
  imapPort: profiles.stack.imapPort + offset,
  imapsPort: profiles.stack.imapsPort + offset,
  imapLegacyPort: profiles.stack.imapLegacyPort + offset,
  imapOAuthPort: profiles.stack.imapOAuthPort + offset,
};
const apiPort = Number(process.env.API_PORT ?? 3000 + offset);
const logDir = join(profile.dataDir, 'logs');
mkdirSync(logDir, { recursive: true });

const children: { name: string; child: ChildProcess }[] = [];
let services: Awaited<ReturnType<typeof ensureServices>> | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => {});
  stopping = true;
  log('stopping…');
  // Reverse start order: workers and API finish in-flight work before their dependencies go away.
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(35_000).then(() => false)]);
    if (!done) {
      log(`${name} did not stop in time: killing it`);
      child.kill('SIGKILL');
      await exited;
    }
    // Anything the child left in its process group (e.g. tsx's esbuild helper) goes with it.
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  }
  await services?.stop();
  log('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/**
 * How a child runs: through tsx from the sources, or, for worker processes with WORKER_BUILD=dist, from the
 * compiled build as the image runs them (`npm run build` first), so their memory is measured as deployed.
 */
function entryPoint(script: string): string[] {
  if (process.env.WORKER_BUILD !== 'dist' || !script.startsWith('workers/')) return ['--import', 'tsx', script];
  const compiled = join('dist', script.replace(/\.ts$/, '.js'));
  if (!existsSync(join(repoRoot, compiled))) throw new Error(`WORKER_BUILD=dist: ${compiled} is missing; run npm run build first`);
  return [compiled];
}

function startChild(name: string, script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  // The child writes its log file itself: through a pipe, a launcher slow to read (a busy machine) fills it,
  // and pino's synchronous writes then stall the child's event loop 100 ms per retry.
  const out = openSync(join(logDir, `${name}.log`), 'a');
  // detached: a terminal Ctrl-C reaches only the launcher, which then stops children in order.
  const child = spawn(process.execPath, [...nodeArgs, ...entryPoint(script)], { cwd: repoRoot, env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  child.once('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${code ?? signal}); see ${join(logDir, `${name}.log`)}`);
      void stopAll(1);
    }
  });
  children.push({ name, child });
  return child;
}

async function waitForReady(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last = '';
  while (Date.now() < deadline && !stopping) {
    const response = await fetch(`${url}/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    if (response) last = await response.text();
    await sleep(500);
  }
  throw new Error(`the API did not become ready: ${last}`);
}

try {
  const secrets = loadOrCreateDevSecrets(join(profile.dataDir, 'dev-secrets.json'));
  log('starting services (Temporal, PostgreSQL, Elasticsearch, Dovecot)…');
  services = await ensureServices(profile, process.env, log);
  await runMigrations(services.databaseUrl);
  if (services.imap) await ensureDemoImapUser(services.imap, log);

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const sims = simulatorEnv(offset, secrets, apiUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: process.env.NODE_ENV ?? 'development',
    DATABASE_URL: services.databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    TEMPORAL_UI_URL: services.temporalUiUrl,
    ELASTICSEARCH_URL: services.elasticsearchUrl ?? '',
    ADMIN_API_KEY: process.env.ADMIN_API_KEY ?? secrets.ADMIN_API_KEY,
    ENCRYPTION_KEYS: process.env.ENCRYPTION_KEYS ?? secrets.ENCRYPTION_KEYS,
    API_PORT: String(apiPort),
    WORKER_METRICS_PORT: process.env.WORKER_METRICS_PORT ?? String(apiPort + 1),
    PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL ?? apiUrl,
    ...sims.env,
    // Mailboxes may be linked to the local Dovecot: its loopback address allowed, its CA trusted.
    IMAP_ALLOW_HOSTS: process.env.IMAP_ALLOW_HOSTS ?? (services.imap ? '127.0.0.1,localhost' : ''),
    IMAP_CA_FILE: process.env.IMAP_CA_FILE ?? services.imap?.caFile ?? '',
    // Webhook endpoints may be the local demo receiver (the simulators' webhook receiver on loopback).
    WEBHOOK_ALLOW_HOSTS: process.env.WEBHOOK_ALLOW_HOSTS ?? '127.0.0.1,localhost',
    // Set (even empty, for polling only) it wins over the stack's own webhook URL.
    GRAPH_NOTIFICATION_URL: process.env.GRAPH_NOTIFICATION_URL ?? sims.env.GRAPH_NOTIFICATION_URL,
  };
  if (existsSync(join(repoRoot, 'simulators', 'main.ts')) && process.env.SIMULATORS !== 'off') {
    startChild('simulators', 'simulators/main.ts', env);
  }
  // The workers load one prebuilt workflow bundle instead of each running webpack at start.
  const bundlePath = join(profile.dataDir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: join(repoRoot, 'workflows', 'index.ts'), logger: quietBundler });
  writeFileSync(bundlePath, code);
  env.WORKFLOW_BUNDLE_PATH = bundlePath;
  startChild('api', 'api/server.ts', env);
  // As in production, mailbox sync is a worker process of its own (its memory and CPU scale with the
  // mailboxes); every other role shares one.
  // Each worker process gets its own pair of ports: Mailflow's metrics and Temporal's SDK metrics (+100).
  const metricsPort = Number(env.WORKER_METRICS_PORT);
  const sdkMetricsPort = Number(process.env.WORKER_SDK_METRICS_PORT || (metricsPort ? metricsPort + 100 : 0));
  // MAILING_WORKER_PROCESSES=n (default 0: in the shared process) runs the mailing role in n processes of its
  // own, as production scales it: its memory is then its own (the ingest benchmark samples it), on the ports
  // after the sync worker's.
  const mailingProcesses = Number(process.env.MAILING_WORKER_PROCESSES ?? 0);
  // As docker-compose runs the role: its V8 heap capped, so an ingest's garbage is collected early rather
  // than growing the process (MAILING_WORKER_HEAP_MB), and two malloc arenas instead of one per thread.
  const mailingHeapMb = Number(process.env.MAILING_WORKER_HEAP_MB || 256);
  if (!Number.isInteger(mailingHeapMb) || mailingHeapMb < 64)
    throw new Error(`MAILING_WORKER_HEAP_MB: expected a whole number of MB, at least 64; got ${process.env.MAILING_WORKER_HEAP_MB}`);
  const shared = roles.filter((r) => r !== 'mailbox-sync' && (mailingProcesses === 0 || r !== 'mailings'));
  startChild('workers', 'workers/main.ts', { ...env, WORKER_ROLES: shared.join(','), WORKER_SDK_METRICS_PORT: String(sdkMetricsPort) });
  for (let i = 1; i <= mailingProcesses; i++) {
    startChild(
      `mailing-worker-${i}`,
      'workers/main.ts',
      {
        ...env,
        MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? '2',
        WORKER_ROLES: 'mailings',
        WORKER_METRICS_PORT: String(metricsPort ? metricsPort + 1 + i : 0),
        WORKER_SDK_METRICS_PORT: String(sdkMetricsPort ? sdkMetricsPort + 1 + i : 0),
      },
      [`--max-old-space-size=${mailingHeapMb}`],
    );
  }
  startChild('sync-worker', 'workers/mailbox-sync.ts', {
    ...env,
    WORKER_METRICS_PORT: String(metricsPort ? metricsPort + 1 : 0),
    WORKER_SDK_METRICS_PORT: String(sdkMetricsPort ? sdkMetricsPort + 1 : 0),
  });
  await waitForReady(apiUrl);

  const connection = await Connection.connect({ address: services.temporalAddress });
  const client = new Client({ connection });
  const check = await client.workflow.execute(platformCheck, {
    taskQueue: taskQueue({ TASK_QUEUE_PREFIX: process.env.TASK_QUEUE_PREFIX ?? '' }, PLATFORM_QUEUE),
    workflowId: `platform-check-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    args: [{ requestedBy: 'npm start' }],
  });
  await connection.close();

  console.log(
    [
      '',
      'Mailflow is running.',
      `  API              ${apiUrl}`,
      `  API docs         ${apiUrl}/docs   (OpenAPI: ${apiUrl}/openapi.json)`,
      `  Metrics          ${apiUrl}/metrics (API, with an API key)   http://127.0.0.1:${env.WORKER_METRICS_PORT}/metrics (workers, and the next port: the sync worker)`,
      `  Temporal SDK     ${sdkMetricsPort ? `http://127.0.0.1:${sdkMetricsPort}/metrics (workers' Temporal metrics, and the next port: the sync worker)` : 'off'}`,
      `  Web UI           ${apiUrl}/web/`,
      `  Temporal Web UI  ${services.temporalUiUrl ?? '(external Temporal)'}   (platform check: ${check.workflowId})`,
      `  Temporal         ${services.temporalAddress}   e.g. temporal workflow list --address ${services.temporalAddress}`,
      `  PostgreSQL       ${services.databaseUrl}`,
      `  Mail index       ${services.elasticsearchUrl ? `Elasticsearch ${services.elasticsearchUrl}` : services.indexNote}`,
      ...sims.lines,
      ...(services.imap ? demoImapLines(services.imap, repoRoot) : [`  IMAP             ${services.imapNote ?? 'off'}`]),
      `  Admin API key    in ${join(profile.dataDir, 'dev-secrets.json')} (ADMIN_API_KEY)`,
      `  Logs             ${logDir}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  log('ready');
} catch (error) {
  log(`start failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
}
