// One workflow per webhook endpoint: the endpoint's only dispatcher, so its lanes are sent in order however
// many webhooks workers run. It sends what is due, then sleeps until a lane head's retry is due or the
// projector wakes it with new deliveries; it ends when the endpoint is deleted. A disabled endpoint's
// workflow sleeps until enabling wakes it.
import { condition, continueAsNew, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks.js';

export interface WebhookEndpointInput {
  endpointId: string;
}

/** New deliveries, or the endpoint changed (enabled, secret rotated): look again. */
export const wakeWebhookEndpoint = defineSignal('wake');

/** With nothing due and nothing waiting, look again this often anyway (a lost wake costs at most this). */
const IDLE_MS = 10 * 60_000;
/** Rounds per run: the history stays short. */
const ROUNDS_PER_RUN = 500;

const { deliverDue } = proxyActivities<WebhookActivities>({
  // A round stops starting attempts after its budget; an attempt has its own timeout.
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function webhookEndpoint(input: WebhookEndpointInput): Promise<void> {
  let woken = false;
  setHandler(wakeWebhookEndpoint, () => {
    woken = true;
  });
  for (let round = 0; round < ROUNDS_PER_RUN; round++) {
    // A wake that arrives while the round runs is kept: the next wait returns at once.
    woken = false;
    const result = await deliverDue(input);
    if (result.outcome === 'gone') return;
    if (result.outcome === 'more') continue;
    const waitMs = result.outcome === 'idle' && result.nextDueAt !== null ? Math.min(IDLE_MS, result.nextDueAt - Date.now()) : IDLE_MS;
    await condition(() => woken, Math.max(1, waitMs));
  }
  await continueAsNew<typeof webhookEndpoint>(input);
}
