// The Microsoft identity platform's v2.0 endpoints as MSAL uses them: authorize (auth code + PKCE, with
// a consent page or an automatic answer) and token (authorization_code, refresh_token), with AAD's
// error shapes. The tenant path segment is accepted as given (common, organizations, a tenant id).
import type { Context, Hono } from 'hono';
import { randomUUID } from 'node:crypto';
import { consentPage, errorPage, formPostPage } from './consent-page.js';
import type { SimContext } from './context.js';
import { clientInfo, idToken, OIDC_SCOPES, parseScopes, pkceChallenge, scopeKey, TENANT_ID, type Grant } from './grants.js';
import type { Mailbox } from './store.js';

type Params = Record<string, string>;

export function identityRoutes(app: Hono, ctx: SimContext): void {
  app.get('/:tenant/oauth2/v2.0/authorize', (c) => authorize(c, ctx, Object.fromEntries(new URL(c.req.url).searchParams)));
  app.post('/:tenant/oauth2/v2.0/authorize', async (c) => {
    const form = await c.req.parseBody();
    const params = Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return authorize(c, ctx, params, true);
  });
  app.post('/:tenant/oauth2/v2.0/token', (c) => token(c, ctx));
  // Discovery, for clients that do not take authorityMetadata; MSAL configured as documented never asks.
  app.get('/:tenant/v2.0/.well-known/openid-configuration', (c) => {
    const base = `${new URL(c.req.url).origin}/${c.req.param('tenant')}`;
    return c.json({
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      issuer: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'form_post'],
      code_challenge_methods_supported: ['S256'],
    });
  });
  app.get('/:tenant/discovery/v2.0/keys', (c) => c.json({ keys: [] }));
}

function authorize(c: Context, ctx: SimContext, params: Params, posted = false) {
  const bad = (code: string, message: string) => c.html(errorPage(code, message), 400);
  if (!params.client_id) return bad('invalid_request', "AADSTS900144: The request body must contain the following parameter: 'client_id'.");
  if (ctx.options.clientId && params.client_id !== ctx.options.clientId)
    return bad('unauthorized_client', `AADSTS700016: Application with identifier '${params.client_id}' was not found in the directory.`);
  if (params.response_type !== 'code')
    return bad('unsupported_response_type', `AADSTS700054: response_type '${params.response_type ?? ''}' is not enabled for the application.`);
  if (!params.redirect_uri || !URL.canParse(params.redirect_uri))
    return bad('invalid_request', "AADSTS900144: The request body must contain the following parameter: 'redirect_uri'.");
  if (!params.code_challenge || params.code_challenge_method !== 'S256')
    return bad('invalid_request', 'AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge with code_challenge_method S256.');
  const mode = params.response_mode ?? 'query';
  if (mode !== 'query' && mode !== 'form_post') return bad('invalid_request', `AADSTS900144: response_mode '${mode}' is not supported here.`);
  const scopes = parseScopes(params.scope);
  if (scopes.length === 0) return bad('invalid_request', "AADSTS900144: The request body must contain the following parameter: 'scope'.");

  const finish = (fields: Params) => {
    const all: Params = { ...fields, ...(params.state !== undefined ? { state: params.state } : {}) };
    if (mode === 'form_post') return c.html(formPostPage(params.redirect_uri!, all));
    const target = new URL(params.redirect_uri!);
    for (const [k, v] of Object.entries(all)) target.searchParams.set(k, v);
    return c.redirect(target.toString(), 302);
  };
  const fail = (error: string, description: string, extra: Params = {}) => finish({ error, error_description: description, ...extra });
  const grant = (mailbox: Mailbox) => {
    const code = ctx.grants.issueCode({
      clientId: params.client_id!,
      redirectUri: params.redirect_uri!,
      codeChallenge: params.code_challenge!,
      scopes,
      mailboxId: mailbox.id,
      ...(params.nonce ? { nonce: params.nonce } : {}),
    });
    ctx.stats.codesIssued += 1;
    return finish({ code, ...(params.client_info === '1' ? { client_info: clientInfo(mailbox.id) } : {}), session_state: randomUUID() });
  };
  const resolve = (address: string) =>
    ctx.mailboxes.get(address.toLowerCase()) ?? (ctx.config.autoCreateMailboxes ? ctx.createMailbox(address, undefined, ctx.config.seedOnCreate) : undefined);
  const missing = (address: string) =>
    `AADSTS50034: The user account ${address} does not exist in the directory. To sign into this application, the account must be added to the directory.`;

  if (posted) {
    if (params.action !== 'accept') return fail('access_denied', 'AADSTS65004: User declined to consent to access the app.', { error_subcode: 'cancel' });
    const account = params.other?.trim() || params.account;
    const mailbox = account ? resolve(account) : undefined;
    if (mailbox) return grant(mailbox);
    return c.html(consentPage({ ...view(c, ctx, params, scopes), error: missing(account ?? '') }), 400);
  }
  if (ctx.config.consent === 'deny') return fail('access_denied', 'AADSTS65004: User declined to consent to access the app.', { error_subcode: 'cancel' });
  // prompt=none must not show UI: answer as the auto mode would, or with login_required.
  if (ctx.config.consent === 'auto' || params.prompt === 'none') {
    const hint = params.login_hint;
    if (hint) {
      const mailbox = resolve(hint);
      return mailbox ? grant(mailbox) : fail('invalid_request', missing(hint));
    }
    if (ctx.mailboxes.size === 1) return grant([...ctx.mailboxes.values()][0]!);
    if (params.prompt === 'none') return fail('login_required', 'AADSTS50058: A silent sign-in request was sent but no user is signed in.');
    return ctx.mailboxes.size === 0
      ? fail('invalid_request', missing('(no login_hint)'))
      : fail('account_selection_required', 'AADSTS16000: Several accounts are signed in and none was chosen (send login_hint).');
  }
  const page = view(c, ctx, params, scopes);
  const unknownHint = params.login_hint && !ctx.mailboxes.has(params.login_hint.toLowerCase()) && !ctx.config.autoCreateMailboxes;
  return c.html(consentPage(unknownHint ? { ...page, error: missing(params.login_hint!) } : page));
}

