// Change notifications as a real webhook receives them: the change type each user action produces for
// the whole mailbox and for folders, payloads and ids, batching, retries, timeouts, deliberate loss, and
// that seeding notifies nobody.
import { describe, expect, it } from 'vitest';
import type { OutlookAction } from '../../test/helpers/outlook.js';
import { TENANT_ID } from './server.js';
import { graphCall, IMMUTABLE, startReceiver, subscribeWith, until, useNotifyingOutlook } from '../../test/helpers/outlook-receiver.js';

const { sim, hooks } = useNotifyingOutlook();

const JANE = 'jane@contoso.com';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** `prefer` null: created without `Prefer: IdType="ImmutableId"`. */
const subscribe = async (token: string, patch: Record<string, unknown> = {}, prefer: string | null = IMMUTABLE) => {
  const created = await subscribeWith(sim, hooks, token, patch, prefer);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as { id: string; expirationDateTime: string };
};
async function jane(messages = 5) {
  const box = await sim.createMailbox(JANE);
  if (messages > 0) await sim.seed(JANE, messages, 'inbox');
  return { box, token: await sim.accessToken(JANE) };
}
const kinds = (path: string) => hooks.notifications(path).map((n) => `${n.changeType ?? '?'} ${n.resourceData?.id ?? '?'}`);

