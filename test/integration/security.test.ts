// One security suite for every route, generated from the app's own route table and OpenAPI document:
// a route added later gets these cases without anyone writing them, and a route that is neither
// secured nor listed below as public (with how it is verified instead) fails the suite.
//   no key → 401 · a revoked key → 401 · a key without the route's scope → 403 ·
//   another tenant's id → 404 (and another tenant's list never shows it) ·
//   a second key of the same tenant reaches everything · a revoked key's open stream is closed and its
//   pending sign-in refused ·
//   every body over its limit → 413, by Content-Length and streamed, before it is read whole.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { scopes, type Scope } from '../../api/auth/scopes.js';
import { isPublicPath } from '../../api/public-paths.js';
import { mailboxes } from '../../db/schema/index.js';
import { newId } from '../../lib/ids.js';
import { mailingWorkflowId } from '../../lib/mailings/start-workflow.js';
import { retryBatchWorkflowId } from '../../lib/notifications/retries.js';
import { notificationWorkflowId } from '../../lib/notifications/start-workflow.js';
import { createEndpoint } from '../../lib/webhooks/endpoints.js';
import { queueTestEvent } from '../../lib/webhooks/deliveries.js';
import { suppressAddress } from '../../lib/notifications/suppressions.js';
import { temporalScheduleId } from '../../lib/schedules/temporal.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { TEST_ADMIN_KEY, unique } from '../helpers/config.js';
import { openSse } from '../helpers/sse.js';
import { ACCESS_CHECK_MS } from '../../api/auth/access-watch.js';
import { setTimeout as sleep } from 'node:timers/promises';

const BODY_LIMIT = 16 * 1024;
const UPLOAD_LIMIT = 64 * 1024;

/** Operations anyone may call, and what stands in for a key. Each gets its own check below. */
const publicOperations: Record<string, string> = {
  'GET /health': 'liveness probe: says only that the process is up',
  'GET /ready': 'readiness probe: says which dependencies are reachable, nothing more',
  'POST /v1/webhooks/mailgun': "the provider's HMAC-SHA256 signature over timestamp and one-time token",
  'POST /v1/webhooks/graph': "the subscription's clientState (only its hash is stored)",
  'GET /v1/oauth/outlook/callback': 'a one-time, expiring OAuth state bound to the account and key that asked',
  'POST /v1/verify': "the recipient's 256-bit token from their mail (stored as a hash)",
};
/** Routes outside the OpenAPI document: all public, none takes a body. */
const publicUndocumented = new Set(['GET /', 'GET /docs', 'GET /openapi.json']);
/** Path parameters that name shared resources (one directory for the deployment), not a tenant's. */
const sharedResources: Record<string, string> = {
  '/v1/templates/{id}': 'templates are shared by every key; writes need the admin scope',
  '/v1/templates/{id}/versions': 'templates are shared by every key; reading them needs the read scope',
  '/v1/templates/{id}/preview': 'templates are shared by every key; a preview renders without sending or storing anything',
  '/v1/users/{userId}': 'the user directory is shared by every key; writes need the admin scope',
  '/v1/api-keys/{id}': 'keys are managed by admin keys only',
  '/v1/tenants/{id}': 'tenants are managed by admin keys only',
  '/v1/tenants/{id}/api-keys': 'tenants are managed by admin keys only',
  '/v1/tenants/{id}/disable': 'tenants are managed by admin keys only',
  '/v1/tenants/{id}/enable': 'tenants are managed by admin keys only',
};

/** An event stream: it never ends, so the cases that read a whole answer leave it out (its own tests cover it). */
const isStream = (op: { path: string }) => op.path.endsWith('/events');

interface Operation {
  method: string;
  path: string;
  operationId: string;
  scope: Scope | undefined;
  secured: boolean;
  hasBody: boolean;
  contentTypes: string[];
}

let api: TestApi;
let operations: Operation[];
let routeTable: { method: string; path: string }[];
const keys = {} as { tenantA: string; tenantA2: string; tenantB: string; revoked: string; without: Record<Scope, string> };
let tenantA: string;
const owned = {} as {
  notification: string;
  retryBatch: string;
  mailing: string;
  account: string;
  mailbox: string;
  suppression: string;
  schedule: string;
  webhookEndpoint: string;
  webhookDelivery: string;
};

