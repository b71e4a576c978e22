// The simulated identity platform speaks MSAL's contract: real @azure/msal-node (auth code + PKCE,
// silent refresh, revocation) against the authorize and token endpoints over HTTP.
import {
  ConfidentialClientApplication,
  CryptoProvider,
  InteractionRequiredAuthError,
  ServerError,
  type AccountInfo,
  type INetworkModule,
} from '@azure/msal-node';
import { describe, expect, it } from 'vitest';
import { useOutlook } from '../../test/helpers/outlook.js';
import { TENANT_ID } from './server.js';

const sim = useOutlook();

const redirectUri = 'http://127.0.0.1:3999/v1/oauth/outlook/callback';
const scopes = ['Mail.Read', 'User.Read'];

// As the notes say: an https authority that never resolves, its four endpoints given as metadata, and a
// fetch-based network client (MSAL then makes no discovery request).
const headersOf = (response: Response) => {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
};
const networkClient: INetworkModule = {
  async sendGetRequestAsync(url, options) {
    const response = await fetch(url, { headers: options?.headers ?? {} });
    return { status: response.status, headers: headersOf(response), body: (await response.json()) as never };
  },
  async sendPostRequestAsync(url, options) {
    const response = await fetch(url, { method: 'POST', headers: options?.headers ?? {}, body: options?.body ?? '' });
    return { status: response.status, headers: headersOf(response), body: (await response.json()) as never };
  },
};

function msal(clientSecret = sim.env.OUTLOOK_CLIENT_SECRET) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: sim.env.OUTLOOK_CLIENT_ID,
      clientSecret,
      authority: 'https://login.sim.test/common/',
      knownAuthorities: ['login.sim.test'],
      authorityMetadata: JSON.stringify({
        authorization_endpoint: `${sim.url}/common/oauth2/v2.0/authorize`,
        token_endpoint: `${sim.url}/common/oauth2/v2.0/token`,
        issuer: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
        jwks_uri: `${sim.url}/common/discovery/v2.0/keys`,
      }),
    },
    system: { networkClient },
  });
}

async function authorizeUrl(app: ConfidentialClientApplication, loginHint?: string) {
  const pkce = await new CryptoProvider().generatePkceCodes();
  const url = await app.getAuthCodeUrl({
    scopes,
    redirectUri,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    state: 'state-1',
    ...(loginHint ? { loginHint } : {}),
  });
  return { url, verifier: pkce.verifier };
}

/** Follows the authorize redirect without a browser; answers the redirect's query. */
function redirectOf(response: Response): URLSearchParams {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  return location.searchParams;
}

