// Graph subscriptions over real HTTP, against a real webhook receiver: the validation handshake, the
// limits on input and expiry, renew, delete, reauthorize and 404s, lifecycle notifications, revocation,
// and the control API's view. Delivery itself is in subscription-delivery.test.ts.
import { describe, expect, it } from 'vitest';
import { TENANT_ID } from './server.js';
import { graphCall, inMinutes, IMMUTABLE, subscribeWith, until, useNotifyingOutlook } from '../../test/helpers/outlook-receiver.js';

const { sim, hooks } = useNotifyingOutlook();

const JANE = 'jane@contoso.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const VALIDATION_FAILED = 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.';
const call = (token: string, method: string, path: string, body?: unknown) => graphCall(sim, token, method, path, body);
const subscribe = (token: string, patch: Record<string, unknown> = {}, prefer = IMMUTABLE) => subscribeWith(sim, hooks, token, patch, prefer);
async function jane() {
  const box = await sim.createMailbox(JANE);
  return { box, token: await sim.accessToken(JANE) };
}

describe('Outlook simulator: creating subscriptions', () => {
  it('validates the notification and lifecycle URLs with the handshake first, then answers 201 with the subscription', async () => {
    const { box, token } = await jane();
    const created = await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/lifecycle?tenant=a` });
    expect(created.status).toBe(201);
    expect(created.headers.get('preference-applied')).toBe(IMMUTABLE);
    const handshakes = hooks.handshakes();
    expect(handshakes.map((h) => h.path)).toEqual(['/hook', '/lifecycle']);
    expect(handshakes[1]!.query.get('tenant')).toBe('a');
    for (const h of handshakes) {
      expect(h).toMatchObject({ contentType: 'text/plain; charset=utf-8', text: '' });
      expect(h.query.get('validationToken')).toMatch(/^Validation: Testing client application reachability for subscription Request-Id: [0-9a-f-]{36}$/);
    }
    const subscription = created.body as Record<string, unknown>;
    expect(subscription).toEqual({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity',
      id: expect.stringMatching(GUID) as string,
      resource: 'me/messages',
      applicationId: sim.env.OUTLOOK_CLIENT_ID,
      changeType: 'created,updated,deleted',
      clientState: 'secret-state',
      notificationUrl: `${hooks.url}/hook`,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: `${hooks.url}/lifecycle?tenant=a`,
      expirationDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
      creatorId: box.id,
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    });
    const { '@odata.context': _context, ...rest } = subscription;
    expect((await call(token, 'GET', '/v1.0/subscriptions')).body).toEqual({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions',
      value: [rest],
    });
    expect((await call(token, 'GET', `/v1.0/subscriptions/${rest.id as string}`)).body).toEqual(subscription);
    expect((await sim.stats()).validationRequests).toBe(2);
  });

  it('creates nothing when an endpoint answers the handshake wrongly, with an error, too slowly or not as text/plain', async () => {
    const { token } = await jane();
    for (const path of ['/wrong', '/fail', '/slow', '/json']) {
      const started = Date.now();
      const refused = await subscribe(token, { notificationUrl: `${hooks.url}${path}` });
      expect(refused.status, path).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: 'InvalidRequest', message: VALIDATION_FAILED } });
      expect(refused.headers.get('x-simulator-validation')).toContain(`${hooks.url}${path}: `); // why, for whoever debugs the receiver
      expect(Date.now() - started).toBeLessThan(900); // the slow one is cut at validationTimeoutMs (300 ms here)
    }
    const lifecycleRefused = await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/wrong` });
    expect(lifecycleRefused.status).toBe(400);
    expect(
      hooks
        .handshakes()
        .slice(-2)
        .map((h) => h.path),
    ).toEqual(['/hook', '/wrong']);
    expect(await sim.subscriptions()).toEqual([]);
    // The same URL for both is validated once.
    hooks.clear();
    expect((await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/hook` })).status).toBe(201);
    expect(hooks.handshakes()).toHaveLength(1);
  });

  it('refuses unsupported resources, change types, URLs, clientStates and expiries before any handshake', async () => {
    const { box, token } = await jane();
    const refuse = async (patch: Record<string, unknown>, code = 'InvalidRequest') => {
      const response = await subscribe(token, patch);
      expect(response.status, JSON.stringify(patch)).toBe(400);
      expect((response.body as { error: { code: string } }).error.code, JSON.stringify(patch)).toBe(code);
      return (response.body as { error: { message: string } }).error.message;
    };
    for (const resource of [
      'me/events',
      'me/mailFolders/nope/messages',
      'users/someone-else@contoso.com/messages',
      'me/messages?$filter=isRead eq false',
      'me/messages/x',
    ]) {
      await refuse({ resource });
    }
    for (const changeType of ['created,moved', '']) await refuse({ changeType });
    for (const notificationUrl of ['not a url', 'ftp://example.com/hook']) await refuse({ notificationUrl });
    expect(await refuse({ resource: undefined })).toBe('resource is a required property for subscription creation.');
    expect(await refuse({ expirationDateTime: inMinutes(-1) })).toMatch(/must be in the future/);
    expect(await refuse({ expirationDateTime: 'tomorrow' })).toMatch(/ISO 8601/);
    expect(await refuse({ expirationDateTime: inMinutes(4231) }, 'ExtensionError')).toBe('Subscription expiration can only be 4230 minutes in the future.');
    await refuse({ clientState: 'x'.repeat(129) });
    await refuse({ includeResourceData: true });
    expect(hooks.handshakes()).toEqual([]);

    const accepted = [
      '/me/messages',
      "me/mailFolders('inbox')/messages",
      '/me/mailFolders/Inbox/messages',
      `users/${box.id}/messages`,
      `Users/${JANE}/mailFolders('${box.folders.archive}')/messages`,
    ];
    for (const resource of accepted) {
      const created = await subscribe(token, { resource, expirationDateTime: inMinutes(4229.9) });
      expect(created.status, resource).toBe(201);
      expect(created.body).toMatchObject({ resource });
    }
    const views = await sim.subscriptions(JANE);
    expect(views.map((v) => v.folderId)).toEqual([null, box.folders.inbox, box.folders.inbox, null, box.folders.archive]);

    await sim.configure({ requireHttps: true, maxSubscriptionMinutes: 10 });
    expect(await refuse({})).toMatch(/must use https/);
    await sim.configure({ requireHttps: false });
    expect(await refuse({ expirationDateTime: inMinutes(11) }, 'ExtensionError')).toBe('Subscription expiration can only be 10 minutes in the future.');
  });

  it('refuses a token without a Mail.Read scope', async () => {
    await sim.createMailbox(JANE);
    const token = await sim.accessToken(JANE, ['User.Read', 'openid']);
    const refused = await subscribe(token);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'ExtensionError' } });
  });
});

describe('Outlook simulator: managing subscriptions', () => {
  it('renews with PATCH, reauthorizes, deletes, and answers 404 for unknown, deleted and foreign subscriptions', async () => {
    const { token } = await jane();
    const id = ((await subscribe(token)).body as { id: string }).id;
    const renewedTo = inMinutes(4000);
    const renewed = await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: renewedTo });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ id, expirationDateTime: renewedTo });
    expect(await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(5000) })).toMatchObject({
      status: 400,
      body: { error: { code: 'ExtensionError' } },
    });
    expect(await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(-5) })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidRequest' } },
    });
    expect((await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { clientState: 'other' })).status).toBe(400);
    expect((await call(token, 'POST', `/v1.0/subscriptions/${id}/reauthorize`)).status).toBe(204);

    await sim.createMailbox('max@contoso.com');
    const other = await sim.accessToken('max@contoso.com');
    const notFound = { status: 404, body: { error: { code: 'ResourceNotFound', message: 'The object was not found.' } } };
    expect(await call(other, 'GET', `/v1.0/subscriptions/${id}`)).toMatchObject(notFound);
    expect(await call(other, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(60) })).toMatchObject(notFound);
    expect(await call(other, 'DELETE', `/v1.0/subscriptions/${id}`)).toMatchObject(notFound);
    expect((await call(other, 'GET', '/v1.0/subscriptions')).body).toMatchObject({ value: [] });
    expect(await call(token, 'GET', '/v1.0/subscriptions/9f0c2b1e-0000-4000-8000-000000000000')).toMatchObject(notFound);

    expect((await call(token, 'DELETE', `/v1.0/subscriptions/${id}`)).status).toBe(204);
    expect(await call(token, 'GET', `/v1.0/subscriptions/${id}`)).toMatchObject(notFound);
    expect(await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(60) })).toMatchObject(notFound);
    expect(await call(token, 'DELETE', `/v1.0/subscriptions/${id}`)).toMatchObject(notFound);
    expect(await call(token, 'POST', `/v1.0/subscriptions/${id}/reauthorize`)).toMatchObject(notFound);
    const [view] = await sim.subscriptions(JANE);
    expect(view).toMatchObject({ id, state: 'removed', removedBy: 'delete', expirationDateTime: renewedTo });
    expect(view!.renewedDateTime).not.toBeNull();
    expect(view!.reauthorizedDateTime).not.toBeNull();

    const requests = (await sim.requests({ mailbox: JANE })).filter((r) => r.path.startsWith('/v1.0/subscriptions'));
    expect(requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'POST 201',
      'PATCH 200',
      'PATCH 400',
      'PATCH 400',
      'PATCH 400',
      'POST 204',
      'GET 404',
      'DELETE 204',
      'GET 404',
      'PATCH 404',
      'DELETE 404',
      'POST 404',
    ]);
  });

  it('treats an expired subscription as deleted: 404, not listed, and nothing delivered', async () => {
    const { token } = await jane();
    const expiresAt = Date.now() + 700;
    const id = ((await subscribe(token, { expirationDateTime: new Date(expiresAt).toISOString() })).body as { id: string }).id;
    await until(() => Date.now() > expiresAt + 20, 2_000, 'expiry');
    expect((await call(token, 'GET', `/v1.0/subscriptions/${id}`)).status).toBe(404);
    expect((await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(60) })).status).toBe(404);
    expect((await call(token, 'GET', '/v1.0/subscriptions')).body).toMatchObject({ value: [] });
    await sim.act(JANE, { type: 'newMail' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooks.posts()).toEqual([]);
    expect(await sim.subscriptions()).toEqual([expect.objectContaining({ id, state: 'expired' })]);
  });
});

describe('Outlook simulator: lifecycle notifications', () => {
  it('posts lifecycle events to the lifecycleNotificationUrl only, and subscriptionRemoved removes', async () => {
    const { token } = await jane();
    const withUrl = (await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/lifecycle` })).body as { id: string; expirationDateTime: string };
    const without = ((await subscribe(token, { notificationUrl: `${hooks.url}/other` })).body as { id: string }).id;
    expect(await sim.lifecycle(JANE, 'missed')).toEqual({
      event: 'missed',
      subscriptions: [withUrl.id, without],
      posted: [withUrl.id],
      withoutLifecycleUrl: [without],
    });
    await until(() => hooks.notifications('/lifecycle').length === 1, 3_000, 'missed');
    expect(hooks.notifications('/lifecycle')[0]).toEqual({
      subscriptionId: withUrl.id,
      subscriptionExpirationDateTime: withUrl.expirationDateTime,
      tenantId: TENANT_ID,
      clientState: 'secret-state',
      lifecycleEvent: 'missed',
    });
    expect(hooks.posts('/lifecycle')[0]!.contentType).toBe('application/json');

    await sim.lifecycle(JANE, 'reauthorizationRequired', withUrl.id);
    await sim.lifecycle(JANE, 'subscriptionRemoved', withUrl.id);
    await until(() => hooks.notifications('/lifecycle').length === 3, 3_000, 'lifecycle events');
    expect(hooks.notifications('/lifecycle').map((n) => n.lifecycleEvent)).toEqual(['missed', 'reauthorizationRequired', 'subscriptionRemoved']);
    expect((await call(token, 'GET', `/v1.0/subscriptions/${withUrl.id}`)).status).toBe(404);
    expect((await call(token, 'GET', `/v1.0/subscriptions/${without}`)).status).toBe(200);
    expect(hooks.posts('/other')).toEqual([]);
    await expect(sim.lifecycle(JANE, 'missed', withUrl.id)).rejects.toThrow(/404/);
    expect((await sim.notifications({ subscriptionId: withUrl.id })).map((r) => [r.lifecycleEvent, r.status])).toEqual([
      ['missed', 202],
      ['reauthorizationRequired', 202],
      ['subscriptionRemoved', 202],
    ]);
  });

  it('revoking the grant posts subscriptionRemoved and removes every subscription of the mailbox', async () => {
    const { token } = await jane();
    await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/lifecycle` });
    await subscribe(token, { resource: "me/mailFolders('inbox')/messages", lifecycleNotificationUrl: `${hooks.url}/lifecycle` });
    expect(await sim.revoke(JANE)).toEqual({ revoked: 1 });
    await until(() => hooks.notifications('/lifecycle').length === 2, 3_000, 'subscriptionRemoved');
    expect(hooks.posts('/lifecycle')).toHaveLength(1); // one batch for one URL
    expect(hooks.notifications('/lifecycle').every((n) => n.lifecycleEvent === 'subscriptionRemoved')).toBe(true);
    expect((await sim.subscriptions(JANE)).map((s) => [s.state, s.removedBy])).toEqual([
      ['removed', 'revoke'],
      ['removed', 'revoke'],
    ]);
    await sim.act(JANE, { type: 'newMail' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooks.posts('/hook')).toEqual([]);
  });

  it('sends reauthorizationRequired once per expiry when a subscription nears it (reauthorizeBeforeMinutes)', async () => {
    const { token } = await jane();
    await sim.configure({ reauthorizeBeforeMinutes: 30 });
    const id = ((await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/lifecycle`, expirationDateTime: inMinutes(20) })).body as { id: string }).id;
    await subscribe(token, { lifecycleNotificationUrl: `${hooks.url}/far`, expirationDateTime: inMinutes(120) });
    await until(() => hooks.notifications('/lifecycle').length === 1, 3_000, 'reauthorizationRequired');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(hooks.notifications('/lifecycle').map((n) => [n.subscriptionId, n.lifecycleEvent])).toEqual([[id, 'reauthorizationRequired']]);
    expect(hooks.posts('/far')).toEqual([]);
    // A renewal still inside the window asks again; one outside it does not.
    await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(25) });
    await until(() => hooks.notifications('/lifecycle').length === 2, 3_000, 'second reauthorizationRequired');
    await call(token, 'PATCH', `/v1.0/subscriptions/${id}`, { expirationDateTime: inMinutes(60) });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(hooks.notifications('/lifecycle')).toHaveLength(2);
  });
});

