// The drain benchmark's limit: a workflow that runs one no-op activity and ends, the same shape as a
// notification's run (start, a workflow task, an activity, a workflow task, complete) with no work in it.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function benchEmpty(): Promise<void> {
  await noop();
}
