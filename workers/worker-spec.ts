import type { WorkerOptions } from '@temporalio/worker';

/** One Temporal Worker to create: its queue, its activities, and any tuning. */
export type WorkerSpec = Pick<WorkerOptions, 'taskQueue'> &
  Partial<Omit<WorkerOptions, 'taskQueue' | 'connection' | 'workflowBundle' | 'workflowsPath'>> & {
    /** false for activity-only queues (e.g. a rate-limited provider queue). */
    workflows: boolean;
  };

/** Something a role runs beside its Temporal workers (started with them, stopped after them). */
export interface BackgroundService {
  stop(): Promise<void>;
}
