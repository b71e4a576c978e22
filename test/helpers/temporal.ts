// Workflow test harness: the bundle built once by the global setup, a unique task queue per test,
// and real workers on the real dev server.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, type WorkerOptions } from '@temporalio/worker';
import { inject } from 'vitest';
import { unique } from './config.js';

let bundle: { code: string } | undefined;
let runtimeInstalled = false;

export function workflowBundle(): { code: string } {
  bundle ??= { code: readFileSync(inject('services').WORKFLOW_BUNDLE_PATH, 'utf8') };
  return bundle;
}

export function installQuietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
}

export async function temporalClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: inject('services').TEMPORAL_ADDRESS });
  return { client: new Client({ connection }), close: () => connection.close() };
}

export interface TestWorker {
  taskQueue: string;
  worker: Worker;
  /** Runs `fn` while the worker polls, then shuts the worker down. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export async function createTestWorker(options: Partial<WorkerOptions> & { workflows?: boolean } = {}): Promise<TestWorker & { connection: NativeConnection }> {
  installQuietRuntime();
  const { workflows = true, ...rest } = options;
  const connection = await NativeConnection.connect({ address: inject('services').TEMPORAL_ADDRESS });
  const taskQueue = rest.taskQueue ?? unique('tq');
  const worker = await Worker.create({
    connection,
    taskQueue,
    ...(workflows ? { workflowBundle: workflowBundle() } : {}),
    ...rest,
  });
  return {
    taskQueue,
    worker,
    connection,
    async run(fn) {
      try {
        return await worker.runUntil(fn());
      } finally {
        await connection.close();
      }
    },
  };
}
