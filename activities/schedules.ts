// The schedule activity: one firing's admission (lib/schedules/fire.ts), then archiving a schedule that has
// nothing left to fire. Idempotent per slot.
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { schedules } from '../db/schema/index.js';
import { fireSchedule } from '../lib/schedules/fire.js';
import { archiveIfExpired } from '../lib/schedules/service.js';
import type { ActivityDeps } from './deps.js';
import type { FireSlotInput, FireSlotOutput, ScheduleActivities } from './schedules/types.js';

export type * from './schedules/types.js';

export function createScheduleActivities(deps: ActivityDeps, temporal: Client): ScheduleActivities {
  const context = { db: deps.db, config: deps.config, encryptor: deps.encryptor, temporal };
  return {
    async fireScheduledSlot(input: FireSlotInput): Promise<FireSlotOutput> {
      const result = await fireSchedule(context, { scheduleId: input.scheduleId, scheduledAt: new Date(input.scheduledAt), workflowId: input.workflowId });
      deps.logger.info(
        {
          scheduleId: input.scheduleId,
          scheduledAt: input.scheduledAt,
          workflowId: input.workflowId,
          outcome: result.outcome,
          notificationId: result.notificationId,
        },
        'schedule fired',
      );
      const [row] = await deps.db.select().from(schedules).where(eq(schedules.id, input.scheduleId));
      if (row) await archiveIfExpired(context, row);
      return { outcome: result.outcome, notificationId: result.notificationId };
    },
  };
}
