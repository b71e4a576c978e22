// Push: Graph change notifications from the Outlook simulator to the real webhook, waking the mailbox's
// workflow. Polling is slowed to a safety net while push is healthy; lost notifications, renewals,
// lifecycle events and forged notifications are each driven on purpose.
import { eq } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { graphSubscriptions } from '../../db/schema/index.js';
import { useRig } from '../helpers/rig.js';
import { startSyncRig, until, withSyncRig, type SyncRig } from '../helpers/mailbox-sync.js';

/** A rig whose workers subscribe the mailboxes to push at this API's webhook; the polls are slow. */
async function pushRig(env: Record<string, string> = {}): Promise<SyncRig> {
  const rig = await startSyncRig({ workers: false, env: { SYNC_POLL_INTERVAL_SECONDS: '60', SYNC_PUSH_POLL_INTERVAL_SECONDS: '120', ...env } });
  await rig.startWorkers({ GRAPH_NOTIFICATION_URL: `${rig.api.url}/v1/webhooks/graph` });
  return rig;
}

const webhook = (rig: SyncRig, body: unknown) =>
  fetch(`${rig.api.url}/v1/webhooks/graph`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const progressOf = async (rig: SyncRig, mailboxId: string) =>
  (await rig.mailbox(mailboxId)).sync.progress as unknown as { push: { healthy: boolean; subscriptionId: string | null } };

const rig = useRig(() => pushRig(), 60_000);

describe('the Graph webhook', () => {
  it('answers the validation handshake with the token as text/plain', async () => {
    const response = await fetch(
      `${rig.api.url}/v1/webhooks/graph?validationToken=${encodeURIComponent('Validation: Testing client application reachability')}`,
      {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toBe('Validation: Testing client application reachability');
  });

  it('refuses forged notifications (an unknown subscription, a wrong clientState) and changes nothing', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 5 });
    await rig.waitForMirror(address, accountId);
    await until('the subscription', async () => (await progressOf(rig, mailboxId)).push.healthy);
    const [subscription] = await rig.api.deps.db.select().from(graphSubscriptions).where(eq(graphSubscriptions.mailboxId, mailboxId));
    const before = (await rig.outlook.requests({ mailbox: address })).length;
    for (const item of [
      { subscriptionId: subscription!.subscriptionId, clientState: 'guessed', changeType: 'updated' },
      { subscriptionId: subscription!.subscriptionId, changeType: 'updated' },
      { subscriptionId: '00000000-0000-0000-0000-000000000000', clientState: 'x', changeType: 'created' },
      { subscriptionId: subscription!.subscriptionId, clientState: 'guessed', lifecycleEvent: 'subscriptionRemoved' },
    ]) {
      expect((await webhook(rig, { value: [item] })).status, JSON.stringify(item)).toBe(403);
    }
    expect((await webhook(rig, { value: [] })).status).toBe(400);
    expect((await webhook(rig, 'not json')).status).toBe(400);
    await sleep(1_500);
    // No round was triggered, and the subscription is still there.
    expect((await rig.outlook.requests({ mailbox: address })).length).toBe(before);
    expect((await progressOf(rig, mailboxId)).push.subscriptionId).toBe(subscription!.subscriptionId);
  });
});

