// Graph's /subscriptions for the token's app and signed-in mailbox: create (after the validation
// handshake with each endpoint), list, get, renew (PATCH expirationDateTime), delete and reauthorize,
// with Graph's error bodies. Reached through the Graph gate (token, concurrency, request log).
import type { Context } from 'hono';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SimContext } from './context.js';
import { scopeKey, type AccessToken } from './grants.js';
import type { Prefer } from './delta.js';
import { graphError } from './render.js';
import type { Mailbox } from './store.js';
import { parseChangeTypes, parseResource, renderSubscription, type Subscription } from './subscriptions.js';

const optionalText = z.string().nullish();
const createSchema = z.object({
  changeType: optionalText,
  notificationUrl: optionalText,
  lifecycleNotificationUrl: optionalText,
  resource: optionalText,
  expirationDateTime: optionalText,
  clientState: optionalText,
  latestSupportedTlsVersion: z.enum(['v1_0', 'v1_1', 'v1_2', 'v1_3']).nullish(),
  includeResourceData: z.boolean().nullish(),
});
const renewSchema = z.object({ expirationDateTime: optionalText }).strict();

const VALIDATION_FAILED = 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.';

type Caller = { mb: Mailbox; token: AccessToken; prefer: Prefer };

export async function subscriptionRoute(c: Context, ctx: SimContext, caller: Caller, parts: string[]): Promise<Response> {
  const method = c.req.method;
  const applicationId = ctx.grants.grant(caller.token.grantId)?.clientId ?? 'simulated-app';
  const notFound = () => graphError(c, 404, 'ResourceNotFound', 'The object was not found.');
  const unsupported = () => graphError(c, 405, 'ErrorInvalidRequest', 'The OData request is not supported by this simulator.');
  if (parts.length === 0) {
    if (method === 'POST') return create(c, ctx, caller, applicationId);
    if (method !== 'GET') return unsupported();
    const value = ctx.subscriptions
      .liveFor(caller.mb.id)
      .filter((s) => s.applicationId === applicationId)
      .map(renderSubscription);
    return c.json({ '@odata.context': `${ctx.graphOrigin}/v1.0/$metadata#subscriptions`, value });
  }
  const subscription = ctx.subscriptions.owned(parts[0]!, caller.mb.id, applicationId);
  if (parts.length === 2 && parts[1]!.toLowerCase() === 'reauthorize') {
    if (method !== 'POST') return unsupported();
    if (!subscription) return notFound();
    subscription.reauthorizedAt = Date.now();
    return c.body(null, 204);
  }
  if (parts.length !== 1) return graphError(c, 400, 'BadRequest', `Resource not found for the segment '${parts.at(-1) ?? ''}'.`);
  if (!['GET', 'PATCH', 'DELETE'].includes(method)) return unsupported();
  if (!subscription) return notFound();
  if (method === 'GET') return c.json(entity(ctx, subscription));
  if (method === 'DELETE') {
    ctx.subscriptions.remove(subscription, 'delete');
    return c.body(null, 204);
  }
  const parsed = renewSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return invalid(c, 'Only expirationDateTime can be updated: send {"expirationDateTime": "…"}.');
  const expiresAt = expiration(c, ctx, parsed.data.expirationDateTime, 'update');
  if (expiresAt instanceof Response) return expiresAt;
  // Renewing also reauthorizes (Graph's documented alternative to /reauthorize).
  Object.assign(subscription, { expiresAt, renewedAt: Date.now(), reauthorizedAt: Date.now() });
  return c.json(entity(ctx, subscription));
}