describe('Outlook simulator: subscription control API', () => {
  it('validates the new config fields, and reset clears subscriptions and the notification log', async () => {
    const put = (body: unknown) =>
      fetch(`${sim.url}/_control/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const bad of [
      { dropNotificationRate: 1.5 },
      { notificationRetries: -1 },
      { reauthorizeBeforeMinutes: 'soon' },
      { requireHttps: 'yes' },
      { maxSubscriptionMinutes: 0 },
    ]) {
      expect((await put(bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect(await (await put({ dropNotificationsNext: 3, reauthorizeBeforeMinutes: null, notificationBatchMs: 0 })).json()).toMatchObject({
      dropNotificationsNext: 3,
      notificationBatchMs: 0,
    });
    const { token } = await jane();
    await subscribe(token);
    await sim.act(JANE, { type: 'newMail' });
    // Dropped on purpose (dropNotificationsNext): logged at once, never posted.
    expect(await sim.notifications({ mailbox: JANE })).toEqual([expect.objectContaining({ status: 'dropped', attempt: 0 })]);
    await sim.reset();
    expect(await sim.subscriptions()).toEqual([]);
    expect(await sim.notifications()).toEqual([]);
    expect(await sim.config()).toMatchObject({ dropNotificationsNext: 0, validationTimeoutMs: 300, notificationTimeoutMs: 300 });
  });
});