const me = async (token: string) => fetch(`${sim.url}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });

describe('Outlook simulator: identity platform with real MSAL', () => {
  it('links with auth code + PKCE, refreshes silently, and fails with interaction required once revoked', async () => {
    await sim.configure({ consent: 'auto' });
    await sim.createMailbox('jane.doe@contoso.com');
    const app = msal();
    const { url, verifier } = await authorizeUrl(app, 'jane.doe@contoso.com');
    expect(url.startsWith(`${sim.url}/common/oauth2/v2.0/authorize?`)).toBe(true);
    const query = redirectOf(await fetch(url, { redirect: 'manual' }));
    expect(query.get('state')).toBe('state-1');
    const code = query.get('code')!;
    const result = await app.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: verifier, state: 'state-1' }, { code, state: 'state-1' });
    const account = result.account as AccountInfo;
    expect(account.username).toBe('jane.doe@contoso.com');
    expect(account.tenantId).toBe(TENANT_ID);
    const mailbox = await sim.mailbox('jane.doe@contoso.com');
    expect(account.homeAccountId).toBe(`${mailbox.id}.${TENANT_ID}`);
    expect(result.scopes).toEqual(expect.arrayContaining(scopes));
    expect(await (await me(result.accessToken)).json()).toMatchObject({
      id: mailbox.id,
      mail: 'jane.doe@contoso.com',
      userPrincipalName: 'jane.doe@contoso.com',
      displayName: 'Jane Doe',
    });

    // The token is stored under the requested scopes: a silent call finds it without asking the server.
    const cached = await app.acquireTokenSilent({ account, scopes });
    expect(cached.accessToken).toBe(result.accessToken);
    expect((await sim.stats()).tokensIssued).toBe(1);
    const refreshed = await app.acquireTokenSilent({ account, scopes, forceRefresh: true });
    expect(refreshed.accessToken).not.toBe(result.accessToken);
    expect(await sim.stats()).toMatchObject({ tokensIssued: 2, refreshes: 1, codesIssued: 1 });
    expect((await me(refreshed.accessToken)).status).toBe(200);

    expect(await sim.revoke('jane.doe@contoso.com')).toEqual({ revoked: 1 });
    const unauthorized = await me(refreshed.accessToken);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await unauthorized.json()).toMatchObject({
      error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' },
    });
    const failure = await app.acquireTokenSilent({ account, scopes, forceRefresh: true }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InteractionRequiredAuthError);
    expect(failure).toMatchObject({ errorCode: 'invalid_grant', subError: 'bad_token' });
    expect((failure as Error).message).toContain('AADSTS50173');
  });

  it('refuses a PKCE mismatch, a reused code, a wrong secret and an unknown grant type', async () => {
    await sim.configure({ consent: 'auto' });
    await sim.createMailbox('max@fabrikam.com');
    const app = msal();
    const first = await authorizeUrl(app, 'max@fabrikam.com');
    const code = redirectOf(await fetch(first.url, { redirect: 'manual' })).get('code')!;
    const other = await new CryptoProvider().generatePkceCodes();
    const mismatch = await app.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: other.verifier }).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(ServerError);
    expect(mismatch).toMatchObject({ errorCode: 'invalid_grant' });
    expect((mismatch as Error).message).toContain('AADSTS50148');

    const second = await authorizeUrl(app, 'max@fabrikam.com');
    const code2 = redirectOf(await fetch(second.url, { redirect: 'manual' })).get('code')!;
    await app.acquireTokenByCode({ code: code2, scopes, redirectUri, codeVerifier: second.verifier });
    const reused = await app.acquireTokenByCode({ code: code2, scopes, redirectUri, codeVerifier: second.verifier }).catch((e: unknown) => e);
    expect(reused).toMatchObject({ errorCode: 'invalid_grant' });
    expect((reused as Error).message).toContain('AADSTS54005');

    const token = (body: Record<string, string>) =>
      fetch(`${sim.url}/common/oauth2/v2.0/token?client-request-id=abc`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      });
    const wrongSecret = await token({
      client_id: sim.env.OUTLOOK_CLIENT_ID,
      client_secret: 'nope',
      grant_type: 'authorization_code',
      code: 'x',
      redirect_uri: redirectUri,
      code_verifier: 'y',
    });
    expect(wrongSecret.status).toBe(401);
    const body = (await wrongSecret.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [7000215], correlation_id: 'abc' });
    expect(body).toHaveProperty('trace_id');
    expect(body).toHaveProperty('timestamp');
    const grantType = await token({ client_id: sim.env.OUTLOOK_CLIENT_ID, client_secret: sim.env.OUTLOOK_CLIENT_SECRET, grant_type: 'password' });
    expect(await grantType.json()).toMatchObject({ error: 'unsupported_grant_type' });

    await sim.configure({ tokenEndpointFailNext: { count: 1, status: 503 } });
    const unavailable = await token({
      client_id: sim.env.OUTLOOK_CLIENT_ID,
      client_secret: sim.env.OUTLOOK_CLIENT_SECRET,
      grant_type: 'refresh_token',
      refresh_token: 'x',
    });
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(
      await (
        await token({ client_id: sim.env.OUTLOOK_CLIENT_ID, client_secret: sim.env.OUTLOOK_CLIENT_SECRET, grant_type: 'refresh_token', refresh_token: 'x' })
      ).json(),
    ).toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('redirects a refusal with access_denied, and an unknown account with AADSTS50034', async () => {
    await sim.createMailbox('ann@contoso.com');
    const app = msal();
    await sim.configure({ consent: 'deny' });
    const denied = redirectOf(await fetch((await authorizeUrl(app, 'ann@contoso.com')).url, { redirect: 'manual' }));
    expect(denied.get('error')).toBe('access_denied');
    expect(denied.get('error_description')).toMatch(/^AADSTS65004: User declined to consent/);
    expect(denied.get('state')).toBe('state-1');
    expect(denied.get('code')).toBeNull();
    await sim.configure({ consent: 'auto' });
    const unknown = redirectOf(await fetch((await authorizeUrl(app, 'nobody@contoso.com')).url, { redirect: 'manual' }));
    expect(unknown.get('error')).toBe('invalid_request');
    expect(unknown.get('error_description')).toMatch(/^AADSTS50034: The user account .* does not exist/);
    await sim.configure({ autoCreateMailboxes: true, seedOnCreate: 12 });
    expect(redirectOf(await fetch((await authorizeUrl(app, 'new.user@contoso.com')).url, { redirect: 'manual' })).get('code')).toBeTruthy();
    expect((await sim.mailbox('new.user@contoso.com')).messageCount).toBe(12);
  });

  it('shows a consent page whose accept form yields a code, and whose cancel denies', async () => {
    await sim.createMailbox('kim@contoso.com');
    await sim.createMailbox('lee@contoso.com');
    const app = msal();
    const { url, verifier } = await authorizeUrl(app, 'lee@contoso.com');
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign in to Outlook (simulated)');
    expect(html).toContain('<select id="account" name="account">');
    expect(html).toContain('<option value="lee@contoso.com" selected>');
    expect(html).toContain('Mail.Read');
    for (const id of ['accept', 'deny']) expect(html).toContain(`id="${id}"`);
    // Submit the form as a browser would: its hidden fields plus the chosen account and the button pressed.
    const form = new URLSearchParams(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
        m[1]!,
        m[2]!.replace(/&#(\d+);/g, (_x, n: string) => String.fromCharCode(Number(n))),
      ]),
    );
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!;
    const submit = (extra: Record<string, string>) =>
      fetch(`${sim.url}${action}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...Object.fromEntries(form), ...extra }),
      });
    const cancelled = redirectOf(await submit({ account: 'lee@contoso.com', action: 'deny' }));
    expect(cancelled.get('error')).toBe('access_denied');
    const accepted = redirectOf(await submit({ account: 'lee@contoso.com', action: 'accept' }));
    expect(accepted.get('session_state')).toBeTruthy();
    const result = await app.acquireTokenByCode({ code: accepted.get('code')!, scopes, redirectUri, codeVerifier: verifier });
    expect(result.account?.username).toBe('lee@contoso.com');

    // With autoCreateMailboxes, the page offers a field for any address, and accepting creates that mailbox.
    await sim.configure({ autoCreateMailboxes: true, seedOnCreate: 3 });
    expect(await (await fetch(url)).text()).toContain('id="other"');
    const typed = redirectOf(await submit({ account: 'lee@contoso.com', other: 'typed.in@contoso.com', action: 'accept' }));
    const typedResult = await app.acquireTokenByCode({ code: typed.get('code')!, scopes, redirectUri, codeVerifier: verifier });
    expect(typedResult.account?.username).toBe('typed.in@contoso.com');
    expect((await sim.mailbox('typed.in@contoso.com')).messageCount).toBe(3);

    const bad = await fetch(
      `${sim.url}/common/oauth2/v2.0/authorize?client_id=${sim.env.OUTLOOK_CLIENT_ID}&response_type=code&redirect_uri=${encodeURIComponent(redirectUri)}&scope=Mail.Read`,
    );
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('AADSTS9002325');
  });
});