function view(c: Context, ctx: SimContext, params: Params, scopes: string[]) {
  const accounts = [...ctx.mailboxes.keys()];
  const hint = params.login_hint?.toLowerCase();
  const open = ctx.config.autoCreateMailboxes;
  if (hint && open && !accounts.includes(hint)) accounts.unshift(hint);
  // Nothing to choose from yet, but anyone may sign in: offer a demo account so Accept works at once.
  if (open && accounts.length === 0) accounts.push('alex.wilber@contoso.com');
  return {
    action: new URL(c.req.url).pathname,
    params,
    clientId: params.client_id!,
    scopes,
    accounts,
    allowOther: open,
    ...(hint && accounts.includes(hint) ? { selected: hint } : {}),
  };
}

/** AAD's error body; the description ends with the ids and time, as AAD's does. */
function aadError(c: Context, status: number, error: string, code: number, description: string, suberror?: string) {
  const traceId = randomUUID();
  const correlationId = c.req.query('client-request-id') ?? c.req.header('client-request-id') ?? randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
  return c.json(
    {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      ...(suberror ? { suberror } : {}),
    },
    status as 400,
  );
}

async function token(c: Context, ctx: SimContext) {
  const form = new URLSearchParams(await c.req.text());
  const failNext = ctx.config.tokenEndpointFailNext;
  if (failNext && failNext.count > 0) {
    failNext.count -= 1;
    const transient = failNext.status >= 500 || failNext.status === 429;
    return aadError(
      c,
      failNext.status,
      failNext.error ?? (transient ? 'temporarily_unavailable' : 'invalid_request'),
      transient ? 90033 : 90014,
      transient ? 'A transient error has occurred. Please try again.' : 'The request is invalid (simulated).',
    );
  }
  const clientId = form.get('client_id');
  if (!clientId) return aadError(c, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
  if (ctx.options.clientId && clientId !== ctx.options.clientId)
    return aadError(c, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
  if (ctx.options.clientSecret) {
    const secret = form.get('client_secret');
    if (!secret)
      return aadError(c, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (secret !== ctx.options.clientSecret)
      return aadError(
        c,
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
  }
  const grantType = form.get('grant_type');
  let grant: Grant;
  let nonce: string | undefined;
  if (grantType === 'authorization_code') {
    const value = form.get('code');
    const code = value ? ctx.grants.code(value) : undefined;
    if (!code || code.clientId !== clientId) return aadError(c, 400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
    if (code.used)
      return aadError(
        c,
        400,
        'invalid_grant',
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    if (code.expiresAt <= Date.now())
      return aadError(
        c,
        400,
        'invalid_grant',
        70008,
        'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
      );
    if (form.get('redirect_uri') !== code.redirectUri)
      return aadError(
        c,
        400,
        'invalid_grant',
        50011,
        'The redirect URI specified in the request does not match the redirect URI the authorization code was issued for.',
      );
    const verifier = form.get('code_verifier');
    if (!verifier) return aadError(c, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code_verifier'.");
    if (pkceChallenge(verifier) !== code.codeChallenge)
      return aadError(c, 400, 'invalid_grant', 50148, 'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.');
    code.used = true;
    grant = ctx.grants.createGrant(clientId, code.mailboxId, code.scopes);
    nonce = code.nonce;
  } else if (grantType === 'refresh_token') {
    const found = ctx.grants.grantByRefreshToken(form.get('refresh_token') ?? '');
    if (!found || found.clientId !== clientId || !ctx.byId.has(found.mailboxId))
      return aadError(c, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (found.revoked)
      return aadError(
        c,
        400,
        'invalid_grant',
        50173,
        'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
        'bad_token',
      );
    grant = found;
    ctx.stats.refreshes += 1;
  } else {
    return aadError(c, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType ?? ''}'.`);
  }

  const scopes = grantedScopes(parseScopes(form.get('scope') ?? undefined), grant);
  if (!scopes)
    return aadError(
      c,
      400,
      'invalid_grant',
      65001,
      `The user or administrator has not consented to use the application with ID '${clientId}'. Send an interactive authorization request for this user and resource.`,
      'consent_required',
    );
  const mailbox = ctx.byId.get(grant.mailboxId)!;
  const lifetime = ctx.config.accessTokenLifetimeSeconds;
  const issued = ctx.grants.issueTokens(grant, lifetime);
  ctx.stats.tokensIssued += 1;
  const has = (scope: string) => grant.scopes.some((s) => scopeKey(s) === scope);
  return c.json({
    token_type: 'Bearer',
    scope: scopes.join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: issued.accessToken,
    ...(has('offline_access') ? { refresh_token: issued.refreshToken } : {}),
    ...(has('openid')
      ? {
          id_token: idToken({
            clientId,
            oid: mailbox.id,
            name: mailbox.displayName,
            address: mailbox.address,
            lifetimeSeconds: 3600,
            ...(nonce ? { nonce } : {}),
          }),
        }
      : {}),
    client_info: clientInfo(mailbox.id),
  });
}

/**
 * The scopes the token is for: the requested ones, written as they were asked (MSAL stores the access
 * token under the response's scopes and finds it later by the requested ones), when the grant covers
 * them; `.default` stands for everything granted. Undefined when a scope was never consented to.
 */
function grantedScopes(requested: string[], grant: Grant): string[] | undefined {
  if (requested.length === 0) return grant.scopes;
  const granted = new Set(grant.scopes.map(scopeKey));
  const out: string[] = [];
  for (const scope of requested) {
    const key = scopeKey(scope);
    if (key === '.default') out.push(...grant.scopes.filter((s) => !OIDC_SCOPES.has(scopeKey(s))));
    else if (granted.has(key) || OIDC_SCOPES.has(key)) out.push(scope);
    else return undefined;
  }
  return [...new Set(out)];
}