describe('Outlook simulator: change notifications per user action', () => {
  it('notifies the whole mailbox and each folder with the change type Graph uses, with immutable ids', async () => {
    const { box, token } = await jane(3);
    const all = await subscribe(token);
    const inbox = await subscribe(token, { resource: "me/mailFolders('inbox')/messages", notificationUrl: `${hooks.url}/inbox` });
    const archive = await subscribe(token, {
      resource: `/me/mailFolders/${box.folders.archive}/messages`,
      notificationUrl: `${hooks.url}/archive`,
      clientState: undefined,
    });
    const counts = { hook: 0, inbox: 0, archive: 0 };
    // One action at a time, each awaited at the receiver, so the order below is the order of the actions.
    const step = async (action: OutlookAction, expected: Partial<typeof counts>) => {
      const result = await sim.act(JANE, action);
      for (const [path, n] of Object.entries(expected) as [keyof typeof counts, number][]) counts[path] += n;
      await until(
        () => (Object.keys(counts) as (keyof typeof counts)[]).every((p) => hooks.notifications(`/${p}`).length === counts[p]),
        3_000,
        JSON.stringify(action),
      );
      return result;
    };
    const m = await step({ type: 'newMail', subject: 'Hello' }, { hook: 1, inbox: 1 });
    const read = await step({ type: 'markRead', id: m.id, isRead: true }, { hook: 1, inbox: 1 });
    await step({ type: 'flag', id: m.id, flagStatus: 'flagged' }, { hook: 1, inbox: 1 });
    await step({ type: 'move', id: m.id, to: 'archive' }, { hook: 1, inbox: 1, archive: 1 });
    await step({ type: 'flag', id: m.id, flagStatus: 'complete' }, { hook: 1, archive: 1 });
    await step({ type: 'delete', id: m.id }, { hook: 1, archive: 1 });
    const n = await step({ type: 'newMail', folder: 'archive' }, { hook: 1, archive: 1 });
    await pause(150);
    expect(kinds('/hook')).toEqual([...['created', 'updated', 'updated', 'updated', 'updated', 'deleted'].map((t) => `${t} ${m.id}`), `created ${n.id}`]);
    expect(kinds('/inbox')).toEqual(['created', 'updated', 'updated', 'deleted'].map((t) => `${t} ${m.id}`));
    expect(kinds('/archive')).toEqual([`created ${m.id}`, `updated ${m.id}`, `deleted ${m.id}`, `created ${n.id}`]);

    const resource = `Users/${box.id}/Messages/${m.id}`;
    expect(hooks.notifications('/hook')[0]).toEqual({
      subscriptionId: all.id,
      subscriptionExpirationDateTime: all.expirationDateTime,
      changeType: 'created',
      resource,
      resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': resource, '@odata.etag': `W/"${m.changeKey as string}"`, id: m.id },
      clientState: 'secret-state',
      tenantId: TENANT_ID,
    });
    expect(hooks.notifications('/inbox')[1]).toMatchObject({
      subscriptionId: inbox.id,
      changeType: 'updated',
      resourceData: { '@odata.etag': `W/"${read.changeKey as string}"` },
    });
    expect(hooks.notifications('/archive').every((x) => x.subscriptionId === archive.id && !('clientState' in x))).toBe(true);
    expect(hooks.posts().every((p) => p.contentType === 'application/json')).toBe(true);
  });

  it('sends only the subscribed change types, and default ids without the ImmutableId preference', async () => {
    const { token } = await jane(0);
    await subscribe(token, { changeType: 'created' });
    await subscribe(token, { changeType: 'updated,deleted', notificationUrl: `${hooks.url}/plain` }, null);
    const m = await sim.act(JANE, { type: 'newMail' });
    await sim.act(JANE, { type: 'markRead', id: m.id, isRead: true });
    await sim.act(JANE, { type: 'move', id: m.id, to: 'archive' });
    await until(() => hooks.notifications('/hook').length === 1 && hooks.notifications('/plain').length === 2, 3_000, 'notifications');
    await pause(150);
    expect(kinds('/hook')).toEqual([`created ${m.id}`]);
    const [updated, moved] = hooks.notifications('/plain');
    expect([updated!.changeType, moved!.changeType]).toEqual(['updated', 'updated']);
    // A default id names the folder: it is not the immutable id and changes with the move; both resolve.
    expect(updated!.resourceData!.id).not.toBe(m.id);
    expect(moved!.resourceData!.id).not.toBe(updated!.resourceData!.id);
    const resolved = await graphCall(sim, token, 'GET', `/v1.0/me/messages/${moved!.resourceData!.id}`);
    expect(resolved.body).toMatchObject({ id: moved!.resourceData!.id, subject: m.subject });
  });

  it('does not notify for seeding, and notifies each message of a deleted folder in batches of at most 100', async () => {
    const { token } = await jane(0);
    const folder = await sim.act(JANE, { type: 'createFolder', displayName: 'Projects' });
    await subscribe(token, { changeType: 'deleted' });
    await subscribe(token, { resource: `me/mailFolders('${folder.id}')/messages`, notificationUrl: `${hooks.url}/folder` });
    await sim.seed(JANE, 150, folder.id);
    await sim.seed(JANE, 20);
    await pause(300);
    expect(hooks.posts()).toEqual([]);
    await sim.act(JANE, { type: 'deleteFolder', folder: folder.id });
    await until(() => hooks.notifications('/hook').length === 150 && hooks.notifications('/folder').length === 150, 5_000, '300 deletions');
    for (const path of ['/hook', '/folder']) {
      expect(hooks.posts(path).map((p) => p.value!.length)).toEqual([100, 50]);
      expect(new Set(hooks.notifications(path).map((x) => x.changeType))).toEqual(new Set(['deleted']));
      expect(new Set(hooks.notifications(path).map((x) => x.resourceData!.id)).size).toBe(150);
    }
  });
});

