// Per-priority delivery policy: deadlines from the seeds, retry schedules from config. The policy is
// computed at admission and passed to the workflow, so a run keeps the policy it started with.
import type { Config } from '../config.js';

export const priorities = ['critical', 'medium', 'low'] as const;
export type Priority = (typeof priorities)[number];
export type Channel = 'EMAIL' | 'SMS' | 'PUSH';

/** How long after acceptance each priority must be sent (seed 001). */
export const deadlineMs: Record<Priority, number> = { critical: 15_000, medium: 15 * 60_000, low: 60 * 60_000 };

export interface RetrySchedule {
  maximumAttempts: number;
  initialIntervalMs: number;
  maximumIntervalMs: number;
  backoffCoefficient: number;
}

export function retryScheduleFor(config: Config, priority: Priority): RetrySchedule {
  const key = priority.toUpperCase() as 'CRITICAL' | 'MEDIUM' | 'LOW';
  return {
    maximumAttempts: config[`NOTIFICATION_MAX_ATTEMPTS_${key}`],
    initialIntervalMs: config[`NOTIFICATION_RETRY_INITIAL_MS_${key}`],
    maximumIntervalMs: config[`NOTIFICATION_RETRY_MAX_MS_${key}`],
    backoffCoefficient: 2,
  };
}

/**
 * The delay before retry `attempt + 1`: exponential, capped, with "equal jitter" (half fixed, half random)
 * so a burst of failures does not retry in lockstep; never shorter than the provider's Retry-After.
 */
export function nextRetryDelayMs(schedule: RetrySchedule, attempt: number, retryAfterMs?: number, random = Math.random): number {
  const exponential = Math.min(schedule.maximumIntervalMs, schedule.initialIntervalMs * schedule.backoffCoefficient ** Math.max(0, attempt - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

/** Seed 003 says HIGH | MEDIUM | LOW, seed 001 critical | medium | low: HIGH is critical. */
export function parsePriority(value: string): Priority | undefined {
  switch (value.toLowerCase()) {
    case 'high':
    case 'critical':
      return 'critical';
    case 'medium':
      return 'medium';
    case 'low':
      return 'low';
    default:
      return undefined;
  }
}
