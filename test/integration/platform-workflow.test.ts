// A workflow round trip through a real worker on the real Temporal server, reaching PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { createPlatformActivities } from '../../activities/platform.js';
import { connectDatabase } from '../../db/client.js';
import { platformChecks } from '../../db/schema/index.js';
import { createLogger } from '../../lib/logger.js';
import { platformCheck } from '../../workflows/platform-check.js';
import { testConfig, unique } from '../helpers/config.js';
import { createTestWorker, temporalClient } from '../helpers/temporal.js';

const database = connectDatabase(testConfig().DATABASE_URL, { max: 2 });
afterAll(() => database.close());

describe('platformCheck workflow', () => {
  it('runs on a real worker and records a row', async () => {
    const { client, close } = await temporalClient();
    const worker = await createTestWorker({ activities: createPlatformActivities({ db: database.db, logger: createLogger({ level: 'silent' }) }) });
    const workflowId = unique('platform-check');
    const result = await worker.run(() =>
      client.workflow.execute(platformCheck, {
        taskQueue: worker.taskQueue,
        workflowId,
        args: [{ requestedBy: 'test' }],
      }),
    );
    await close();
    expect(result.workflowId).toBe(workflowId);
    expect(result.checkId).toMatch(/^chk_/);
    const rows = await database.db.select().from(platformChecks).where(eq(platformChecks.id, result.checkId));
    expect(rows).toEqual([expect.objectContaining({ workflowId })]);
  });
});