const json = (body: unknown, auth?: string): RequestInit & { auth?: string } => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
  ...(auth ? { auth } : {}),
});

async function createKey(name: string, keyScopes: Scope[], tenantId?: string): Promise<{ id: string; key: string; tenantId: string }> {
  const response = await api.request(tenantId ? `/v1/tenants/${tenantId}/api-keys` : '/v1/api-keys', json({ name, scopes: keyScopes }));
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string; tenantId: string };
}

/** Fills each path parameter with a resource tenant A owns. */
function tenantAPath(path: string): string {
  const owners: [RegExp, string][] = [
    [/^\/v1\/notifications\/\{id\}/, owned.notification],
    [/^\/v1\/notifications\/retries\/\{id\}/, owned.retryBatch],
    [/^\/v1\/mailings\/\{id\}/, owned.mailing],
    [/^\/v1\/accounts\/\{id\}/, owned.account],
    [/^\/v1\/mailboxes\/\{id\}/, owned.mailbox],
    [/^\/v1\/suppressions\/\{address\}/, owned.suppression],
    [/^\/v1\/schedules\/\{id\}/, owned.schedule],
    [/^\/v1\/webhook-endpoints\/\{id\}/, owned.webhookEndpoint],
    [/^\/v1\/webhook-endpoints\/[^/{]+\/deliveries\/\{deliveryId\}/, owned.webhookDelivery],
  ];
  while (path.includes('{')) {
    const match = owners.find(([pattern]) => pattern.test(path));
    if (!match) throw new Error(`${path}: no tenant fixture for its path parameter; add one here, or list it in sharedResources with why`);
    path = path.replace(/\{[^}]+\}/, match[1]);
  }
  return path;
}

/** A concrete path: tenant A's resource, or an example of a shared one. */
function pathOf(op: Operation): string {
  const shared: Record<string, string> = {
    '/v1/templates/{id}': 'ORDER_SHIPPED_SMS',
    '/v1/templates/{id}/versions': 'ORDER_SHIPPED_SMS',
    '/v1/templates/{id}/preview': 'ORDER_SHIPPED_SMS',
    '/v1/users/{userId}': 'user-1',
    '/v1/api-keys/{id}': 'key_00000000000000000000000000',
  };
  if (!op.path.includes('{')) return op.path;
  // A tenant's own routes name tenant A, so no case here ever disables or changes it (they are refused first).
  return sharedResources[op.path] ? op.path.replace(/\{[^}]+\}/, shared[op.path] ?? tenantA) : tenantAPath(op.path);
}

/** A request the route's validators accept, so that what answers is the route's own check. */
function validRequest(op: Operation, auth: string): RequestInit & { auth: string } {
  const bodies: Record<string, unknown> = {
    linkOutlookMailbox: { callbackUrl: `${api.deps.config.PUBLIC_BASE_URL}/web/accounts.html` },
    // Never reached: every case here is refused before the server is (no key, no scope, another tenant's account).
    linkImapMailbox: { host: 'imap.example.com', username: 'security@example.com', password: 'security-suite' },
    replayWebhookDeliveries: { since: '2026-01-01T00:00:00Z' },
  };
  if (!op.hasBody) return { method: op.method.toUpperCase(), auth };
  return { ...json(bodies[op.operationId] ?? {}), auth, method: op.method.toUpperCase() };
}

/** Sends `total` bytes in chunks (no Content-Length, or a declared one), stopping when the answer comes. */
function sendLarge(
  path: string,
  headers: Record<string, string>,
  total: number,
  declareLength: boolean,
): Promise<{ status: number; sent: number; body: string }> {
  const url = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, ...(declareLength ? { 'content-length': String(total) } : {}) } }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, sent, body });
        req.destroy();
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered && !declareLength) req.end();
    };
    pump();
  });
}

