// The account and mailbox routes over real HTTP: every route's auth and bad-input cases, tenancy (another
// key's account or mailbox is unknown: 404), and the message list's filters, text query and paging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from '../helpers/config.js';
import { startSyncRig, type SyncRig } from '../helpers/mailbox-sync.js';

let rig: SyncRig;
let other: string; // a second API key: another tenant
let revoked: string;
let linked: { address: string; accountId: string; mailboxId: string };

const json = (body: unknown, method = 'POST') => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  rig = await startSyncRig();
  const makeKey = async (name: string) => (await (await rig.api.request('/v1/api-keys', json({ name }))).json()) as { id: string; key: string };
  other = (await makeKey('tenant-b')).key;
  const doomed = await makeKey('revoked');
  await rig.api.request(`/v1/api-keys/${doomed.id}`, { method: 'DELETE' });
  revoked = doomed.key;
  linked = await rig.linkNew({ messages: 60 });
  await rig.waitForMirror(linked.address, linked.accountId);
}, 90_000);
afterAll(async () => {
  await rig?.close();
});

describe('accounts', () => {
  it('creates an account, refuses a duplicate email (any case) and bad bodies', async () => {
    const email = `${unique('jane')}@Contoso.test`;
    const created = await rig.api.request('/v1/accounts', json({ email, displayName: 'Jane' }));
    expect(created.status).toBe(201);
    const account = (await created.json()) as { id: string };
    expect(account).toMatchObject({ email, displayName: 'Jane' });
    expect(account.id).toMatch(/^acc_[0-9a-z]{26}$/);
    const twin = await rig.api.request('/v1/accounts', json({ email: email.toUpperCase() }));
    expect(twin.status).toBe(409);
    expect(await twin.json()).toMatchObject({ status: 409, accountId: account.id });
    // Another key may use the same address: accounts are per tenant.
    expect((await rig.api.request('/v1/accounts', { ...json({ email }), auth: other })).status).toBe(201);
    for (const [body, path] of [
      [{ email: 'nope' }, 'email'],
      [{}, 'email'],
      [{ email: 'a@b.co', admin: true }, '(root)'],
      [{ email: 'a@b.co', displayName: '' }, 'displayName'],
    ] as const) {
      const response = await rig.api.request('/v1/accounts', json(body));
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe(path);
    }
    const notJson = await rig.api.request('/v1/accounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
  });

  it("lists only the key's own accounts, newest first, with a cursor", async () => {
    const mine = [];
    for (let i = 0; i < 3; i++)
      mine.push(((await (await rig.api.request('/v1/accounts', { ...json({ email: `${unique('p')}@x.test` }), auth: other })).json()) as { id: string }).id);
    const first = (await (await rig.api.request('/v1/accounts?limit=2', { auth: other })).json()) as { data: { id: string }[]; nextCursor: string };
    const second = (await (await rig.api.request(`/v1/accounts?limit=2&cursor=${first.nextCursor}`, { auth: other })).json()) as { data: { id: string }[] };
    const seen = [...first.data, ...second.data].map((a) => a.id);
    expect(seen.slice(0, 3)).toEqual(mine.reverse());
    expect(seen).not.toContain(linked.accountId);
    expect((await rig.api.request('/v1/accounts?cursor=nope')).status).toBe(400);
    expect((await rig.api.request('/v1/accounts?limit=0')).status).toBe(400);
  });

  it('shows an account with its mailboxes to its own key only', async () => {
    const mine = await rig.api.request(`/v1/accounts/${linked.accountId}`);
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id: linked.accountId, mailboxes: [{ id: linked.mailboxId, address: linked.address, provider: 'outlook' }] });
    expect((await rig.api.request(`/v1/accounts/${linked.accountId}`, { auth: other })).status).toBe(404);
    expect((await rig.api.request(`/v1/accounts/${linked.accountId}/mailboxes`, { auth: other })).status).toBe(404);
    expect((await rig.api.request(`/v1/accounts/${linked.accountId}/messages`, { auth: other })).status).toBe(404);
    expect(
      (await rig.api.request(`/v1/accounts/${linked.accountId}/mailboxes/outlook`, { ...json({ callbackUrl: 'http://localhost:3000/web/a' }), auth: other }))
        .status,
    ).toBe(404);
    expect((await rig.api.request('/v1/accounts/acc_00000000000000000000000000')).status).toBe(404);
    expect((await rig.api.request('/v1/accounts/nope')).status).toBe(400);
  });
});

