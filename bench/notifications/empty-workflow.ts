// The drain benchmark's limit: a workflow that runs one no-op activity and ends, the same shape as a
// notification's run (start, a workflow task, an activity, a workflow task, complete) with no work in it.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function benchEmpty(): Promise<void> {
  await noop();
}

/**
 * The same, shaped as a notification's run is in Temporal: its activity on another task queue (no eager
 * dispatch), with a heartbeat timeout, and the run started with the notification's search attributes. The
 * gap between benchEmpty and this is what the design's shape costs the server, not Mailflow's code.
 */
export async function benchShaped(input: { activityQueue: string }): Promise<{ ok: boolean }> {
  const { noop: shapedNoop } = proxyActivities<{ noop(): Promise<void> }>({
    taskQueue: input.activityQueue,
    startToCloseTimeout: '60 seconds',
    heartbeatTimeout: '5 seconds',
  });
  await shapedNoop();
  return { ok: true };
}