async function create(c: Context, ctx: SimContext, { mb, token, prefer }: Caller, applicationId: string): Promise<Response> {
  const parsed = createSchema.safeParse(await c.req.json().catch(() => undefined));
  if (!parsed.success) return invalid(c, `Invalid subscription: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
  const body = parsed.data;
  for (const field of ['changeType', 'notificationUrl', 'resource', 'expirationDateTime'] as const) {
    if (!body[field]) return invalid(c, `${field} is a required property for subscription creation.`);
  }
  const changeTypes = parseChangeTypes(body.changeType!);
  if (!changeTypes) return invalid(c, `Invalid changeType '${body.changeType!}': use a comma-separated list of created, updated and deleted.`);
  const resource = parseResource(body.resource!, mb);
  if ('error' in resource) return invalid(c, resource.error);
  const notificationUrl = body.notificationUrl!;
  const lifecycleNotificationUrl = body.lifecycleNotificationUrl || null;
  for (const [name, url] of [
    ['notificationUrl', notificationUrl],
    ['lifecycleNotificationUrl', lifecycleNotificationUrl],
  ] as const) {
    const problem = url === null ? undefined : urlProblem(url, ctx.config.requireHttps);
    if (problem) return invalid(c, `Invalid ${name} '${url ?? ''}': ${problem}`);
  }
  const expiresAt = expiration(c, ctx, body.expirationDateTime, 'create');
  if (expiresAt instanceof Response) return expiresAt;
  if (body.clientState && body.clientState.length > 128) return invalid(c, 'clientState must be at most 128 characters.');
  if (body.includeResourceData) return invalid(c, 'includeResourceData (rich notifications with encrypted resource data) is not supported by this simulator.');
  const scopes = ctx.grants.grant(token.grantId)?.scopes.map(scopeKey) ?? [];
  if (!scopes.some((s) => s.startsWith('mail.read'))) {
    return graphError(
      c,
      403,
      'ExtensionError',
      'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]',
    );
  }
  // Graph validates each endpoint before it creates anything; a lifecycle URL equal to the notification URL once.
  for (const url of new Set([notificationUrl, ...(lifecycleNotificationUrl ? [lifecycleNotificationUrl] : [])])) {
    const failure = await ctx.notifier.validate(url);
    if (failure)
      return graphError(c, 400, 'InvalidRequest', VALIDATION_FAILED, { 'x-simulator-validation': `${url}: ${failure}`.replace(/[^\x20-\x7e]/g, '?') });
  }
  const subscription: Subscription = {
    id: randomUUID(),
    mailboxId: mb.id,
    address: mb.address,
    applicationId,
    resource: body.resource!,
    folderId: resource.folderId,
    changeTypes,
    notificationUrl,
    lifecycleNotificationUrl,
    clientState: body.clientState ?? null,
    latestSupportedTlsVersion: body.latestSupportedTlsVersion ?? 'v1_2',
    immutableIds: prefer.immutableIds,
    expiresAt,
    createdAt: Date.now(),
    renewedAt: null,
    reauthorizedAt: null,
    removedAt: null,
    removedBy: null,
    reauthorizationSentFor: null,
    counters: { posted: 0, acknowledged: 0, failed: 0, dropped: 0, abandoned: 0 },
  };
  ctx.subscriptions.add(subscription);
  // Notifications carry immutable ids only for a subscription created with the preference (as Graph documents).
  if (prefer.immutableIds) c.header('Preference-Applied', 'IdType="ImmutableId"');
  return c.json(entity(ctx, subscription), 201);
}

function entity(ctx: SimContext, s: Subscription) {
  return { '@odata.context': `${ctx.graphOrigin}/v1.0/$metadata#subscriptions/$entity`, ...renderSubscription(s) };
}

const invalid = (c: Context, message: string) => graphError(c, 400, 'InvalidRequest', message);

function urlProblem(url: string, requireHttps: boolean): string | undefined {
  if (!URL.canParse(url)) return 'not an absolute URL.';
  const protocol = new URL(url).protocol;
  if (protocol === 'https:') return undefined;
  if (protocol !== 'http:') return 'the URL must use https.';
  return requireHttps ? 'the URL must use https.' : undefined;
}

/** The expiry in epoch ms, or Graph's refusal: in the future and at most maxSubscriptionMinutes away. */
function expiration(c: Context, ctx: SimContext, value: string | null | undefined, operation: 'create' | 'update'): number | Response {
  if (!value) return invalid(c, `expirationDateTime is a required property for subscription ${operation === 'create' ? 'creation' : 'update'}.`);
  if (!z.iso.datetime({ offset: true }).safeParse(value).success)
    return invalid(c, `expirationDateTime '${value}' is not an ISO 8601 date and time with an offset (e.g. 2026-03-20T11:00:00Z).`);
  const at = Date.parse(value);
  const now = Date.now();
  if (at <= now) return invalid(c, `Subscription expiration date must be in the future (expirationDateTime ${value}).`);
  const max = ctx.config.maxSubscriptionMinutes;
  if (at > now + max * 60_000) return graphError(c, 400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
  return at;
}