describe('every account and mailbox route', () => {
  const routes = (): [string, string, unknown?][] => [
    ['POST', '/v1/accounts', { email: 'x@y.test' }],
    ['GET', '/v1/accounts'],
    ['GET', `/v1/accounts/${linked.accountId}`],
    ['POST', `/v1/accounts/${linked.accountId}/mailboxes/outlook`, { callbackUrl: 'http://localhost:3000/web/a' }],
    ['GET', `/v1/accounts/${linked.accountId}/mailboxes`],
    ['GET', `/v1/accounts/${linked.accountId}/messages`],
    ['GET', `/v1/mailboxes/${linked.mailboxId}`],
    ['POST', `/v1/mailboxes/${linked.mailboxId}/sync`],
    ['POST', `/v1/mailboxes/${linked.mailboxId}/resync`],
    ['POST', `/v1/mailboxes/${linked.mailboxId}/pause`],
    ['POST', `/v1/mailboxes/${linked.mailboxId}/resume`],
    ['DELETE', `/v1/mailboxes/${linked.mailboxId}`],
  ];

  it('needs a valid key', async () => {
    for (const [method, path, body] of routes()) {
      for (const auth of [null, 'not-a-key', revoked]) {
        const response = await rig.api.request(path, { ...(body ? json(body, method) : { method }), auth });
        expect(response.status, `${method} ${path} with ${auth === null ? 'no key' : 'a bad key'}`).toBe(401);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
      }
    }
  });

  it('answers 404 to another tenant for the mailbox routes, and changes nothing', async () => {
    for (const [method, path, body] of routes().filter(([, p]) => p.startsWith('/v1/mailboxes'))) {
      const response = await rig.api.request(path, { ...(body ? json(body, method) : { method }), auth: other });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    expect((await rig.mailbox(linked.mailboxId)).status).toBe('LIVE');
  });

  it('answers 400 to malformed ids and query values', async () => {
    for (const path of ['/v1/mailboxes/mbx_nope', '/v1/mailboxes/acc_00000000000000000000000000', '/v1/accounts/mbx_00000000000000000000000000/messages']) {
      expect((await rig.api.request(path)).status, path).toBe(400);
    }
    for (const query of ['isRead=maybe', 'flagged=1', 'limit=0', 'limit=500', 'cursor=not-a-cursor', 'mailboxId=x', 'q=']) {
      const response = await rig.api.request(`/v1/accounts/${linked.accountId}/messages?${query}`);
      expect(response.status, query).toBe(400);
      expect(await response.json()).toMatchObject({ status: 400 });
    }
    expect((await rig.api.request('/v1/mailboxes/mbx_00000000000000000000000000')).status).toBe(404);
    expect((await rig.api.request('/v1/mailboxes/mbx_00000000000000000000000000/pause', { method: 'POST' })).status).toBe(404);
  });
});

describe('the message list', () => {
  it('filters by folder, read state, flag and text, newest first, with paging that neither repeats nor skips', async () => {
    const sim = await rig.outlook.messages(linked.address);
    const inbox = (await rig.outlook.mailbox(linked.address)).wellKnownFolders.inbox;
    const [flagged] = sim;
    await rig.outlook.act(linked.address, { type: 'flag', id: flagged!.id, flagStatus: 'flagged' });
    await rig.outlook.act(linked.address, {
      type: 'newMail',
      subject: 'Quarterly zebra report',
      from: { name: 'Zed Zimmer', address: 'zed.zimmer@tailspin.test' },
    });
    const expected = await rig.outlook.messages(linked.address);
    await rig.waitForMirror(linked.address, linked.accountId);

    const all = await rig.messages(linked.accountId);
    const received = all.map((m) => m.receivedAt!);
    expect([...received].sort().reverse()).toEqual(received);
    const byPage = await rig.messages(linked.accountId, { limit: '7' });
    expect(byPage.map((m) => m.id)).toEqual(all.map((m) => m.id));

    const count = (query: Record<string, string>) => rig.messages(linked.accountId, query).then((r) => r.length);
    expect(await count({ folderId: inbox })).toBe(expected.filter((m) => m.folderId === inbox).length);
    expect(await count({ isRead: 'false' })).toBe(expected.filter((m) => !m.isRead).length);
    expect(await count({ isRead: 'true' })).toBe(expected.filter((m) => m.isRead).length);
    expect(await count({ flagged: 'true' })).toBe(expected.filter((m) => m.flagStatus === 'flagged').length);
    expect(await count({ flagged: 'false' })).toBe(expected.filter((m) => m.flagStatus !== 'flagged').length);
    expect(await count({ mailboxId: linked.mailboxId })).toBe(expected.length);
    for (const q of ['zebra', 'Zimmer', 'zed.zimmer@tailspin.test', 'zed.zimmer']) {
      expect(
        (await rig.messages(linked.accountId, { q })).map((m) => m.subject),
        q,
      ).toEqual(['Quarterly zebra report']);
    }
    expect(await count({ q: 'xylophonic' })).toBe(0);
  }, 60_000);
});
