// Admission over real HTTP: validation and auth, idempotency (same body, different body, concurrent
// duplicates), both rate limits exact under concurrency across two API processes (this one and a child
// process running api/server.ts), listing and paging. No worker polls these queues: nothing is sent.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startTestApi, type TestApi } from '../helpers/api.js';
import { testEnv, unique } from '../helpers/config.js';
import { smsNotification as smsRequest } from '../helpers/notifications.js';

let api: TestApi;
/** The second API process: same database and Temporal, its own OS process. */
let api2: { request: TestApi['request'] };
let child: ChildProcess | undefined;
let api2Url = '';
const env = { TASK_QUEUE_PREFIX: `${unique('adm')}-` };

beforeAll(async () => {
  api = await startTestApi(env);
  const port = 25_000 + Math.floor(Math.random() * 5_000);
  child = spawn(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, ...testEnv({ ...env, API_PORT: String(port) }) },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the second API process did not start');
    await sleep(200);
  }
  api2 = apiClient(url);
  api2Url = url;
}, 90_000);
afterAll(async () => {
  child?.kill('SIGTERM');
  await api?.close();
});

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('POST /v1/notifications', () => {
  it('needs an API key', async () => {
    const response = await api.request('/v1/notifications', { ...json(smsRequest('u')), auth: null });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers 202 at once with a PENDING notification and its workflow id', async () => {
    const response = await api.request('/v1/notifications', json(smsRequest(unique('user'), { priority: 'HIGH', correlationId: 'order-A1' })));
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; status: string; workflowId: string; deadlineAt: string };
    expect(body.status).toBe('PENDING');
    expect(body.workflowId).toBe(`notification-${body.id}`);
    const got = (await (await api.request(`/v1/notifications/${body.id}`)).json()) as Record<string, unknown>;
    expect(got).toMatchObject({
      id: body.id,
      status: 'PENDING',
      priority: 'critical',
      type: 'SMS',
      correlationId: 'order-A1',
      attempts: 0,
      recipient: '+15550100',
    });
    expect(Date.parse(got.deadlineAt as string) - Date.parse(got.createdAt as string)).toBe(15_000);
    expect(got.history).toEqual([expect.objectContaining({ from: null, to: 'PENDING', reason: 'accepted' })]);
    // The workflow starts just after the answer (admission commits first, then starts it).
    const handle = api.deps.temporal.workflow.getHandle(body.workflowId);
    let started = await handle.describe().catch(() => undefined);
    for (let i = 0; !started && i < 50; i++) started = await sleep(100).then(() => handle.describe().catch(() => undefined));
    expect(started?.searchAttributes).toMatchObject({ NotificationChannel: ['SMS'], NotificationPriority: ['critical'], CorrelationId: ['order-A1'] });
  });

  it('refuses bad input with a problem naming the field', async () => {
    const cases: [unknown, string][] = [
      [smsRequest('u', { type: 'FAX' }), 'type'],
      [smsRequest('u', { priority: 'URGENT' }), 'priority'],
      [smsRequest('bad user id!'), 'userId'],
      [{ ...smsRequest('u'), templateId: undefined }, 'templateId'],
      [smsRequest('u', { templateParams: { orderId: { nested: true } } }), 'templateParams'],
      [smsRequest('u', { surprise: 1 }), '(root)'],
    ];
    for (const [body, path] of cases) {
      const response = await api.request('/v1/notifications', json(body));
      expect(response.status, JSON.stringify(body)).toBe(400);
      const problem = (await response.json()) as { errors: { path: string }[] };
      expect(problem.errors.map((e) => e.path).join(' ')).toContain(path);
    }
  });

  it('names missing and unknown template parameters', async () => {
    const response = await api.request('/v1/notifications', json(smsRequest(unique('user'), { templateParams: { orderId: 'A1', colour: 'red' } })));
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { detail: string; errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['templateParams.trackingUrl', 'templateParams.colour']));
  });

  it('refuses an unknown template and a user without a contact point with 422', async () => {
    expect((await api.request('/v1/notifications', json(smsRequest(unique('user'), { templateId: 'NO_SUCH_TEMPLATE' })))).status).toBe(422);
    const { to: _to, ...withoutTo } = smsRequest(unique('nobody'));
    const response = await api.request('/v1/notifications', json(withoutTo));
    expect(response.status).toBe(422);
    expect(((await response.json()) as { detail: string }).detail).toContain('phone number');
  });
});

