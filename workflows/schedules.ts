// One firing of a schedule, started by its Temporal Schedule. The slot is the scheduled time Temporal
// stamps on the run (TemporalScheduledStartTime), never the time the run starts: a firing that waited for a
// worker, was retried or caught up after an outage still admits its slot's notification, once.
import { defineSearchAttributeKey } from '@temporalio/common';
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ScheduleActivities } from '../activities/schedules/types.js';

const { fireScheduledSlot } = proxyActivities<ScheduleActivities>({
  startToCloseTimeout: '30 seconds',
  // Database or Temporal trouble is retried; business outcomes (rate limited, rejected) are results, not failures.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

const scheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/** What a schedule's action starts the firing with: the schedule (the slot is the time Temporal stamps). */
export interface ScheduledFiringInput {
  scheduleId: string;
}

export interface ScheduledFiringResult {
  scheduledAt: string;
  outcome: string;
  notificationId: string | null;
}

export async function scheduledFiring(input: ScheduledFiringInput & { scheduledAt?: string }): Promise<ScheduledFiringResult> {
  const info = workflowInfo();
  // Tests and operators may start a firing by hand for a given slot.
  const stamped = info.typedSearchAttributes.get(scheduledStartTime);
  const scheduledAt = input.scheduledAt ? new Date(input.scheduledAt) : stamped;
  if (!scheduledAt || Number.isNaN(scheduledAt.getTime())) {
    throw ApplicationFailure.nonRetryable('no scheduled time: start this workflow from its schedule, or give scheduledAt', 'NoScheduledTime');
  }
  const result = await fireScheduledSlot({ scheduleId: input.scheduleId, scheduledAt: scheduledAt.toISOString(), workflowId: info.workflowId });
  return { scheduledAt: scheduledAt.toISOString(), outcome: result.outcome, notificationId: result.notificationId };
}