beforeAll(async () => {
  // Outlook configured (never reached: the sign-in case is refused before any exchange with Microsoft).
  api = await startTestApi({
    OUTLOOK_CLIENT_ID: 'security-suite',
    OUTLOOK_CLIENT_SECRET: 'security-suite-secret',
    API_MAX_BODY_BYTES: String(BODY_LIMIT),
    MAILING_MAX_CSV_BYTES: String(UPLOAD_LIMIT),
    ATTACHMENTS_MAX_TOTAL_BYTES: String(UPLOAD_LIMIT),
    ATTACHMENT_MAX_BYTES: String(UPLOAD_LIMIT),
  });
  const doc = (await (await api.request('/openapi.json', { auth: null })).json()) as {
    paths: Record<string, Record<string, { operationId: string; security?: Record<string, string[]>[]; requestBody?: { content: Record<string, unknown> } }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method,
      path,
      operationId: op.operationId,
      secured: Boolean(op.security?.length),
      scope: op.security?.[0]?.bearerAuth?.[0] as Scope | undefined,
      hasBody: Boolean(op.requestBody) || ['post', 'put', 'patch'].includes(method),
      contentTypes: Object.keys(op.requestBody?.content ?? {}),
    })),
  );
  // ALL entries are middleware (app.use), which answers nothing itself (the static pages under /web/ aside).
  routeTable = createApp(api.deps)
    .routes.filter((r) => r.method !== 'ALL')
    .map((r) => ({ method: r.method, path: r.path }));

  const a = await createKey(unique('tenant-a'), ['admin', 'send', 'read']);
  const b = await createKey(unique('tenant-b'), ['admin', 'send', 'read']);
  const revoked = await createKey(unique('revoked'), ['admin', 'send', 'read']);
  expect((await api.request(`/v1/api-keys/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
  const without = {} as Record<Scope, string>;
  for (const scope of scopes)
    without[scope] = (
      await createKey(
        unique(`without-${scope}`),
        scopes.filter((s) => s !== scope),
      )
    ).key;
  tenantA = a.tenantId;
  // A second credential of tenant A: it reaches whatever A's first key makes.
  const a2 = await createKey(unique('tenant-a-second'), ['send', 'read'], a.tenantId);
  expect(a2.tenantId).toBe(a.tenantId);
  Object.assign(keys, { tenantA: a.key, tenantA2: a2.key, tenantB: b.key, revoked: revoked.key, without });

  // Tenant A's resources: one of each kind a path parameter can name.
  const notification = await api.request(
    '/v1/notifications',
    json(
      {
        userId: unique('u'),
        type: 'SMS',
        templateId: 'ORDER_SHIPPED_SMS',
        to: '+15550100',
        templateParams: { orderId: 'A1', trackingUrl: 'https://t.example/1' },
      },
      a.key,
    ),
  );
  expect(notification.status).toBe(202);
  owned.notification = ((await notification.json()) as { id: string }).id;
  // A batch retry of nothing (no such template has failed): its row is what the path names.
  const batch = await api.request('/v1/notifications/retries', json({ templateId: unique('NO_SUCH_TEMPLATE') }, a.key));
  expect(batch.status).toBe(202);
  owned.retryBatch = ((await batch.json()) as { id: string }).id;
  const form = new FormData();
  form.append('file', new Blob(['email\nsecurity@example.com\n'], { type: 'text/csv' }), 'list.csv');
  const mailing = await api.request('/v1/mailings', { method: 'POST', body: form, auth: a.key });
  expect(mailing.status).toBe(202);
  owned.mailing = ((await mailing.json()) as { id: string }).id;
  const account = await api.request('/v1/accounts', json({ email: `${unique('a')}@example.com`, displayName: 'A' }, a.key));
  expect(account.status).toBe(201);
  owned.account = ((await account.json()) as { id: string }).id;
  owned.mailbox = newId('mbx');
  await api.deps.db.insert(mailboxes).values({
    id: owned.mailbox,
    accountId: owned.account,
    owner: a.tenantId,
    provider: 'outlook',
    externalId: unique('ext'),
    address: 'a@contoso.example',
    workflowId: `mailbox-sync-${owned.mailbox}`,
  });
  owned.suppression = `${unique('suppressed')}@example.com`;
  await suppressAddress(api.deps.db, { owner: a.tenantId, address: owned.suppression, reason: 'complained', detail: null, notificationId: null });
  const schedule = await api.request(
    '/v1/schedules',
    json(
      { email: { sender: 'a@example.com', receiver: 'b@example.com', subject: 'S', content: 'C' }, when: { type: 'interval', everySeconds: 86_400 } },
      a.key,
    ),
  );
  expect(schedule.status).toBe(201);
  owned.schedule = ((await schedule.json()) as { id: string }).id;
  // Made here rather than through the API, whose check of the URL would look the host up.
  const { endpoint } = await createEndpoint(api.deps, a.tenantId, { url: 'https://hooks.example.com/mailflow', eventTypes: ['message.created'] });
  owned.webhookEndpoint = endpoint.id;
  owned.webhookDelivery = String((await queueTestEvent(api.deps.db, a.tenantId, endpoint.id)).id);
}, 60_000);
afterAll(async () => {
  // Nothing polls this run's queues: end the fixtures' workflows rather than leave them open on the server.
  for (const workflowId of [notificationWorkflowId(owned.notification), mailingWorkflowId(owned.mailing), retryBatchWorkflowId(owned.retryBatch)]) {
    await api?.deps.temporal.workflow
      .getHandle(workflowId)
      .terminate('security suite done')
      .catch(() => undefined);
  }
  if (owned.schedule)
    await api?.deps.temporal.schedule
      .getHandle(temporalScheduleId(owned.schedule))
      .delete()
      .catch(() => undefined);
  await api?.close();
});

describe('the route table', () => {
  it('has every route in the OpenAPI document, or listed as public', () => {
    const documented = new Set(operations.map((o) => `${o.method.toUpperCase()} ${o.path.replaceAll(/\{([^}]+)\}/g, ':$1')}`));
    const unknown = routeTable.map((r) => `${r.method} ${r.path}`).filter((r) => !documented.has(r) && !publicUndocumented.has(r));
    expect(unknown).toEqual([]);
    for (const route of [...publicUndocumented, 'GET /web/x']) expect(isPublicPath(route.split(' ')[1]!)).toBe(true);
  });

  it('secures every operation with exactly one scope, except the listed public ones', () => {
    expect(operations.length).toBeGreaterThan(30);
    // Clients generated from the document name each call by it.
    expect(operations.filter((o) => !o.operationId).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    for (const op of operations) {
      const name = `${op.method.toUpperCase()} ${op.path}`;
      if (!op.secured) {
        expect(publicOperations[name], `${name} declares no security: use requires(scope), or list it as public with how it is verified`).toBeDefined();
        expect(isPublicPath(op.path), `${name} is public in the document but not in api/public-paths.ts`).toBe(true);
        continue;
      }
      expect(publicOperations[name], `${name} is listed public but declares security`).toBeUndefined();
      expect(scopes, `${name} declares no scope: use requires(scope)`).toContain(op.scope);
      // The auth middleware skips public paths: a secured route there would never be checked.
      expect(isPublicPath(op.path.replaceAll(/\{[^}]+\}/g, 'x')), `${name} is secured but matches a public path pattern`).toBe(false);
    }
  });
});

describe('every secured route', () => {
  it('refuses a request without a key, or with a revoked or unknown one (401)', async () => {
    for (const op of operations.filter((o) => o.secured)) {
      for (const auth of [null, keys.revoked, 'mf_not-a-key-at-all-0123456789abcdefghij']) {
        const response = await api.request(op.path.replaceAll(/\{[^}]+\}/g, 'x'), { ...validRequest(op, ''), auth });
        expect(response.status, `${op.method} ${op.path} with ${auth === null ? 'no key' : 'a bad key'}`).toBe(401);
        expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
      }
    }
  });

  it('refuses a key that has every scope but the one the route needs (403)', async () => {
    for (const op of operations.filter((o) => o.secured)) {
      const response = await api.request(pathOf(op), validRequest(op, keys.without[op.scope!]));
      expect(response.status, `${op.method} ${op.path} without ${op.scope}`).toBe(403);
      expect(((await response.json()) as { detail: string }).detail).toContain(`"${op.scope}"`);
    }
  });

  it("answers 404 to another tenant's id, and changes nothing", async () => {
    for (const op of operations.filter((o) => o.secured && o.path.includes('{'))) {
      if (sharedResources[op.path]) continue;
      const path = tenantAPath(op.path);
      const response = await api.request(path, validRequest(op, keys.tenantB));
      expect(response.status, `${op.method} ${op.path} as another tenant`).toBe(404);
    }
    // The owner still sees each one (so the 404s above were not for ids that do not exist).
    for (const op of operations.filter((o) => o.secured && o.method === 'get' && o.path.includes('{') && !sharedResources[o.path] && !isStream(o))) {
      expect((await api.request(tenantAPath(op.path), { auth: keys.tenantA })).status, `${op.path} as its owner`).toBe(200);
    }
    const notification = (await (await api.request(`/v1/notifications/${owned.notification}`, { auth: keys.tenantA })).json()) as { status: string };
    expect(notification.status).not.toBe('FAILED');
    expect(notification.status).not.toBe('CANCELLED');
    const mailing = (await (await api.request(`/v1/mailings/${owned.mailing}`, { auth: keys.tenantA })).json()) as { status: string };
    expect(mailing.status).not.toBe('CANCELLED');
  });

  it('lets a second key of the same tenant reach everything the first one made, before and after the first is revoked', async () => {
    const gets = operations.filter((o) => o.secured && o.method === 'get' && o.path.includes('{') && !sharedResources[o.path] && !isStream(o));
    expect(gets.length).toBeGreaterThan(5);
    const first = await createKey(unique('tenant-a-third'), ['send', 'read'], tenantA);
    const account = await api.request('/v1/accounts', json({ email: `${unique('second')}@example.com` }, first.key));
    expect(account.status).toBe(201);
    const accountId = ((await account.json()) as { id: string }).id;
    expect((await api.request(`/v1/api-keys/${first.id}`, { method: 'DELETE' })).status).toBe(204);
    for (const op of gets)
      expect((await api.request(tenantAPath(op.path), { auth: keys.tenantA2 })).status, `${op.path} with a second key of the tenant`).toBe(200);
    expect((await api.request(`/v1/accounts/${accountId}`, { auth: keys.tenantA2 })).status).toBe(200);
    expect((await api.request(`/v1/accounts/${accountId}`, { auth: first.key })).status).toBe(401);
    for (const op of operations.filter((o) => o.secured && o.method === 'get' && !o.path.includes('{') && o.scope === 'read' && !isStream(o))) {
      expect((await api.request(op.path, { auth: keys.tenantA2 })).status, `GET ${op.path} with a second key`).toBe(200);
    }
    expect(await (await api.request('/v1/notifications', { auth: keys.tenantA2 })).text()).toContain(owned.notification);
  });

  it("closes a revoked key's open event streams within seconds, and refuses its pending sign-ins", async () => {
    const doomed = await createKey(unique('doomed'), ['send', 'read'], tenantA);
    const opened = await openSse(`${api.url}/v1/accounts/${owned.account}/events`, { authorization: `Bearer ${doomed.key}` });
    expect(opened.status).toBe(200);
    await opened.stream.next((e) => e.event === 'hello');
    const sibling = await openSse(`${api.url}/v1/accounts/${owned.account}/events`, { authorization: `Bearer ${keys.tenantA2}` });
    await sibling.stream.next((e) => e.event === 'hello');
    const started = await api.request(`/v1/accounts/${owned.account}/mailboxes/outlook`, {
      ...json({ callbackUrl: `${api.deps.config.PUBLIC_BASE_URL}/web/accounts.html` }),
      auth: doomed.key,
    });
    expect(started.status).toBe(201);
    const state = new URL(((await started.json()) as { authorizationUrl: string }).authorizationUrl).searchParams.get('state')!;

    expect((await api.request(`/v1/api-keys/${doomed.id}`, { method: 'DELETE' })).status).toBe(204);
    const closed = await Promise.race([opened.stream.ended.then(() => true), sleep(20_000).then(() => false)]);
    expect(closed, "the revoked key's stream was still open 20 s after the revocation").toBe(true);
    expect(opened.stream.received.map((e) => e.event)).toContain('revoked');
    // The tenant's other key streams on.
    const stillOpen = await Promise.race([sibling.stream.ended.then(() => false), sleep(3 * ACCESS_CHECK_MS).then(() => true)]);
    expect(stillOpen).toBe(true);
    sibling.stream.close();

    const callback = await api.request(`/v1/oauth/outlook/callback?state=${encodeURIComponent(state)}&code=any-code`, { auth: null, redirect: 'manual' });
    expect(callback.status).toBe(403);
    expect(await callback.text()).toContain('revoked');
  });

  it("never lists another tenant's resources", async () => {
    // A delivery is named by its number, which any page may contain: its endpoint's id stands for it.
    const ids = Object.values(owned).filter((id) => id !== owned.webhookDelivery);
    // Event streams never end: a stream's tenancy is tested where it is (notifications-console.test.ts).
    for (const op of operations.filter((o) => o.secured && o.method === 'get' && !o.path.includes('{') && !isStream(o))) {
      const response = await api.request(op.path, { auth: keys.tenantB });
      expect(response.status, `GET ${op.path} as another tenant`).toBe(200);
      const text = await response.text();
      for (const id of ids) expect(text, `GET ${op.path} shows tenant A's ${id}`).not.toContain(id);
    }
    const own = await (await api.request('/v1/notifications', { auth: keys.tenantA })).text();
    expect(own).toContain(owned.notification);
  });
});

