// The webhook endpoint workflow's one activity: a round of sending what is due, heartbeating while it runs
// so a round whose worker died is taken up again within the heartbeat timeout (the attempt it was making is
// made again, with the same webhook-id).
import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { webhookEndpoints } from '../db/schema/index.js';
import { dispatchDue, type DispatchResult } from '../lib/webhooks/dispatch.js';
import type { ActivityDeps } from './deps.js';

/** A round starts no attempt after this long, so the workflow's wake-ups stay prompt. */
const ROUND_BUDGET_MS = 20_000;
/** Heartbeats go out this often while a round runs, also while a slow endpoint holds a request. */
const HEARTBEAT_MS = 2_000;

export function createWebhookActivities(deps: ActivityDeps) {
  return {
    async deliverDue(input: { endpointId: string }): Promise<DispatchResult> {
      const context = Context.current();
      // At most one heartbeat a second from the attempts: each call crosses into the SDK's core, and one per
      // attempt was a sixth of the worker's CPU at a fast endpoint's pace (the ticker covers a slow request).
      let lastBeat = 0;
      const beat = () => {
        if (Date.now() - lastBeat < 1_000) return;
        lastBeat = Date.now();
        context.heartbeat();
      };
      const ticker = setInterval(beat, HEARTBEAT_MS);
      try {
        const [endpoint] = await deps.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, input.endpointId));
        return await dispatchDue(deps, endpoint, { budgetMs: ROUND_BUDGET_MS, progress: beat, signal: context.cancellationSignal });
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
