// Pieces of the restart test (test/integration/restarts-mid-run.test.ts): its own Temporal dev server,
// PostgreSQL cluster and Elasticsearch node on ports and a data directory of their own, each of which can be
// killed with SIGKILL and started again on the same data; the API as a child process; a timestamped log.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureElasticsearch } from '../../scripts/services/elasticsearch.js';
import { repoRoot } from '../../scripts/services/index.js';
import { ensurePostgres } from '../../scripts/services/postgres.js';
import { portOpen, type ManagedProcess } from '../../scripts/services/process.js';
import { ensureTemporal } from '../../scripts/services/temporal.js';

const startedAt = Date.now();
/** One line per step, with the wall clock and the seconds since the file started, so a failure says where. */
export function chaosLog(line: string): void {
  console.log(`[restarts ${new Date().toISOString().slice(11, 23)} +${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`);
}

/** Polls `check` until it answers true, or fails after `timeoutMs` naming `what` and the last error seen. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error instanceof Error ? error.message : JSON.stringify(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(intervalMs);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
  });
}

/** A free port whose `port + offset` is free too (Elasticsearch's transport listens 100 above its HTTP port). */
export async function freePortWith(offset: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + offset < 65_536 && !(await portOpen(port + offset))) return port;
  }
}

/** Processes of a process group that still run (zombies waiting for a reaper count as gone). */
export function groupMembersAlive(pgid: number): number[] {
  const alive: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') alive.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return alive;
}

export type PartName = 'temporal' | 'postgres' | 'elasticsearch';

/** One backing service of the test: started, killed (SIGKILL to its whole process group) and started again. */
export interface Part {
  name: PartName;
  port: number;
  /** The server process running now; undefined when this part cannot be killed (see `why`). */
  process: ManagedProcess | undefined;
  start(): Promise<void>;
  /** SIGKILL, then waits until every process of its group is gone and its port is closed. */
  kill(): Promise<{ pid: number }>;
  stop(): Promise<void>;
}

function part(name: PartName, port: number, ensure: () => Promise<{ process?: ManagedProcess | undefined; stop: () => Promise<void> }>): Part {
  let stop: (() => Promise<void>) | undefined;
  const self: Part = {
    name,
    port,
    process: undefined,
    async start() {
      const started = await ensure();
      self.process = started.process;
      stop = started.stop;
    },
    async kill() {
      const proc = self.process;
      const pid = proc?.child.pid;
      if (!proc || pid === undefined) throw new Error(`${name} was not started by this test: nothing to kill`);
      const exited =
        proc.child.exitCode !== null || proc.child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
      process.kill(-pid, 'SIGKILL');
      await waitFor(
        `${name} (pid ${pid}) to exit`,
        async () => {
          await Promise.race([exited, sleep(200)]);
          return proc.child.exitCode !== null || proc.child.signalCode !== null;
        },
        30_000,
      );
      await waitFor(`every process of ${name}'s group ${pid} to be gone`, () => Promise.resolve(groupMembersAlive(pid).length === 0), 30_000);
      await waitFor(`${name}'s port ${port} to close`, async () => !(await portOpen(port)), 30_000);
      self.process = undefined;
      stop = undefined;
      return { pid };
    },
    async stop() {
      await stop?.();
      stop = undefined;
    },
  };
  return self;
}

export interface ChaosServices {
  temporal: Part & { address: string };
  postgres: Part & { url: string };
  /** Undefined when Elasticsearch cannot run here (then `indexNote` says why and the index is PostgreSQL's). */
  elasticsearch: (Part & { url: string }) | undefined;
  indexNote: string | undefined;
  stopAll(): Promise<void>;
}

/**
 * Starts the three services in `dataDir` on free ports, as scripts/services starts them, never reusing a
 * running one (the environment's TEMPORAL_ADDRESS / DATABASE_URL / ELASTICSEARCH_URL are ignored).
 */
export async function startChaosServices(dataDir: string, database: string): Promise<ChaosServices> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: undefined, DATABASE_URL: undefined, ELASTICSEARCH_URL: undefined };
  const log = (line: string) => chaosLog(`services: ${line}`);
  const [temporalPort, uiPort, postgresPort, esPort] = [await freePort(), await freePort(), await freePort(), await freePortWith(100)];

  // History in a SQLite file under dataDir (persistent), so a restart finds every workflow where it was.
  const temporal = Object.assign(
    part('temporal', temporalPort, () => ensureTemporal({ root: repoRoot, dataDir, port: temporalPort, uiPort, persistent: true, env, log })),
    { address: `127.0.0.1:${temporalPort}` },
  );
  // Durable settings (no `fast`): with synchronous_commit off, a SIGKILL would lose commits already answered.
  const postgres = Object.assign(
    part('postgres', postgresPort, () => ensurePostgres({ dataDir, port: postgresPort, database, env, log })),
    { url: `postgres://mailflow@127.0.0.1:${postgresPort}/${database}` },
  );

  const stopAll = async () => {
    for (const p of [elasticsearch, temporal, postgres]) await p?.stop().catch((error: unknown) => chaosLog(`stopping ${p.name} failed: ${String(error)}`));
  };
  let elasticsearch: ChaosServices['elasticsearch'];
  let indexNote: string | undefined;
  try {
    await Promise.all([temporal.start(), postgres.start()]);
    // The first start may find that Elasticsearch cannot run here; a restart must start it.
    let restart = false;
    let reason: string | undefined;
    const es = part('elasticsearch', esPort, async () => {
      const started = await ensureElasticsearch({ root: repoRoot, dataDir, port: esPort, env, log });
      if (!started.url && restart) throw new Error(`Elasticsearch did not start again: ${started.reason ?? 'unknown reason'}`);
      reason = started.reason;
      return started;
    });
    await es.start();
    restart = true;
    if (es.process) elasticsearch = Object.assign(es, { url: `http://127.0.0.1:${esPort}` });
    else indexNote = reason ?? 'Elasticsearch is not available';
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { temporal, postgres, elasticsearch, indexNote, stopAll };
}

export { spawnApiProcess, type ApiProcess } from './worker-process.js';

/** SIGTERM, then SIGKILL if it has not ended in `graceMs`. */
export async function endProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) return;
  child.kill('SIGKILL');
  await exited;
}