describe('idempotency', () => {
  it('returns the same notification for the same key and body, and 422 for a different body', async () => {
    const key = unique('idem');
    const body = smsRequest(unique('user'));
    const first = await api.request('/v1/notifications', json(body, { 'Idempotency-Key': key }));
    expect(first.status).toBe(202);
    const again = await api2.request('/v1/notifications', json({ ...body }, { 'Idempotency-Key': key }));
    expect(again.status).toBe(200);
    const [a, b] = (await Promise.all([first.json(), again.json()])) as { id: string; duplicate: boolean }[];
    expect(b!.id).toBe(a!.id);
    expect(b!.duplicate).toBe(true);
    const different = await api.request(
      '/v1/notifications',
      json({ ...body, templateParams: { orderId: 'B2', trackingUrl: 'https://t.example/2' } }, { 'Idempotency-Key': key }),
    );
    expect(different.status).toBe(422);
    expect(((await different.json()) as { notificationId: string }).notificationId).toBe(a!.id);
  });

  it('collapses concurrent duplicates into one notification and one workflow', async () => {
    const key = unique('idem-race');
    const body = smsRequest(unique('user'));
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? api : api2).request('/v1/notifications', json(body, { 'Idempotency-Key': key }))),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    const list = (await (await api.request(`/v1/notifications?userId=${body.userId}`)).json()) as { data: unknown[] };
    expect(list.data).toHaveLength(1);
  });
});

describe('rate limits', () => {
  it('admits exactly 5 of 50 simultaneous requests for one user across two API processes', async () => {
    const userId = unique('flood');
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? api : api2).request('/v1/notifications', json(smsRequest(userId)))));
    const accepted = responses.filter((r) => r.status === 202);
    const limited = responses.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(5);
    expect(limited).toHaveLength(45);
    const retryAfter = Number(limited[0]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const problem = (await limited[0]!.json()) as { type: string; detail: string; limit: { limit: number; windowSeconds: number } };
    expect(problem.type).toBe('urn:mailflow:problem:rate_limited');
    expect(problem.detail).toContain('per user');
    expect(problem.limit).toMatchObject({ limit: 5, windowSeconds: 60 });
  });

  it('admits exactly 2 PASSWORD_RESET per user per 5 minutes under concurrency', async () => {
    const userId = unique('reset');
    const body = {
      userId,
      type: 'EMAIL',
      templateId: 'PASSWORD_RESET',
      to: 'reset@example.com',
      templateParams: { name: 'Ada', resetUrl: 'https://x.example/r' },
    };
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? api : api2).request('/v1/notifications', json(body))));
    expect(responses.filter((r) => r.status === 202)).toHaveLength(2);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(8);
    const problem = (await limited[0]!.json()) as { detail: string };
    expect(problem.detail).toContain('PASSWORD_RESET');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(60);
  });
});

describe('GET /v1/notifications', () => {
  it('filters by user, correlation id, priority and type, and pages with a cursor', async () => {
    const userId = unique('lister');
    const correlationId = unique('corr');
    for (const priority of ['LOW', 'MEDIUM', 'HIGH', 'LOW']) {
      expect((await api.request('/v1/notifications', json(smsRequest(userId, { priority, correlationId })))).status).toBe(202);
    }
    const low = (await (await api.request(`/v1/notifications?userId=${userId}&priority=LOW`)).json()) as { data: { priority: string }[] };
    expect(low.data.map((n) => n.priority)).toEqual(['low', 'low']);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await api.request(`/v1/notifications?correlationId=${correlationId}&limit=3${cursor ? `&cursor=${cursor}` : ''}`)).json()) as {
        data: { id: string }[];
        nextCursor: string | null;
      };
      seen.push(...page.data.map((n) => n.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    expect((await api.request('/v1/notifications?cursor=garbage')).status).toBe(400);
    expect((await api.request('/v1/notifications?status=LOST')).status).toBe(400);
    expect((await api.request('/v1/notifications/ntf_nope')).status).toBe(404);
  });

  it('refuses to retry a notification that is not dead-lettered', async () => {
    const created = (await (await api.request('/v1/notifications', json(smsRequest(unique('user'))))).json()) as { id: string };
    expect((await api.request(`/v1/notifications/${created.id}/retry`, { method: 'POST' })).status).toBe(409);
    expect((await api.request('/v1/notifications/ntf_nope/retry', { method: 'POST' })).status).toBe(404);
  });
});

describe('the API process (api/server.ts)', () => {
  it('keeps an idle keep-alive connection open past 5 s, so the client, not the server, closes it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
        const request = http.get(`${api2Url}/health`, { agent }, (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode!, socket: request.socket! }));
        });
        request.on('error', reject);
      });
    try {
      const first = await get();
      await sleep(7_000); // well past Node's default keepAliveTimeout (5 s), after which the server would close it
      const second = await get();
      expect(second.status).toBe(200);
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  }, 20_000);
});