describe('push', () => {
  it('subscribes each mailbox and follows a change within seconds, though the poll interval is a minute', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 20 });
    await rig.waitForMirror(address, accountId);
    await until('the subscription', async () => (await progressOf(rig, mailboxId)).push.healthy);
    const [subscription] = await rig.outlook.subscriptions(address);
    expect(subscription).toMatchObject({ resource: 'me/messages', state: 'active', immutableIds: true });
    expect(subscription!.notificationUrl).toBe(`${rig.api.url}/v1/webhooks/graph`);
    expect((await progressOf(rig, mailboxId)).push).toMatchObject({ healthy: true, pollIntervalMs: 120_000 });

    const [m] = await rig.outlook.messages(address, 'inbox');
    const started = Date.now();
    // A state the index does not have yet (a seeded message may already be flagged), so the mirror must move.
    await rig.outlook.act(address, { type: 'flag', id: m!.id, flagStatus: m!.flagStatus === 'flagged' ? 'notFlagged' : 'flagged' });
    await rig.waitForMirror(address, accountId, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000); // well inside the 120 s poll: it came by push
    await until('the notification acknowledged', async () =>
      (await rig.outlook.notifications({ mailbox: address })).some((n) => n.messageId === m!.id && n.status === 202),
    );
  }, 60_000);

  it('re-creates a removed subscription, renews on reauthorizationRequired, and reads every folder on missed', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    await until('the subscription', async () => (await progressOf(rig, mailboxId)).push.healthy);
    const first = (await progressOf(rig, mailboxId)).push.subscriptionId!;

    await rig.outlook.lifecycle(address, 'subscriptionRemoved');
    await until('a new subscription', async () => {
      const p = (await progressOf(rig, mailboxId)).push;
      return p.healthy && p.subscriptionId !== first;
    });
    expect((await rig.outlook.subscriptions(address)).filter((s) => s.state === 'active')).toHaveLength(1);

    const renewalsBefore = (await rig.outlook.requests({ mailbox: address })).filter((r) => r.method === 'PATCH').length;
    await rig.outlook.lifecycle(address, 'reauthorizationRequired');
    await until('a renewal', async () => (await rig.outlook.requests({ mailbox: address })).filter((r) => r.method === 'PATCH').length > renewalsBefore);

    // `missed`: a change whose notification was lost is read by the round the event starts.
    await rig.outlook.configure({ dropNotificationsNext: 1 });
    const [m] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'markRead', id: m!.id, isRead: !m!.isRead });
    await until('the drop', async () => (await rig.outlook.config()).dropNotificationsNext === 0);
    await rig.outlook.lifecycle(address, 'missed');
    await rig.waitForMirror(address, accountId, 15_000);
  }, 60_000);

  it('removes the subscription when the mailbox is unlinked', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 3 });
    await rig.waitForMirror(address, accountId);
    await until('the subscription', async () => (await progressOf(rig, mailboxId)).push.healthy);
    await rig.api.request(`/v1/mailboxes/${mailboxId}`, { method: 'DELETE' });
    await until('the subscription to go', async () => (await rig.outlook.subscriptions(address)).every((s) => s.state !== 'active'));
  }, 30_000);
});

describe('push, the safety net and renewals', () => {
  it('heals a dropped notification with the safety poll, and keeps renewing the subscription before it expires', async () => {
    await withSyncRig(
      {
        workers: false,
        env: {
          SYNC_POLL_INTERVAL_SECONDS: '60',
          SYNC_PUSH_POLL_INTERVAL_SECONDS: '3',
          GRAPH_SUBSCRIPTION_SECONDS: '12',
          GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS: '8',
        },
      },
      async (short) => {
        await short.startWorkers({ GRAPH_NOTIFICATION_URL: `${short.api.url}/v1/webhooks/graph` });
        const { address, accountId, mailboxId } = await short.linkNew({ messages: 10 });
        await short.waitForMirror(address, accountId);
        await until('the subscription', async () => (await progressOf(short, mailboxId)).push.healthy);
        const [subscription] = await short.outlook.subscriptions(address);

        // Every notification of this change is lost; the 3 s safety poll still brings it in.
        await short.outlook.configure({ dropNotificationsNext: 5 });
        const [m] = await short.outlook.messages(address, 'inbox');
        await short.outlook.act(address, { type: 'move', id: m!.id, to: 'archive' });
        await short.waitForMirror(address, accountId, 20_000);
        expect((await short.outlook.notifications({ mailbox: address })).some((n) => n.status === 'dropped')).toBe(true);
        await short.outlook.configure({ dropNotificationsNext: 0 });

        // Past the first expiry (12 s), the same subscription is alive: renewed ahead of time, more than once.
        await sleep(Math.max(0, Date.parse(subscription!.expirationDateTime ?? '') - Date.now()) + 1_000);
        const [renewed] = await short.outlook.subscriptions(address);
        expect(renewed).toMatchObject({ id: subscription!.id, state: 'active' });
        expect(Date.parse(renewed!.expirationDateTime ?? '')).toBeGreaterThan(Date.now());
        expect((await short.outlook.requests({ mailbox: address })).filter((r) => r.method === 'PATCH').length).toBeGreaterThanOrEqual(2);
        await short.outlook.act(address, { type: 'newMail', subject: 'After the first expiry' });
        await short.waitForMirror(address, accountId, 10_000);
      },
    );
  }, 90_000);
});
