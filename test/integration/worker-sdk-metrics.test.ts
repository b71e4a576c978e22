// A worker process serves Temporal's own SDK metrics (Core's Prometheus exporter) on its own port, beside
// Mailflow's metrics on WORKER_METRICS_PORT.
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PLATFORM_QUEUE, taskQueue } from '../../lib/temporal/task-queues.js';
import { platformCheck } from '../../workflows/platform-check.js';
import { testConfig, unique } from '../helpers/config.js';
import { temporalClient } from '../helpers/temporal.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url).catch(() => undefined);
  return response?.ok ? response.text() : '';
}

/** The names a Prometheus text exposition declares (`# TYPE <name> <type>`). */
function exposedNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
}

describe('worker process SDK metrics', () => {
  it('serves Temporal worker metrics on WORKER_SDK_METRICS_PORT and Mailflow metrics on WORKER_METRICS_PORT', async () => {
    const metricsPort = await freePort();
    const sdkPort = await freePort();
    const { child, ready, exited } = spawnWorkerProcess('delivery', { WORKER_METRICS_PORT: String(metricsPort), WORKER_SDK_METRICS_PORT: String(sdkPort) });
    try {
      await ready;
      const deadline = Date.now() + 90_000;
      // Core registers slot gauges once the pollers start: poll the exporter until they show.
      let sdk = '';
      while (!exposedNames(sdk).includes('temporal_worker_task_slots_available')) {
        if (Date.now() > deadline) throw new Error(`no Temporal worker metrics on :${sdkPort}:\n${sdk}`);
        await sleep(250);
        sdk = await scrape(`http://127.0.0.1:${sdkPort}/metrics`);
      }
      // A workflow run on this worker: Core then reports task latencies and the sticky cache.
      const { client, close } = await temporalClient();
      try {
        await client.workflow.execute(platformCheck, {
          taskQueue: taskQueue(testConfig(), PLATFORM_QUEUE),
          workflowId: unique('sdk-metrics'),
          args: [{ requestedBy: 'test' }],
        });
      } finally {
        await close();
      }
      sdk = await scrape(`http://127.0.0.1:${sdkPort}/metrics`);
      for (const name of [
        'temporal_workflow_task_schedule_to_start_latency',
        'temporal_activity_schedule_to_start_latency',
        'temporal_sticky_cache_size',
        'temporal_workflow_completed_total',
      ]) {
        expect(exposedNames(sdk), name).toContain(name);
      }
      if (process.env.PRINT_SDK_METRICS) console.log(sdk);
      expect(sdk).toMatch(/^temporal_worker_task_slots_available\{[^}]*worker_type="WorkflowWorker"/m);
      expect(sdk).toMatch(/task_queue="t[^"]*-notifications-critical"/);
      // Mailflow's own registry is still served, and not mixed into the SDK exporter.
      const mailflow = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(exposedNames(mailflow).some((n) => n.startsWith('mailflow_'))).toBe(true);
      expect(exposedNames(sdk).some((n) => n.startsWith('mailflow_'))).toBe(false);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
