// A small end-to-end proof that the stack works: a worker picks the task up, an activity reaches
// PostgreSQL, and the run shows in the Temporal Web UI. The launcher runs it once at start-up.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PlatformActivities } from '../activities/platform.js';

const { recordPlatformCheck } = proxyActivities<PlatformActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5 },
});

export interface PlatformCheckInput {
  requestedBy: string;
  /** Keep the activity busy this long (max 60 s): lets an operator watch a graceful worker shutdown. */
  holdMs?: number;
}
export interface PlatformCheckResult {
  workflowId: string;
  checkId: string;
  databaseTime: string;
}

export async function platformCheck(input: PlatformCheckInput): Promise<PlatformCheckResult> {
  const { workflowId } = workflowInfo();
  const recorded = await recordPlatformCheck({ workflowId, requestedBy: input.requestedBy, holdMs: input.holdMs ?? 0 });
  return { workflowId, ...recorded };
}
