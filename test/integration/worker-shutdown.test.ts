// SIGTERM to a worker process: it stops polling, lets the in-flight activity finish, exits 0.
import { platformCheck } from '../../workflows/platform-check.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { connectDatabase } from '../../db/client.js';
import { platformChecks } from '../../db/schema/index.js';
import { PLATFORM_QUEUE, taskQueue } from '../../lib/temporal/task-queues.js';
import { testConfig, unique } from '../helpers/config.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';
import { temporalClient } from '../helpers/temporal.js';

const database = connectDatabase(testConfig().DATABASE_URL, { max: 2 });
afterAll(() => database.close());

describe('worker process', () => {
  it('finishes the in-flight activity on SIGTERM and exits 0', async () => {
    const { client, close } = await temporalClient();
    // A task queue of its own: no other test's worker on the shared server can take this activity.
    const own = { TASK_QUEUE_PREFIX: `${unique('shutdown')}-` };
    const worker = spawnWorkerProcess('mailbox-sync', own);
    const { child, exited } = worker;
    try {
      await worker.ready;
      const workflowId = unique('shutdown');
      const handle = await client.workflow.start(platformCheck, {
        taskQueue: taskQueue(testConfig(own), PLATFORM_QUEUE),
        workflowId,
        args: [{ requestedBy: 'test', holdMs: 3_000 }],
      });
      // Wait until the activity is running on this worker, then ask the worker to stop.
      for (;;) {
        const description = await handle.describe();
        if (description.raw.pendingActivities?.some((a) => Number(a.state) === 2 /* STARTED */)) break;
        await sleep(100);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The activity completed during the grace period: its row exists and history says so.
      const rows = await database.db.select().from(platformChecks).where(eq(platformChecks.workflowId, workflowId));
      expect(rows).toHaveLength(1);
      const history = await handle.fetchHistory();
      expect(history.events?.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
      await handle.terminate('test done').catch(() => {});
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await close();
    }
  }, 120_000);
});
