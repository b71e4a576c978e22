// The webhook endpoint workflow's one activity: a round of sending what is due, heartbeating after each
// attempt so a round whose worker died is taken up again within the heartbeat timeout.
import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { webhookEndpoints } from '../db/schema/index.js';
import { dispatchDue, type DispatchResult } from '../lib/webhooks/dispatch.js';
import type { ActivityDeps } from './deps.js';

/** A round starts no attempt after this long, so its heartbeat and the workflow's wake-ups stay prompt. */
const ROUND_BUDGET_MS = 20_000;

export function createWebhookActivities(deps: ActivityDeps) {
  return {
    async deliverDue(input: { endpointId: string }): Promise<DispatchResult> {
      const [endpoint] = await deps.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, input.endpointId));
      return dispatchDue(deps, endpoint, { budgetMs: ROUND_BUDGET_MS, progress: () => Context.current().heartbeat() });
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
