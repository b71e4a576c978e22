// Task-queue names, shared by workers, the API (which starts workflows) and tests. Every name goes
// through taskQueue() so TASK_QUEUE_PREFIX can isolate deployments sharing one namespace.
import type { Config } from '../config.js';

export function taskQueue(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, base: string): string {
  return `${config.TASK_QUEUE_PREFIX}${base}`;
}

export const PLATFORM_QUEUE = 'platform';
