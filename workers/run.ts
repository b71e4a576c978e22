// Runs the Temporal workers for a set of roles until SIGINT/SIGTERM, then shuts down gracefully:
// stop polling, let in-flight tasks finish (up to WORKER_SHUTDOWN_GRACE_MS), close connections, exit 0.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { connectDatabase } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { BlobStore } from '../lib/blob-store.js';
import { loadConfigOrExit, type Config } from '../lib/config.js';
import { Encryptor } from '../lib/crypto.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { SecretStore } from '../lib/secret-store.js';
import { PostgresMailIndex } from '../lib/mail-index/postgres.js';
import type { MailIndex } from '../lib/mail-index/types.js';
import type { ActivityDeps } from '../activities/deps.js';
import { sdkMetricsBindAddress, serveWorkerMetrics } from './metrics-server.js';
import { parseRoles, startBackgroundServices, workerSpecs, type Role } from './roles.js';

const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
const prebuiltBundle = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/**
 * Production images ship a prebuilt bundle (npm run build), `npm start` builds one for all its workers
 * (WORKFLOW_BUNDLE_PATH); otherwise a worker bundles at start (webpack, in this process: slower, and its
 * memory stays with the process).
 */
export async function loadWorkflowBundle(logger: Logger, path?: string): Promise<{ code: string }> {
  if (path) return { code: readFileSync(path, 'utf8') };
  if (existsSync(prebuiltBundle)) return { code: readFileSync(prebuiltBundle, 'utf8') };
  return bundleWorkflowCode({ workflowsPath, logger: { ...quietBundlerLogger(logger) } });
}

function quietBundlerLogger(logger: Logger) {
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: Record<string, unknown>) => logger[level](meta ?? {}, message);
  return {
    trace: log('debug'),
    debug: log('debug'),
    info: log('debug'),
    warn: log('warn'),
    error: log('error'),
    log: (_l: string, m: string) => logger.debug(m),
  };
}

/**
 * Only mailbox sync reads or writes the mail index. Other roles get the PostgreSQL one, never opened, so a
 * mailing or notification worker neither loads the Elasticsearch client (about 30 MB) nor connects to it.
 */
async function openMailIndex(config: Config, db: ActivityDeps['db'], selected: Role[]): Promise<MailIndex> {
  if (!selected.includes('mailbox-sync')) return new PostgresMailIndex(db);
  const { createMailIndex } = await import('../lib/mail-index/index.js');
  const index = createMailIndex(config, db);
  await index.ensureReady();
  return index;
}

export async function runWorkers(config: Config, selected: Role[]): Promise<void> {
  const logger = createLogger({ level: config.LOG_LEVEL, name: `worker:${selected.join('+')}` });
  // Once per process, before any connection or worker: Core's metrics exporter is fixed at install.
  const sdkMetrics = sdkMetricsBindAddress(config);
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(sdkMetrics ? { metrics: { prometheus: { bindAddress: sdkMetrics, countersTotalSuffix: true, useSecondsForDurations: true } } } : {}),
    },
  });
  await runMigrations(config.DATABASE_URL);
  const database = connectDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'mailflow-worker' });
  const encryptor = new Encryptor(config.ENCRYPTION_KEYS);
  const mailIndex = await openMailIndex(config, database.db, selected);
  const deps: ActivityDeps = {
    config,
    db: database.db,
    logger,
    encryptor,
    mailIndex,
    blobs: new BlobStore(database.db),
    secrets: new SecretStore(database.db, encryptor),
  };
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const metricsServer = config.WORKER_METRICS_PORT ? await serveWorkerMetrics(config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST) : undefined;
  try {
    const bundle = await loadWorkflowBundle(logger, config.WORKFLOW_BUNDLE_PATH);
    const workers = await Promise.all(
      (await workerSpecs(selected, deps)).map(({ workflows, ...spec }) =>
        Worker.create({
          ...spec,
          connection,
          namespace: config.TEMPORAL_NAMESPACE,
          shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
          ...(workflows ? { workflowBundle: bundle } : {}),
        }),
      ),
    );
    const background = await startBackgroundServices(selected, deps);
    logger.info({ roles: selected, taskQueues: workers.map((w) => w.options.taskQueue), sdkMetrics }, 'workers running');
    await Promise.all(workers.map((worker) => worker.run()));
    for (const service of background) await service.stop();
    logger.info('workers stopped');
  } finally {
    metricsServer?.close();
    await connection.close();
    await mailIndex.close();
    await database.close();
  }
}

export async function main(roles?: Role[]): Promise<void> {
  const config = loadConfigOrExit();
  await runWorkers(config, roles ?? parseRoles(config.WORKER_ROLES));
  process.exit(0);
}
