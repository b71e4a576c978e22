// Real worker roles in the test process: the same specs the worker processes run (workers/roles.ts),
// on the real Temporal server, with the test run's task-queue prefix.
import { NativeConnection, Worker, type WorkerInterceptors } from '@temporalio/worker';
import { inject } from 'vitest';
import type { ActivityDeps } from '../../activities/deps.js';
import { connectDatabase } from '../../db/client.js';
import { BlobStore } from '../../lib/blob-store.js';
import type { Config } from '../../lib/config.js';
import { Encryptor } from '../../lib/crypto.js';
import { createLogger } from '../../lib/logger.js';
import { SecretStore } from '../../lib/secret-store.js';
import { createMailIndex } from '../../lib/mail-index/index.js';
import { startBackgroundServices, workerSpecs, type Role } from '../../workers/roles.js';
import { installQuietRuntime, workflowBundle } from './temporal.js';

export interface RunningWorkers {
  /** Stops polling and waits for in-flight tasks (graceful), then closes connections. */
  stop(): Promise<void>;
}

/** `interceptors`: Temporal worker interceptors for every worker started (tests that lose an attempt's result on purpose). */
export async function startRoleWorkers(config: Config, roles: Role[], interceptors?: WorkerInterceptors): Promise<RunningWorkers> {
  installQuietRuntime();
  const database = connectDatabase(config.DATABASE_URL, { max: 5 });
  const encryptor = new Encryptor(config.ENCRYPTION_KEYS);
  const mailIndex = createMailIndex(config, database.db);
  await mailIndex.ensureReady();
  const deps: ActivityDeps = {
    config,
    db: database.db,
    logger: createLogger({ level: config.LOG_LEVEL }),
    encryptor,
    mailIndex,
    blobs: new BlobStore(database.db),
    secrets: new SecretStore(database.db, encryptor),
  };
  const connection = await NativeConnection.connect({ address: inject('services').TEMPORAL_ADDRESS });
  const workers = await Promise.all(
    (await workerSpecs(roles, deps)).map(({ workflows, ...spec }) =>
      Worker.create({
        ...spec,
        connection,
        shutdownGraceTime: '5s',
        ...(workflows ? { workflowBundle: workflowBundle() } : {}),
        ...(interceptors ? { interceptors } : {}),
      }),
    ),
  );
  const running = workers.map((w) => w.run());
  const background = await startBackgroundServices(roles, deps);
  return {
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      for (const service of background) await service.stop();
      await connection.close();
      await mailIndex.close();
      await database.close();
    },
  };
}
