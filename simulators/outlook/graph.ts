// Graph's mail API under /v1.0 for the mailbox the bearer token speaks for: /me, folders, message and
// folder delta, single messages, and subscriptions (graph-subscriptions.ts). Every request passes the
// gate first: token, per-mailbox concurrency (Outlook's 4), injected throttling and latency, and the
// request log.
import type { Context, Hono } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimContext } from './context.js';
import { parsePrefer, type Prefer } from './delta.js';
import { folderDelta, messageDelta } from './graph-delta.js';
import { subscriptionRoute } from './graph-subscriptions.js';
import type { AccessToken } from './grants.js';
import { graphError, parseSelect, renderFolder, renderMessage } from './render.js';
import type { Folder, Mailbox } from './store.js';

export function graphRoutes(app: Hono, ctx: SimContext): void {
  app.all('/v1.0/*', async (c) => {
    const startedAt = Date.now();
    // Taken now: the server makes a request's abort signal on first use, and only one that exists when the
    // client closes the connection is aborted.
    const { signal } = c.req.raw;
    const url = new URL(c.req.url);
    const prefer = parsePrefer(c.req.header('prefer'));
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const token = bearer ? ctx.grants.authenticate(bearer) : undefined;
    const mailbox = token ? ctx.byId.get(token.mailboxId) : undefined;
    const response =
      mailbox && token
        ? await admitted(c, ctx, mailbox, token, prefer)
        : graphError(c, 401, 'InvalidAuthenticationToken', bearer ? 'Access token has expired or is not yet valid.' : 'Access token is empty.', {
            'WWW-Authenticate':
              'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
          });
    ctx.stats.record({
      method: c.req.method,
      path: url.pathname,
      query: [...new Set(url.searchParams.keys())],
      prefer: prefer.values,
      cursor: url.searchParams.get('$skiptoken') ?? url.searchParams.get('$deltatoken'),
      mailbox: mailbox?.address ?? null,
      status: response.status,
      startedAt,
      endedAt: Date.now(),
      clientAborted: signal.aborted,
    });
    return response;
  });
}