describe('every public route', () => {
  it('checks what stands in for a key', async () => {
    const checks: Record<string, () => Promise<Response>> = {
      'GET /health': () => api.request('/health', { auth: null }),
      'GET /ready': () => api.request('/ready', { auth: null }),
      'POST /v1/webhooks/mailgun': () =>
        api.request('/v1/webhooks/mailgun', {
          ...json({
            signature: { timestamp: String(Math.floor(Date.now() / 1000)), token: 'forged', signature: 'a'.repeat(64) },
            'event-data': { id: 'e1', event: 'delivered', timestamp: Date.now() / 1000 },
          }),
          auth: null,
        }),
      'POST /v1/webhooks/graph': () =>
        api.request('/v1/webhooks/graph', { ...json({ value: [{ subscriptionId: 'forged', clientState: 'guess' }] }), auth: null }),
      'GET /v1/oauth/outlook/callback': () => api.request('/v1/oauth/outlook/callback?state=forged&code=forged', { auth: null }),
      'POST /v1/verify': () => api.request('/v1/verify', { ...json({ token: 'forged-token-0123456789' }), auth: null }),
    };
    const expected: Record<string, number[]> = {
      'GET /health': [200],
      'GET /ready': [200, 503],
      'POST /v1/webhooks/mailgun': [401],
      'POST /v1/webhooks/graph': [403],
      'GET /v1/oauth/outlook/callback': [400, 503],
      'POST /v1/verify': [404],
    };
    expect(Object.keys(checks).sort()).toEqual(Object.keys(publicOperations).sort());
    for (const [name, check] of Object.entries(checks)) expect(expected[name], name).toContain((await check()).status);
  });
});

