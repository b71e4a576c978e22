// Linking Outlook by OAuth (authorization code + PKCE) against the simulated Microsoft identity platform:
// the happy path, and every way it can fail — each ends on a clear page with nothing linked.
import { eq } from 'drizzle-orm';
import { completeOutlookLink } from '../../lib/mailbox-sync/outlook/link.js';
import { outlookAuthSettings } from '../../lib/mailbox-sync/outlook/msal.js';
import { describe, expect, it } from 'vitest';
import { mailboxes, oauthStates, secrets } from '../../db/schema/index.js';
import { sha256Hex } from '../../lib/crypto.js';
import { tokenCacheName } from '../../lib/mailbox-sync/outlook/token-cache.js';
import { startTestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { failingSyncStart, observeSyncStarts } from '../helpers/link-hooks.js';
import { CALLBACK_URL, useSyncRig } from '../helpers/mailbox-sync.js';

const rig = useSyncRig({ workers: false });

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function newAccount() {
  const address = `${unique('link')}@contoso.test`.toLowerCase();
  await rig.outlook.createMailbox(address, { messages: 3 });
  return { address, accountId: await rig.createAccount(address) };
}

/** Starts a link and lets the simulated Microsoft answer; returns the callback query it sent back. */
async function signIn(accountId: string, loginHint: string): Promise<{ query: URLSearchParams; authorizationUrl: URL }> {
  const started = await rig.api.request(`/v1/accounts/${accountId}/mailboxes/outlook`, json({ callbackUrl: CALLBACK_URL, loginHint }));
  expect(started.status).toBe(201);
  const authorizationUrl = new URL(((await started.json()) as { authorizationUrl: string }).authorizationUrl);
  const consent = await fetch(authorizationUrl, { redirect: 'manual' });
  return { query: new URL(consent.headers.get('location')!).searchParams, authorizationUrl };
}

const callback = (query: URLSearchParams) => rig.api.request(`/v1/oauth/outlook/callback?${query}`, { auth: null, redirect: 'manual' });
const linkedMailboxes = async (accountId: string) => rig.api.deps.db.select().from(mailboxes).where(eq(mailboxes.accountId, accountId));
/** The mailbox's sealed token cache: one row once linked, none before. */
const tokenCaches = (mailboxId: string) =>
  rig.api.deps.db
    .select()
    .from(secrets)
    .where(eq(secrets.name, tokenCacheName(mailboxId)));

describe('linking Outlook', () => {
  it('signs in with PKCE and a state, stores the mailbox with its token cache sealed, and redirects to the callback', async () => {
    const { address, accountId } = await newAccount();
    const { query, authorizationUrl } = await signIn(accountId, address);
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorizationUrl.searchParams.get('login_hint')).toBe(address);
    expect(authorizationUrl.searchParams.get('scope')).toContain('Mail.Read');
    const state = query.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(40);
    // Only the state's hash is stored, bound to the account.
    const [stored] = await rig.api.deps.db
      .select()
      .from(oauthStates)
      .where(eq(oauthStates.stateHash, sha256Hex(state)));
    expect(stored).toMatchObject({ accountId, usedAt: null });
    expect(stored!.codeVerifierSealed).toMatch(/^v1\./);

    const response = await callback(query);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK_URL);
    expect(location.searchParams.get('status')).toBe('linked');
    expect(location.searchParams.get('accountId')).toBe(accountId);
    const [mailbox] = await linkedMailboxes(accountId);
    expect(mailbox).toMatchObject({
      id: location.searchParams.get('mailboxId'),
      address,
      provider: 'outlook',
      status: 'LINKED',
      workflowId: `mailbox-sync-${mailbox!.id}`,
    });
    const [cache] = await tokenCaches(mailbox!.id);
    expect(cache!.value).toMatch(/^v1\./);
    expect(cache!.value).not.toContain('RefreshToken');
    expect(rig.api.deps.encryptor.decrypt(cache!.value, tokenCacheName(mailbox!.id))).toContain('RefreshToken');
    expect((await rig.api.deps.temporal.workflow.getHandle(mailbox!.workflowId).describe()).status.name).toBe('RUNNING');
  });

  it('starts or wakes the sync only after the mailbox and its tokens are committed', async () => {
    const { address, accountId } = await newAccount();
    const { query } = await signIn(accountId, address);
    const settings = outlookAuthSettings(rig.api.deps.config)!;
    const starts = observeSyncStarts(tokenCacheName);
    try {
      await completeOutlookLink(
        { db: rig.api.deps.db, encryptor: rig.api.deps.encryptor, config: rig.api.deps.config, settings },
        Object.fromEntries(query),
        starts.hooks,
      );
    } finally {
      await starts.end();
    }
    // The tokens are the mailbox's secret.
    expect(starts.seen).toEqual([{ mailbox: 1, secret: 1 }]);
  });

  it("takes a new link back when its sync cannot be started, and keeps a re-link's new tokens", async () => {
    const { address, accountId } = await newAccount();
    const settings = outlookAuthSettings(rig.api.deps.config)!;
    const context = { db: rig.api.deps.db, encryptor: rig.api.deps.encryptor, config: rig.api.deps.config, settings };
    const { attempted, hooks: failing } = failingSyncStart();
    const first = await signIn(accountId, address);
    await expect(completeOutlookLink(context, Object.fromEntries(first.query), failing)).rejects.toMatchObject({ failure: 'sync_unavailable' });
    expect(attempted).toHaveLength(1);
    expect(await linkedMailboxes(accountId)).toEqual([]);
    expect(await tokenCaches(attempted[0]!)).toEqual([]);

    const linked = await rig.link(accountId, address);
    const mailboxId = linked.location!.searchParams.get('mailboxId')!;
    const before = (await tokenCaches(mailboxId))[0]!.value;
    const again = await signIn(accountId, address);
    await expect(completeOutlookLink(context, Object.fromEntries(again.query), failing)).rejects.toMatchObject({ failure: 'sync_unavailable' });
    const after = (await tokenCaches(mailboxId))[0]!.value;
    expect(await linkedMailboxes(accountId)).toHaveLength(1);
    expect(after).not.toBe(before);
  });

  it('links the same Outlook mailbox twice as one mailbox', async () => {
    const { address, accountId } = await newAccount();
    const first = await rig.link(accountId, address);
    const second = await rig.link(accountId, address);
    expect(second.status).toBe(302);
    expect(second.location!.searchParams.get('mailboxId')).toBe(first.location!.searchParams.get('mailboxId'));
    expect(await linkedMailboxes(accountId)).toHaveLength(1);
  });

  it('refuses a callback URL that is not on the allow-list (no open redirect)', async () => {
    const { accountId } = await newAccount();
    for (const callbackUrl of [
      'https://evil.example/web/accounts.html',
      'http://localhost:3000.evil.example/web/',
      'http://user:pw@localhost:3000/web/a',
      'http://localhost:3000/api/other',
      'javascript:alert(1)',
      '/web/accounts.html',
      'http://localhost:3001/web/',
    ]) {
      const response = await rig.api.request(`/v1/accounts/${accountId}/mailboxes/outlook`, json({ callbackUrl }));
      expect(response.status, callbackUrl).toBe(400);
      expect(((await response.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('callbackUrl');
    }
  });
});

describe('a sign-in that cannot link', () => {
  const refused = async (response: Response, status: number, reason: RegExp) => {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('text/html');
    const page = await response.text();
    expect(page).toContain('The mailbox was not linked');
    expect(page).toMatch(reason);
    return page;
  };

  it('refuses a tampered state, and a missing one', async () => {
    const { address, accountId } = await newAccount();
    const { query } = await signIn(accountId, address);
    const tampered = new URLSearchParams(query);
    tampered.set('state', `${query.get('state')!.slice(0, -2)}xx`);
    await refused(await callback(tampered), 400, /does not match any sign-in/);
    const missing = new URLSearchParams(query);
    missing.delete('state');
    await refused(await callback(missing), 400, /no state/);
    expect(await linkedMailboxes(accountId)).toEqual([]);
  });

  it('refuses a replayed callback: the state is used once', async () => {
    const { address, accountId } = await newAccount();
    const { query } = await signIn(accountId, address);
    expect((await callback(query)).status).toBe(302);
    await refused(await callback(query), 400, /already used/);
    expect(await linkedMailboxes(accountId)).toHaveLength(1);
  });

  it('refuses an expired state', async () => {
    const { address, accountId } = await newAccount();
    const { query } = await signIn(accountId, address);
    await rig.api.deps.db
      .update(oauthStates)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(oauthStates.stateHash, sha256Hex(query.get('state')!)));
    const page = await refused(await callback(query), 400, /expired/);
    expect(page).toContain(CALLBACK_URL); // a way back to the application
    expect(await linkedMailboxes(accountId)).toEqual([]);
  });

  it('says so when the user declines consent', async () => {
    const { address, accountId } = await newAccount();
    await rig.outlook.configure({ consent: 'deny' });
    try {
      const { query } = await signIn(accountId, address);
      expect(query.get('error')).toBe('access_denied');
      await refused(await callback(query), 400, /declined/);
    } finally {
      await rig.outlook.configure({ consent: 'auto' });
    }
    expect(await linkedMailboxes(accountId)).toEqual([]);
  });

  it('says so when Microsoft fails the code exchange or refuses the code', async () => {
    const { address, accountId } = await newAccount();
    await rig.outlook.configure({ tokenEndpointFailNext: { count: 1, status: 503 } });
    const { query } = await signIn(accountId, address);
    await refused(await callback(query), 502, /refused to exchange/);
    const second = await signIn(accountId, address);
    second.query.set('code', `${second.query.get('code')}x`);
    const page = await refused(await callback(second.query), 502, /invalid_grant/);
    expect(page).not.toContain(second.query.get('code')!);
    expect(await linkedMailboxes(accountId)).toEqual([]);
  });

  it('refuses a sign-in to another mailbox than the one asked for, unless any address was allowed', async () => {
    const { address, accountId } = await newAccount();
    const intruder = `${unique('other')}@contoso.test`.toLowerCase();
    await rig.outlook.createMailbox(intruder, { messages: 1 });
    // The user types another address on Microsoft's page than the one the link was for.
    const asOther = async (body: Record<string, unknown>) => {
      const started = await rig.api.request(`/v1/accounts/${accountId}/mailboxes/outlook`, json({ callbackUrl: CALLBACK_URL, ...body }));
      expect(started.status).toBe(201);
      const url = new URL(((await started.json()) as { authorizationUrl: string }).authorizationUrl);
      url.searchParams.set('login_hint', intruder);
      const consent = await fetch(url, { redirect: 'manual' });
      return new URL(consent.headers.get('location')!).searchParams;
    };
    const page = await refused(await callback(await asOther({})), 400, new RegExp(`this link was for ${address}`));
    expect(page).toContain(intruder);
    expect(await linkedMailboxes(accountId)).toEqual([]);
    // The hint is compared as given; any address is linked only when the request said so.
    await refused(await callback(await asOther({ loginHint: address })), 400, /this link was for/);
    const allowed = await callback(await asOther({ allowAnyAddress: true }));
    expect(allowed.status).toBe(302);
    expect((await linkedMailboxes(accountId)).map((m) => m.address)).toEqual([intruder]);
  });

  it('answers 503 while Outlook is not configured', async () => {
    const bare = await startTestApi({ OUTLOOK_CLIENT_ID: '', OUTLOOK_CLIENT_SECRET: '' });
    try {
      const created = await bare.request('/v1/accounts', json({ email: `${unique('bare')}@contoso.test` }));
      const { id } = (await created.json()) as { id: string };
      const link = await bare.request(`/v1/accounts/${id}/mailboxes/outlook`, json({ callbackUrl: 'http://localhost:3000/web/x' }));
      expect(link.status).toBe(503);
      expect(((await link.json()) as { detail: string }).detail).toContain('OUTLOOK_CLIENT_ID');
      expect((await bare.request('/v1/oauth/outlook/callback?code=x&state=y', { auth: null })).status).toBe(503);
    } finally {
      await bare.close();
    }
  });
});
