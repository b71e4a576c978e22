import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { platformChecks } from '../db/schema/index.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';

export function createPlatformActivities(deps: { db: Database; logger: Logger }) {
  return {
    async recordPlatformCheck(input: { workflowId: string; requestedBy: string; holdMs: number }) {
      if (input.holdMs > 0) await sleep(Math.min(input.holdMs, 60_000));
      const checkId = newId('chk');
      await deps.db.insert(platformChecks).values({ id: checkId, workflowId: input.workflowId });
      const [row] = await deps.db.execute<{ now: string }>(sql`select now()::text as now`);
      deps.logger.info({ workflowId: input.workflowId, requestedBy: input.requestedBy }, 'platform check recorded');
      return { checkId, databaseTime: row?.now ?? '' };
    },
  };
}

export type PlatformActivities = ReturnType<typeof createPlatformActivities>;
