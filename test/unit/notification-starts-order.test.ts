// Workflow starts after admission go in deadline order: CRITICAL first, then MEDIUM and LOW by when each is
// due (acceptance + its priority's deadline), not every MEDIUM before any LOW. A stub Temporal client records
// the order with one start slot, the first start held until the rest are queued.
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../db/client.js';
import { deadlineMs } from '../../lib/notifications/policy.js';
import type { Priority, StartableNotification } from '../../lib/notifications/start-workflow.js';
import { NotificationStarts } from '../../lib/notifications/starts.js';

function startable(notificationId: string, priority: Priority, acceptedAt: number): StartableNotification {
  return {
    notificationId,
    channel: 'SMS',
    priority,
    acceptedAt,
    sendTaskQueue: `send-sms-${priority}`,
    retry: { maximumAttempts: 1, initialIntervalMs: 1, maximumIntervalMs: 1, backoffCoefficient: 2 },
    userId: null,
    correlationId: null,
  };
}

describe('NotificationStarts order', () => {
  it('starts CRITICAL first, then MEDIUM and LOW by deadline', async () => {
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const temporal = {
      workflow: {
        async start(_workflow: unknown, options: { args: [{ notificationId: string }] }) {
          const id = options.args[0].notificationId;
          if (id === 'first') await held;
          started.push(id);
          return {};
        },
      },
    } as unknown as Client;
    const db = { execute: () => Promise.resolve([]) } as unknown as Database;
    const starts = new NotificationStarts({ db, temporal, config: { TASK_QUEUE_PREFIX: '' } }, { concurrency: 1 });

    const now = Date.now();
    starts.enqueue(startable('first', 'medium', now));
    // Due in 15 min, 15 min + 1 s, and a LOW accepted 50 min ago: due in 10 min, before both.
    starts.enqueue(startable('medium-a', 'medium', now));
    starts.enqueue(startable('medium-b', 'medium', now + 1_000));
    starts.enqueue(startable('low-old', 'low', now - 50 * 60_000));
    // A LOW accepted now is due in an hour: after every MEDIUM.
    starts.enqueue(startable('low-new', 'low', now));
    expect(deadlineMs.low - 50 * 60_000).toBeLessThan(deadlineMs.medium);
    release();
    // CRITICAL never waits for a slot, so it goes while 'first' holds the only one.
    starts.enqueue(startable('critical', 'critical', now));
    await starts.drain(5_000);
    expect(started).toEqual(['critical', 'first', 'low-old', 'medium-a', 'medium-b', 'low-new']);
  });
});
