// Finds or starts PostgreSQL: DATABASE_URL, else a cluster under the data dir made with the local
// PostgreSQL server binaries (Debian's `postgresql` package), listening on loopback TCP only.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { chownTree, installWithApt, portOpen, serviceUser, startProcess, waitUntil, which, type ManagedProcess } from './process.js';

/** `process`: the server this call started (none when an existing one was reused). */
export interface PostgresService {
  url: string;
  started: boolean;
  process?: ManagedProcess;
  stop: () => Promise<void>;
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  env: NodeJS.ProcessEnv;
  /** Tests trade durability for speed. */
  fast?: boolean;
  log?: (line: string) => void;
}

const USER = 'mailflow';

export function findPostgresBinDir(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.PG_BIN_DIR;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const initdb = which('initdb');
  return initdb ? initdb.replace(/\/initdb$/, '') : undefined;
}

async function canQuery(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await sql.unsafe(`create database "${database.replace(/"/g, '')}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function ensurePostgres(options: PostgresOptions): Promise<PostgresService> {
  const log = options.log ?? (() => {});
  if (options.env.DATABASE_URL) {
    const url = options.env.DATABASE_URL;
    await waitUntil('PostgreSQL at DATABASE_URL', () => canQuery(url), { timeoutMs: 30_000 });
    return { url, started: false, stop: async () => {} };
  }
  const adminUrl = `postgres://${USER}@127.0.0.1:${options.port}/postgres`;
  const url = `postgres://${USER}@127.0.0.1:${options.port}/${options.database}`;
  if (await portOpen(options.port)) {
    await waitUntil(`PostgreSQL on port ${options.port}`, () => canQuery(adminUrl), { timeoutMs: 30_000 });
    await createDatabaseIfMissing(adminUrl, options.database);
    log(`reusing the PostgreSQL server already on port ${options.port}`);
    return { url, started: false, stop: async () => {} };
  }

  const bin = findPostgresBinDir(options.env) ?? installWithApt(['postgresql'], log, () => findPostgresBinDir(options.env));
  if (!bin) {
    throw new Error('PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql) or set DATABASE_URL');
  }
  const runAs = serviceUser();
  const cluster = join(options.dataDir, 'postgres');
  mkdirSync(options.dataDir, { recursive: true });
  // The service user must be able to reach its cluster directory.
  if (runAs) chmodSync(options.dataDir, 0o755);
  if (!existsSync(join(cluster, 'PG_VERSION'))) {
    log(`creating a PostgreSQL cluster in ${cluster}`);
    mkdirSync(cluster, { recursive: true, mode: 0o700 });
    chownTree(cluster, runAs);
    const init = spawnSync(join(bin, 'initdb'), ['-D', cluster, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      encoding: 'utf8',
      uid: runAs?.uid,
      gid: runAs?.gid,
      env: { ...process.env, ...(runAs ? { HOME: runAs.home } : {}) },
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  chownTree(cluster, runAs);
  const logDir = join(options.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  chownTree(logDir, runAs);
  const settings = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'max_connections=300',
    ...(options.fast ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  const proc = startProcess('postgres', join(bin, 'postgres'), ['-D', cluster, '-p', String(options.port), ...settings.flatMap((s) => ['-c', s])], {
    logDir,
    runAs,
  });
  await waitUntil(`PostgreSQL on port ${options.port}`, () => canQuery(adminUrl), { timeoutMs: 60_000, process: proc });
  await createDatabaseIfMissing(adminUrl, options.database);
  // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
  return { url, started: true, process: proc, stop: () => proc.stop('SIGINT', 30_000) };
}
