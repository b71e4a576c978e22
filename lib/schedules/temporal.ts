// The Temporal Schedule behind each Mailflow schedule. Its action starts a `scheduledFiring` workflow
// (one per slot: Temporal appends the slot's time to the workflow id), which admits the notification.
//
// Policies, chosen on purpose:
// - Overlap ALLOW_ALL: a firing only admits one notification (milliseconds), and each slot's idempotency
//   key already makes it exactly once; no slot is ever skipped or held back behind a slow neighbour.
// - Catch-up window (per schedule, default 15 minutes): slots missed while Temporal itself was down are
//   fired when it comes back if they are at most this old, late but each once (a 10-minute outage loses
//   nothing); older ones are dropped, because a reminder hours late is worse than none. A slot that falls
//   while the schedule is paused is never fired (that is what pausing means).
// - Workers being down loses nothing: the firing workflows wait on their task queue and run when a worker
//   returns, still keyed by their scheduled time.
import type { Client, ScheduleDescription, ScheduleOptions } from '@temporalio/client';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import { toTemporalSpec, type When } from './spec.js';
import { scheduledFiring, type ScheduledFiringInput } from '../../workflows/schedules.js';

export const DEFAULT_CATCHUP_WINDOW_SECONDS = 15 * 60;
/** Temporal refuses catch-up windows under 10 s. */
export const MIN_CATCHUP_WINDOW_SECONDS = 10;

export function temporalScheduleId(scheduleId: string): string {
  return `schedule-${scheduleId}`;
}

export function firingWorkflowIdPrefix(scheduleId: string): string {
  return `scheduled-firing-${scheduleId}`;
}

export function schedulesQueue(config: Pick<Config, 'TASK_QUEUE_PREFIX'>): string {
  return taskQueue(config, 'schedules');
}

export interface TemporalScheduleInput {
  scheduleId: string;
  name: string | null;
  when: When;
  catchupWindowSeconds: number;
  paused?: { note: string } | undefined;
}

function options(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, input: TemporalScheduleInput): ScheduleOptions {
  const args: [ScheduledFiringInput] = [{ scheduleId: input.scheduleId }];
  return {
    scheduleId: temporalScheduleId(input.scheduleId),
    spec: toTemporalSpec(input.when),
    action: {
      type: 'startWorkflow',
      workflowType: scheduledFiring,
      args,
      workflowId: firingWorkflowIdPrefix(input.scheduleId),
      taskQueue: schedulesQueue(config),
      searchAttributes: { ScheduleId: [input.scheduleId] },
    },
    policies: { overlap: 'ALLOW_ALL', catchupWindow: input.catchupWindowSeconds * 1000, pauseOnFailure: false },
    state: {
      paused: Boolean(input.paused),
      ...(input.paused ? { note: input.paused.note } : { note: input.name ?? '' }),
      // A one-off fires once, even if triggered before its time.
      ...(input.when.type === 'once' ? { remainingActions: 1 } : {}),
    },
    memo: { name: input.name ?? '' },
  };
}

export async function createTemporalSchedule(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, input: TemporalScheduleInput) {
  return client.schedule.create(options(config, input));
}

/** Replaces spec, policies and name; keeps the paused state as it is. */
export async function updateTemporalSchedule(client: Client, config: Pick<Config, 'TASK_QUEUE_PREFIX'>, input: TemporalScheduleInput) {
  const next = options(config, input);
  await client.schedule.getHandle(temporalScheduleId(input.scheduleId)).update((previous) => ({
    ...previous,
    spec: next.spec,
    action: next.action,
    policies: next.policies,
    state: { ...previous.state, ...(input.when.type === 'once' ? { remainingActions: 1 } : { remainingActions: undefined }) },
  }));
}

export async function describeTemporalSchedule(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(temporalScheduleId(scheduleId)).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return undefined;
    throw error;
  }
}

/** Idempotent: a schedule already gone is fine. */
export async function deleteTemporalSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(temporalScheduleId(scheduleId)).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}

/** The next run times Temporal computed (it answers up to 10 for a describe). */
export function nextRunTimes(description: ScheduleDescription | undefined, count = 5): Date[] {
  return (description?.info.nextActionTimes ?? []).slice(0, count);
}
