// Drain: notifications completed per second beside the limit measured in the same run, the same Temporal
// dev server completing an empty workflow with one no-op activity (this process runs its worker). Both are
// measured the same way: a backlog of BENCH_BACKLOG (4000) started, then the completion rate over
// BENCH_MEASURE_SECONDS (30) while the backlog remains. Progress comes from a counter (the workers' metrics
// endpoint for notifications), never from listing rows.
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { pool } from '../lib.js';
import { cpuWindow } from './processes.js';
import { measureRate, runId, sentCount, submit, waitIdle } from './stack.js';

const temporalAddress = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';

async function emptyWorkflowRate(backlog: number, measureSeconds: number): Promise<{ rate: number; cpu: string }> {
  const taskQueue = `bench-empty-${runId}`;
  let done = 0;
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const worker = await Worker.create({
    connection, taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./empty-workflow.ts', import.meta.url)), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } }),
    activities: { noop: () => { done++; return Promise.resolve(); } },
  });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  try {
    await pool(backlog, 32, async (i) => { await client.workflow.start('benchEmpty', { taskQueue, workflowId: `bench-empty-${runId}-${i}` }); });
    const cpu = cpuWindow();
    const { rate } = await measureRate(() => Promise.resolve(done), measureSeconds);
    const cpuUsed = cpu();
    if (done >= backlog) console.log('  (warning: the empty backlog ran out inside the window: raise BENCH_BACKLOG)');
    return { rate, cpu: cpuUsed };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await client.connection.close();
  }
}

export async function drainBench(): Promise<void> {
  const backlog = Number(process.env.BENCH_BACKLOG ?? 4000);
  const measureSeconds = Number(process.env.BENCH_MEASURE_SECONDS ?? 30);
  await waitIdle();
  const limit = await emptyWorkflowRate(backlog, measureSeconds);
  console.log(`drain limit: the dev server completes ${limit.rate.toFixed(1)} empty workflows/s (one no-op activity each); CPU: ${limit.cpu}`);

  // Nothing else in the stack's queues: the rate is this backlog's alone.
  await waitIdle();
  const before = await sentCount();
  const admitted = performance.now();
  await pool(backlog, 16, async (i) => { await submit(i, 'LOW', 'drain'); });
  console.log(`  ${backlog} LOW admitted in ${((performance.now() - admitted) / 1000).toFixed(1)} s`);
  const cpu = cpuWindow();
  const { rate, samples } = await measureRate(() => sentCount(), measureSeconds);
  const cpuUsed = cpu();
  if (samples[samples.length - 1]! - before >= backlog) console.log('  (warning: the notification backlog ran out inside the window: raise BENCH_BACKLOG)');
  console.log(`  notifications: ${rate.toFixed(1)} sent/s (CPU: ${cpuUsed})`);
  console.log(`  drain ${rate.toFixed(1)}/s beside the limit ${limit.rate.toFixed(1)}/s: ratio ${(rate / limit.rate).toFixed(2)} (goal ≥ 0.8)`);
}
