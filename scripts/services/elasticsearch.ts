// Finds or starts Elasticsearch: ELASTICSEARCH_URL, else a single node of the integ-test distribution
// from Maven Central under .tools/ (needs Java 17+ and Maven), else nothing: the mail index then runs
// on PostgreSQL.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chownTree, installWithApt, portOpen, serviceUser, startProcess, waitUntil, which, type ManagedProcess } from './process.js';

export const ELASTICSEARCH_VERSION = '8.19.7';

/** `process`: the node this call started (none when reused or not started). */
export interface ElasticsearchService {
  url?: string;
  started: boolean;
  reason?: string;
  process?: ManagedProcess;
  stop: () => Promise<void>;
}

export interface ElasticsearchOptions {
  root: string;
  dataDir: string;
  port: number;
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  if (!response?.ok) return false;
  const body = (await response.json()) as { status?: string };
  return body.status === 'green' || body.status === 'yellow';
}

function findJavaHome(env: NodeJS.ProcessEnv): string | undefined {
  const candidates = [env.ES_JAVA_HOME, env.JAVA_HOME];
  const java = which('java');
  if (java) candidates.push(dirname(dirname(realpathSync(java))));
  if (existsSync('/usr/lib/jvm')) candidates.push(...readdirSync('/usr/lib/jvm').map((d) => join('/usr/lib/jvm', d)));
  return candidates.find((home) => home && existsSync(join(home, 'bin', 'java')));
}

/** Downloads (once, cached in ~/.m2) and unpacks the distribution into .tools/. */
export function installElasticsearch(root: string, log: (line: string) => void = () => {}): string | undefined {
  const home = join(root, '.tools', `elasticsearch-${ELASTICSEARCH_VERSION}`);
  if (existsSync(join(home, 'bin', 'elasticsearch'))) return home;
  if (!which('unzip')) installWithApt(['unzip'], log, () => which('unzip'));
  if (!which('mvn') || !which('unzip')) return undefined;
  log(`fetching Elasticsearch ${ELASTICSEARCH_VERSION} (integ-test distribution) with Maven…`);
  const tools = join(root, '.tools');
  mkdirSync(tools, { recursive: true });
  const fetched = spawnSync(
    'mvn',
    [
      '-B',
      '-q',
      'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy',
      `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ELASTICSEARCH_VERSION}:zip`,
      `-DoutputDirectory=${tools}`,
    ],
    { stdio: 'inherit' },
  );
  const zip = join(tools, `elasticsearch-${ELASTICSEARCH_VERSION}.zip`);
  if (fetched.status !== 0 || !existsSync(zip)) return undefined;
  const unpacked = spawnSync('unzip', ['-q', '-o', zip, '-d', tools], { stdio: 'inherit' });
  return unpacked.status === 0 && existsSync(join(home, 'bin', 'elasticsearch')) ? home : undefined;
}

export async function ensureElasticsearch(options: ElasticsearchOptions): Promise<ElasticsearchService> {
  const log = options.log ?? (() => {});
  const none = (reason: string): ElasticsearchService => ({ started: false, reason, stop: async () => {} });
  if (options.env.ELASTICSEARCH_URL) {
    const url = options.env.ELASTICSEARCH_URL.replace(/\/$/, '');
    await waitUntil(`Elasticsearch at ${url}`, () => healthy(url), { timeoutMs: 60_000 });
    return { url, started: false, stop: async () => {} };
  }
  if (options.env.MAILFLOW_INDEX === 'postgres') return none('MAILFLOW_INDEX=postgres');
  const url = `http://127.0.0.1:${options.port}`;
  if (await portOpen(options.port)) {
    await waitUntil(`Elasticsearch at ${url}`, () => healthy(url), { timeoutMs: 60_000 });
    log(`reusing the Elasticsearch node already on ${url}`);
    return { url, started: false, stop: async () => {} };
  }
  const javaHome = findJavaHome(options.env);
  if (!javaHome) return none('no Java runtime found');
  const home = installElasticsearch(options.root, log);
  if (!home) return none('Elasticsearch could not be installed (needs Maven and unzip)');

  const runAs = serviceUser();
  mkdirSync(options.dataDir, { recursive: true });
  if (runAs) chmodSync(options.dataDir, 0o755);
  const base = join(options.dataDir, 'elasticsearch');
  const conf = join(base, 'config');
  // The node writes into its config dir (keystore), so each data dir gets its own copy.
  if (!existsSync(conf)) cpSync(join(home, 'config'), conf, { recursive: true });
  mkdirSync(join(base, 'data'), { recursive: true });
  mkdirSync(join(base, 'logs'), { recursive: true });
  chownTree(base, runAs);
  const settings = [
    'discovery.type=single-node',
    'network.host=127.0.0.1',
    `http.port=${options.port}`,
    `transport.port=${options.port + 100}`,
    'xpack.security.enabled=false',
    'cluster.routing.allocation.disk.threshold_enabled=false',
    'cluster.name=mailflow',
    `path.data=${join(base, 'data')}`,
    `path.logs=${join(base, 'logs')}`,
  ];
  const logDir = join(options.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  chownTree(logDir, runAs);
  const proc = startProcess(
    'elasticsearch',
    join(home, 'bin', 'elasticsearch'),
    settings.flatMap((s) => ['-E', s]),
    {
      logDir,
      runAs,
      env: { ES_JAVA_HOME: javaHome, ES_PATH_CONF: conf, ES_JAVA_OPTS: options.env.ES_JAVA_OPTS ?? '-Xms512m -Xmx512m' },
    },
  );
  await waitUntil(`Elasticsearch at ${url}`, () => healthy(url), { timeoutMs: 180_000, process: proc });
  return { url, started: true, process: proc, stop: () => proc.stop('SIGTERM', 30_000) };
}