describe('Outlook simulator: notification delivery', () => {
  it('batches notifications for one URL within notificationBatchMs, across subscriptions', async () => {
    const { token } = await jane(0);
    await sim.configure({ notificationBatchMs: 400 });
    const a = await subscribe(token);
    const b = await subscribe(token, { resource: 'me/mailFolders/inbox/messages' });
    for (let i = 0; i < 5; i++) await sim.act(JANE, { type: 'newMail' });
    await until(() => hooks.notifications('/hook').length === 10, 3_000, '10 notifications');
    expect(hooks.posts('/hook')).toHaveLength(1);
    expect(new Set(hooks.notifications('/hook').map((x) => x.subscriptionId))).toEqual(new Set([a.id, b.id]));
    expect(await sim.stats()).toMatchObject({ notificationRequests: 1, notificationsPosted: 10, notificationsAcknowledged: 10 });
  });

  it('retries a failed POST after the backoff, then counts it delivered', async () => {
    const { token } = await jane(0);
    const { id } = await subscribe(token);
    hooks.plan('/hook', [500, 503, 200]);
    await sim.act(JANE, { type: 'newMail' });
    await until(() => hooks.posts('/hook').length === 3, 3_000, '3 attempts');
    await pause(100);
    const [first, second, third] = hooks.posts('/hook');
    expect(second!.text).toBe(first!.text);
    expect(third!.text).toBe(first!.text);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(95); // retryBase (100 ms here), then twice that
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(195);
    const log = await sim.notifications({ subscriptionId: id });
    expect(log.map((r) => [r.attempt, r.status, r.changeType])).toEqual([
      [1, 500, 'created'],
      [2, 503, 'created'],
      [3, 200, 'created'],
    ]);
    expect(log.every((r) => r.mailbox === JANE && r.batchSize === 1 && typeof r.latencyMs === 'number')).toBe(true);
    const [view] = await sim.subscriptions(JANE);
    expect(view!.delivery).toEqual({ posted: 3, acknowledged: 1, failed: 2, dropped: 0, abandoned: 0 });
    expect(await sim.stats()).toMatchObject({ notificationsPosted: 3, notificationsFailed: 2, notificationsAcknowledged: 1, notificationsAbandoned: 0 });
  });

  it('gives up after notificationRetries, logs a receiver that never answers as a timeout and an unreachable one as an error', async () => {
    const { token } = await jane(0);
    await sim.configure({ notificationRetries: 1 });
    const { id } = await subscribe(token);
    const gone = await startReceiver();
    const unreachable = (await subscribeWith(sim, gone, token, { notificationUrl: `${gone.url}/hook` })).body as { id: string };
    await gone.close();
    hooks.plan('/hook', ['hang', 500]);
    await sim.act(JANE, { type: 'newMail' });
    await until(() => hooks.posts('/hook').length === 2, 3_000, '2 attempts');
    await pause(600);
    const log = await sim.notifications({ subscriptionId: id });
    expect(log.map((r) => [r.attempt, r.status])).toEqual([
      [1, 'timeout'],
      [2, 500],
    ]);
    expect(log[0]!.latencyMs).toBeGreaterThanOrEqual(290);
    expect(log[0]!.latencyMs).toBeLessThan(1_500);
    expect((await sim.notifications({ subscriptionId: unreachable.id })).map((r) => [r.attempt, r.status])).toEqual([
      [1, 'error'],
      [2, 'error'],
    ]);
    expect((await sim.subscriptions(JANE)).map((s) => s.delivery)).toEqual([
      { posted: 2, acknowledged: 0, failed: 2, dropped: 0, abandoned: 1 },
      { posted: 2, acknowledged: 0, failed: 2, dropped: 0, abandoned: 1 },
    ]);
    expect(await sim.stats()).toMatchObject({ notificationsAbandoned: 2, notificationsFailed: 4 });
  });

  it('drops exactly dropNotificationsNext notifications, and every one at dropNotificationRate 1', async () => {
    const { token } = await jane(0);
    const { id } = await subscribe(token);
    await sim.configure({ dropNotificationsNext: 2 });
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await sim.act(JANE, { type: 'newMail' }));
    await until(() => hooks.notifications('/hook').length === 1, 3_000, 'the third');
    await pause(200);
    expect(kinds('/hook')).toEqual([`created ${sent[2]!.id}`]);
    expect((await sim.notifications({ subscriptionId: id })).map((r) => [r.messageId, r.status])).toEqual([
      [sent[0]!.id, 'dropped'],
      [sent[1]!.id, 'dropped'],
      [sent[2]!.id, 202],
    ]);
    expect((await sim.config()).dropNotificationsNext).toBe(0);
    await sim.configure({ dropNotificationRate: 1 });
    await sim.act(JANE, { type: 'markRead', id: sent[0]!.id, isRead: true });
    await pause(250);
    expect(hooks.notifications('/hook')).toHaveLength(1);
    expect((await sim.subscriptions(JANE))[0]!.delivery).toMatchObject({ dropped: 3, acknowledged: 1 });
    expect((await sim.stats()).notificationsDropped).toBe(3);
  });
});