describe('every request body', () => {
  const total = 8 * 1024 * 1024;
  const bodyOperations = () => operations.filter((o) => o.hasBody);
  const target = (op: Operation) => {
    const path = pathOf(op);
    const multipart = op.contentTypes.includes('multipart/form-data') || ['sendEmail', 'createMailing'].includes(op.operationId);
    const headers: Record<string, string> = {
      'content-type': multipart ? 'multipart/form-data; boundary=x' : 'application/json',
      ...(op.secured ? { authorization: `Bearer ${TEST_ADMIN_KEY}` } : {}),
    };
    return { path, headers };
  };

  it('over its limit is refused (413) from its Content-Length, before the body is sent', async () => {
    expect(bodyOperations().length).toBeGreaterThan(10);
    for (const op of bodyOperations()) {
      const { path, headers } = target(op);
      const result = await sendLarge(path, headers, total, true);
      expect(result.status, `${op.method} ${path}: ${result.body}`).toBe(413);
      expect(result.sent, `${op.method} ${path} waited for the whole body`).toBeLessThan(total);
    }
  });

  it('over its limit is refused (413) while it streams in, before it is read whole', async () => {
    for (const op of bodyOperations()) {
      const { path, headers } = target(op);
      const result = await sendLarge(path, headers, total, false);
      expect(result.status, `${op.method} ${path}: ${result.body}`).toBe(413);
      expect(result.sent, `${op.method} ${path} read the whole body`).toBeLessThan(total);
    }
  });

  it('within its limit is read as before', async () => {
    const response = await api.request('/v1/verify', { ...json({ token: 'x'.repeat(64) }), auth: null });
    expect(response.status).toBe(404);
  });
});
