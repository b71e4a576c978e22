// Admission, open loop: POST /v1/notifications at BENCH_RATE (100) per second for BENCH_SECONDS (60) while the
// workers drain a backlog of BENCH_BACKLOG (3000) LOW, latency from each request's due time; then, under the
// same load, its limit: a bare Hono route doing the same database write at the same rate.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pool } from '../lib.js';
import { describeRun, openLoop } from './open-loop.js';
import { cpuWindow } from '../processes.js';
import { runId, sentCount, submit, watchOutbox } from './stack.js';

export async function admissionBench(): Promise<void> {
  const rate = Number(process.env.BENCH_RATE ?? 100);
  const seconds = Number(process.env.BENCH_SECONDS ?? 60);
  const backlog = Number(process.env.BENCH_BACKLOG ?? 3000);
  const goalMs = 50;

  await pool(backlog, 16, async (i) => {
    await submit(i, 'LOW', 'backlog');
  });
  console.log(`admission: ${backlog} LOW admitted as a backlog for the workers to drain during the runs`);

  let sent = await sentCount();
  let cpu = cpuWindow();
  const outbox = watchOutbox();
  const admission = await openLoop(rate, seconds, async (i) => (await submit(i, 'MEDIUM', 'adm')).status);
  const drainedDuringAdmission = (await sentCount()) - sent;
  const admissionCpu = cpu();
  const starts = await outbox();

  const port = Number(process.env.BENCH_BARE_PORT ?? 3999);
  const bare = spawn(process.execPath, ['--import', 'tsx', 'bench/notifications/bare-route.ts'], {
    env: { ...process.env, BARE_PORT: String(port), DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await once(bare.stdout, 'data');
    sent = await sentCount();
    cpu = cpuWindow();
    const limit = await openLoop(rate, seconds, async (i) => {
      const response = await fetch(`http://127.0.0.1:${port}/bare`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `bench-${runId}-bare-${i}`, to: `+1555${String(i).padStart(7, '0')}`, correlationId: `bench-${runId}-bare` }),
      });
      await response.arrayBuffer();
      return response.status;
    });
    const drainedDuringLimit = (await sentCount()) - sent;
    const limitCpu = cpu();

    console.log(describeRun('  POST /v1/notifications', admission));
    console.log(`    workers sent ${drainedDuringAdmission} meanwhile (${(drainedDuringAdmission / admission.seconds).toFixed(1)}/s); CPU: ${admissionCpu}`);
    console.log(`    workflow starts behind admission: at most ${starts.rows} committed and not yet started`);
    console.log(describeRun('  limit: bare Hono route, same write', limit));
    console.log(`    workers sent ${drainedDuringLimit} meanwhile (${(drainedDuringLimit / limit.seconds).toFixed(1)}/s); CPU: ${limitCpu}`);
    console.log(
      `  admission p99 ${admission.latency.p99.toFixed(1)} ms (goal ≤ ${goalMs} ms: ${admission.latency.p99 <= goalMs && admission.failed === 0 ? 'met' : 'NOT met'}, ` +
        `${admission.failed} failed) beside the bare route's ${limit.latency.p99.toFixed(1)} ms at the same ${rate}/s`,
    );
  } finally {
    bare.kill('SIGTERM');
  }
}