async function admitted(c: Context, ctx: SimContext, mb: Mailbox, token: AccessToken, prefer: Prefer): Promise<Response> {
  const { stats, config } = ctx;
  const inflight = ctx.inflight.get(mb.id) ?? 0;
  if (inflight >= config.maxConcurrentPerMailbox) {
    stats.concurrencyRefusals[mb.address] = (stats.concurrencyRefusals[mb.address] ?? 0) + 1;
    stats.throttled += 1;
    return graphError(c, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': '1' });
  }
  ctx.inflight.set(mb.id, inflight + 1);
  stats.maxConcurrent[mb.address] = Math.max(stats.maxConcurrent[mb.address] ?? 0, inflight + 1);
  try {
    // The latency holds the request's slot, so concurrent requests really overlap.
    if (config.latencyMs > 0) await sleep(config.latencyMs);
    const deadline = Date.now() + 120_000;
    while (isHeld(c, ctx, mb, ctx.config.holdFolders) && Date.now() < deadline) await sleep(20);
    const throttle = config.throttleNext;
    if (throttle && throttle.count > 0) {
      throttle.count -= 1;
      stats.throttled += 1;
      return throttle.status === 429
        ? graphError(c, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': String(throttle.retryAfterSeconds) })
        : graphError(c, 503, 'ServiceUnavailable', 'Service is temporarily unavailable. Please retry later.', {
            'Retry-After': String(throttle.retryAfterSeconds),
          });
    }
    const parts = segments(new URL(c.req.url).pathname, mb);
    if (parts[0]?.toLowerCase() === 'subscriptions') return await subscriptionRoute(c, ctx, { mb, token, prefer }, parts.slice(1));
    const response = route(c, ctx, mb, prefer, parts);
    if (!isHeld(c, ctx, mb, ctx.config.holdAnsweredFolders)) return response;
    // Answered now, delivered on release: what the client applies is the mailbox as it was on arrival.
    stats.heldAnswers += 1;
    try {
      while (isHeld(c, ctx, mb, ctx.config.holdAnsweredFolders) && Date.now() < deadline) await sleep(20);
    } finally {
      stats.heldAnswers -= 1;
    }
    return response;
  } finally {
    ctx.inflight.set(mb.id, Math.max(0, (ctx.inflight.get(mb.id) ?? 1) - 1));
  }
}

/** A message-delta request of a folder in `held` (folder ids or well-known names), which the tests hold back. */
function isHeld(c: Context, ctx: SimContext, mb: Mailbox, held: string[]): boolean {
  if (held.length === 0) return false;
  const parts = segments(new URL(c.req.url).pathname, mb);
  if (parts.length !== 5 || parts[3]?.toLowerCase() !== 'messages' || parts[4]?.toLowerCase() !== 'delta') return false;
  const id = mb.folder(parts[2]!)?.id;
  return id !== undefined && held.some((ref) => mb.folder(ref)?.id === id);
}

const KEYWORDS = new Set(['me', 'mailfolders', 'childfolders', 'messages', 'delta']);

/** Graph's path forms: mailFolders/{id} and mailFolders('{id}'), keywords in any case, /users/{me} as /me. */
function segments(pathname: string, mb: Mailbox): string[] {
  let path = pathname.slice('/v1.0/'.length);
  try {
    path = decodeURIComponent(path);
  } catch {
    /* kept as sent: it then matches no route */
  }
  const parts = `/${path}`
    .replace(/\/(\w+)\('([^'/]*)'\)/g, '/$1/$2')
    .split('/')
    .filter(Boolean);
  if (parts[0]?.toLowerCase() === 'users' && parts[1] && [mb.id, mb.address].includes(parts[1].toLowerCase())) parts.splice(0, 2, 'me');
  return parts;
}

function route(c: Context, ctx: SimContext, mb: Mailbox, prefer: Prefer, parts: string[]): Response {
  if (c.req.method !== 'GET') return graphError(c, 405, 'ErrorInvalidRequest', 'The OData request is not supported by this simulator.');
  const key = parts.map((p) => (KEYWORDS.has(p.toLowerCase()) ? p.toLowerCase() : '{}')).join('/');
  const origin = ctx.graphOrigin;
  const notFound = () => graphError(c, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  const folder = (ref: string) => mb.folder(ref);
  switch (key) {
    case 'me':
      return c.json({
        '@odata.context': `${origin}/v1.0/$metadata#users/$entity`,
        id: mb.id,
        displayName: mb.displayName,
        mail: mb.address,
        userPrincipalName: mb.address,
      });
    case 'me/mailfolders':
      return listFolders(c, ctx, mb, mb.folders.get(mb.rootId)!);
    case 'me/mailfolders/delta':
      return folderDelta(c, ctx, mb, prefer);
    case 'me/mailfolders/{}': {
      const f = folder(parts[2]!);
      return f ? c.json({ '@odata.context': `${origin}/v1.0/$metadata#users('${mb.id}')/mailFolders/$entity`, ...renderFolder(f) }) : notFound();
    }
    case 'me/mailfolders/{}/childfolders': {
      const f = folder(parts[2]!);
      return f ? listFolders(c, ctx, mb, f) : notFound();
    }
    case 'me/mailfolders/{}/messages/delta':
      return messageDelta(c, ctx, mb, parts[2]!, prefer);
    case 'me/messages/{}':
    case 'me/mailfolders/{}/messages/{}': {
      const message = mb.message(parts[parts.length - 1]!);
      if (!message || (parts.length > 3 && folder(parts[2]!)?.id !== message.folderId)) return notFound();
      const { select, unknown } = parseSelect(c.req.query('$select'));
      if (unknown) return graphError(c, 400, 'RequestBroker--ParseUri', `Could not find a property named '${unknown}' on type 'microsoft.graph.message'.`);
      if (prefer.immutableIds) c.header('Preference-Applied', 'IdType="ImmutableId"');
      return c.json({
        '@odata.context': `${origin}/v1.0/$metadata#users('${mb.id}')/messages/$entity`,
        ...renderMessage(message, prefer.immutableIds, select),
      });
    }
    default:
      return graphError(c, 400, 'BadRequest', `Resource not found for the segment '${parts.at(-1) ?? ''}'.`);
  }
}

/** A folder's children in pages of $top (default 10, like Graph), continued by $skip in the nextLink. */
function listFolders(c: Context, ctx: SimContext, mb: Mailbox, parent: Folder): Response {
  const url = new URL(c.req.url);
  const top = Math.min(1_000, Math.max(1, Number(url.searchParams.get('$top') ?? 10) || 10));
  const skip = Math.max(0, Number(url.searchParams.get('$skip') ?? 0) || 0);
  const children = [...parent.children].map((id) => mb.folders.get(id)!);
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.graphOrigin}/v1.0/$metadata#users('${mb.id}')/mailFolders`,
    value: children.slice(skip, skip + top).map(renderFolder),
  };
  if (skip + top < children.length) {
    const next = new URL(`${ctx.graphOrigin}${url.pathname}`);
    for (const [k, v] of url.searchParams) if (k !== '$skip' && k !== '$top') next.searchParams.set(k, v);
    next.searchParams.set('$top', String(top));
    next.searchParams.set('$skip', String(skip + top));
    body['@odata.nextLink'] = next.toString().replace(/%24/g, '$');
  }
  return c.json(body);
}
