// Drain: notifications completed per second beside the limit measured in the same run, the same Temporal
// dev server completing an empty workflow with one no-op activity (this process runs its worker). Both are
// measured the same way: a backlog of BENCH_BACKLOG (4000) started, then the completion rate over
// BENCH_MEASURE_SECONDS (30) while the backlog remains. Progress comes from a counter (the workers' metrics
// endpoint for notifications), never from listing rows.
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { pool } from '../lib.js';
import { cpuWindow } from '../processes.js';
import { measureRate, outboxRows, runId, sentCount, submit, waitIdle } from './stack.js';
import { benchEmpty, benchShaped } from './empty-workflow.js';

const temporalAddress = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

/** `shaped`: the run shaped as a notification's (benchShaped); otherwise the bare empty workflow. */
async function emptyWorkflowRate(backlog: number, measureSeconds: number, shaped: boolean): Promise<{ rate: number; cpu: string }> {
  const taskQueue = `bench-${shaped ? 'shaped' : 'empty'}-${runId}`;
  const activityQueue = shaped ? `${taskQueue}-send` : taskQueue;
  let done = 0;
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const activities = {
    noop: () => {
      done++;
      return Promise.resolve();
    },
  };
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./empty-workflow.ts', import.meta.url)), logger: quiet });
  const workers = [await Worker.create({ connection, taskQueue, workflowBundle, ...(shaped ? {} : { activities }) })];
  if (shaped) workers.push(await Worker.create({ connection, taskQueue: activityQueue, activities }));
  const running = workers.map((w) => w.run());
  const client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  try {
    await pool(backlog, 32, async (i) => {
      const id = `${taskQueue}-${i}`;
      if (!shaped) await client.workflow.start(benchEmpty, { taskQueue, workflowId: id });
      else {
        await client.workflow.start(benchShaped, {
          taskQueue,
          workflowId: id,
          args: [{ activityQueue }],
          searchAttributes: { NotificationChannel: ['SMS'], NotificationPriority: ['low'], UserId: [`bench-${i}`], CorrelationId: [taskQueue] },
        });
      }
    });
    const cpu = cpuWindow();
    const { rate } = await measureRate(() => Promise.resolve(done), measureSeconds);
    const cpuUsed = cpu();
    if (done >= backlog) console.log('  (warning: the empty backlog ran out inside the window: raise BENCH_BACKLOG)');
    return { rate, cpu: cpuUsed };
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
    await connection.close();
    await client.connection.close();
  }
}

export async function drainBench(): Promise<void> {
  const backlog = Number(process.env.BENCH_BACKLOG ?? 4000);
  const measureSeconds = Number(process.env.BENCH_MEASURE_SECONDS ?? 30);
  await waitIdle();
  const limit = await emptyWorkflowRate(backlog, measureSeconds, false);
  console.log(`drain limit: the dev server completes ${limit.rate.toFixed(1)} empty workflows/s (one no-op activity each); CPU: ${limit.cpu}`);
  const shaped = await emptyWorkflowRate(backlog, measureSeconds, true);
  console.log(
    `  the same empty workflow shaped as a notification's run (activity on its own queue, heartbeat timeout, 4 search attributes): ${shaped.rate.toFixed(1)}/s; CPU: ${shaped.cpu}`,
  );

  // Nothing else in the stack's queues: the rate is this backlog's alone.
  await waitIdle();
  const before = await sentCount();
  const admitted = performance.now();
  await pool(backlog, 16, async (i) => {
    await submit(i, 'LOW', 'drain');
  });
  console.log(`  ${backlog} LOW admitted in ${((performance.now() - admitted) / 1000).toFixed(1)} s`);
  // As for the empty run, the window opens once every run is started: starting is admission's work (the
  // admission bench measures it), and the dev server starting runs would otherwise share the window.
  while ((await outboxRows()) > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(`  all ${backlog} runs started ${((performance.now() - admitted) / 1000).toFixed(1)} s after the first request`);
  const cpu = cpuWindow();
  const { rate, samples } = await measureRate(() => sentCount(), measureSeconds);
  const cpuUsed = cpu();
  if (samples[samples.length - 1]! - before >= backlog) console.log('  (warning: the notification backlog ran out inside the window: raise BENCH_BACKLOG)');
  console.log(`  notifications: ${rate.toFixed(1)} sent/s (CPU: ${cpuUsed})`);
  console.log(
    `  drain ${rate.toFixed(1)}/s beside the limit ${limit.rate.toFixed(1)}/s: ratio ${(rate / limit.rate).toFixed(2)} (goal ≥ 0.8); ` +
      `beside the notification-shaped empty run ${shaped.rate.toFixed(1)}/s: ${(rate / shaped.rate).toFixed(2)}`,
  );
}
