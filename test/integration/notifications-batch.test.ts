// POST /v1/notifications/batch over real HTTP, PostgreSQL and Temporal: the envelope's limits, partial
// success in item order, per-item idempotency (within a batch, across a single request and a batch, a
// repeated batch, two identical batches racing), rate limits counted item by item, tenancy, and accepted
// items' workflows running to SENT through the channel workers and the SMS simulator.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { testConfig, unique } from '../helpers/config.js';
import { notificationClient, smsNotification as sms } from '../helpers/notifications.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { advisoryLockWaiters, holdingAdvisoryLock } from '../helpers/locks.js';
import { until } from '../helpers/wait.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';

let api: TestApi;
/** An API whose task queues no worker polls: the 1,000-item batch is stored and started, never sent. */
let quiet: TestApi;
let sims: ProviderSimulators;
let workers: RunningWorkers;
const env: Record<string, string> = { TASK_QUEUE_PREFIX: `${unique('batch')}-` };
const quietWorkflows: string[] = [];

beforeAll(async () => {
  api = await startTestApi(env);
  quiet = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('batch-quiet')}-` });
  sims = await startProviderSimulators({});
  Object.assign(env, sims.env);
  workers = await startRoleWorkers(testConfig(env), ['delivery', 'sms']);
}, 90_000);
afterAll(async () => {
  // Nothing polls the quiet API's queues: end those runs rather than leave them open on the server.
  for (let i = 0; i < quietWorkflows.length; i += 50)
    await Promise.all(
      quietWorkflows.slice(i, i + 50).map((id) =>
        quiet.deps.temporal.workflow
          .getHandle(id)
          .terminate('batch test done')
          .catch(() => undefined),
      ),
    );
  await workers?.stop();
  await sims?.close();
  await quiet?.close();
  await api?.close();
});

const { post, waitFor } = notificationClient(() => api);

interface Result {
  index: number;
  outcome: 'accepted' | 'duplicate' | 'refused';
  id?: string;
  status?: string;
  workflowId?: string;
  deadlineAt?: string;
  duplicateOf?: number;
  reason?: string;
  detail?: string;
  errors?: { path: string; message: string }[];
  retryAfterSeconds?: number;
  limit?: { limit: number; windowSeconds: number };
  notificationId?: string;
}
interface Answer {
  accepted: number;
  duplicates: number;
  refused: number;
  results: Result[];
}

async function batch(items: unknown[], target: Pick<TestApi, 'request'> = api, auth?: string): Promise<Answer> {
  const response = await target.request('/v1/notifications/batch', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items }),
    ...(auth ? { auth } : {}),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Answer;
}

async function storedIds(correlationId: string): Promise<string[]> {
  const rows = await api.deps.db.execute<{ id: string }>(sql`select id from notifications where correlation_id = ${correlationId} order by id`);
  return rows.map((r) => r.id);
}

describe('the envelope', () => {
  it('needs a key with the send scope', async () => {
    const response = await api.request('/v1/notifications/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [sms('u')] }),
      auth: null,
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses a malformed envelope as a whole, with a problem naming why', async () => {
    const cases: [string, string][] = [
      ['[]', '(root)'],
      ['"items"', '(root)'],
      ['{}', 'items'],
      ['{"items": {}}', 'items'],
      ['{"items": []}', 'items'],
      ['{"items": ["not an object"]}', 'items.0'],
      [JSON.stringify({ items: [sms('u')], extra: true }), '(root)'],
      [JSON.stringify({ items: Array.from({ length: 1_001 }, () => ({})) }), 'items'],
    ];
    for (const [body, path] of cases) {
      const response = await api.request('/v1/notifications/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status, body.slice(0, 60)).toBe(400);
      const problem = (await response.json()) as { type: string; detail: string; errors: { path: string }[] };
      expect(problem.type).toBe('urn:mailflow:problem:validation');
      expect(
        problem.errors.map((e) => e.path),
        body.slice(0, 60),
      ).toContain(path);
    }
    const tooMany = await api.request('/v1/notifications/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: Array.from({ length: 1_001 }, (_, i) => sms(`u${i}`)) }),
    });
    expect(((await tooMany.json()) as { detail: string }).detail).toMatch(/items.*1000/);
  });

  it('takes 1,000 items in one call, each stored and started', async () => {
    const correlationId = unique('thousand');
    const items = Array.from({ length: 1_000 }, (_, i) => sms(`${correlationId}-u${i}`, { correlationId, priority: i % 10 === 0 ? 'HIGH' : 'LOW' }));
    const answer = await batch(items, quiet);
    expect(answer).toMatchObject({ accepted: 1_000, duplicates: 0, refused: 0 });
    expect(answer.results.map((r) => r.index)).toEqual(items.map((_, i) => i));
    const ids = answer.results.map((r) => r.id!);
    quietWorkflows.push(...answer.results.map((r) => r.workflowId!));
    expect(new Set(ids).size).toBe(1_000);
    expect(await storedIds(correlationId)).toEqual([...ids].sort());
    // Every start goes through the outbox: once each is confirmed, none is left.
    await until(
      'the 1,000 workflow starts are confirmed',
      async () => {
        const [row] = await api.deps.db.execute<{ n: number }>(
          sql`select count(*)::int as n from notification_starts where notification_id in (select id from notifications where correlation_id = ${correlationId})`,
        );
        return row!.n === 0;
      },
      120_000,
      250,
    );
    const described = await quiet.deps.temporal.workflow.getHandle(answer.results[999]!.workflowId!).describe();
    expect(described.status.name).toBe('RUNNING');
  }, 180_000);
});

describe('partial success', () => {
  it('answers each item in order, stores only the accepted ones, and their workflows send them', async () => {
    const correlationId = unique('mixed');
    const limited = unique('limited');
    const withoutPhone = unique('no-phone');
    expect(
      (
        await api.request(`/v1/users/${withoutPhone}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'nophone@example.com' }),
        })
      ).status,
    ).toBe(200);
    const c = { correlationId };
    const items = [
      sms(unique('ok'), c), // 0 accepted
      sms(unique('bad'), { ...c, type: 'FAX' }), // 1 validation
      sms(unique('tpl'), { ...c, templateId: 'NO_SUCH_TEMPLATE' }), // 2 unknown template
      { ...sms(unique('ghost'), c), to: undefined }, // 3 unknown user
      { ...sms(withoutPhone, c), to: undefined }, // 4 no phone number
      sms(unique('params'), { ...c, templateParams: { orderId: 'A1' } }), // 5 missing parameter
      ...Array.from({ length: 6 }, () => sms(limited, c)), // 6-10 accepted, 11 over the 5 per minute
      sms(unique('ok'), { ...c, priority: 'HIGH' }), // 12 accepted
    ];
    const answer = await batch(items);
    expect(answer.results.map((r) => r.index)).toEqual(items.map((_, i) => i));
    expect(answer.results.map((r) => (r.outcome === 'refused' ? r.reason : r.outcome))).toEqual([
      'accepted',
      'validation',
      'unknown_template',
      'unknown_user',
      'no_contact',
      'validation',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'rate_limited',
      'accepted',
    ]);
    expect(answer).toMatchObject({ accepted: 7, duplicates: 0, refused: 6 });
    const [, invalid, template, ghost, noPhone, params] = answer.results;
    expect(invalid!.errors!.map((e) => e.path)).toContain('type');
    expect(template!.detail).toContain('NO_SUCH_TEMPLATE');
    expect(ghost!.detail).toContain('no user');
    expect(noPhone!.detail).toContain('phone number');
    expect(params!.errors!.map((e) => e.path)).toEqual(['templateParams.trackingUrl']);
    expect(params!.errors![0]!.message).toContain('missing');
    const overLimit = answer.results[11]!;
    expect(overLimit.limit).toMatchObject({ limit: 5, windowSeconds: 60 });
    expect(overLimit.retryAfterSeconds).toBeGreaterThan(0);
    expect(overLimit.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(overLimit.detail).toContain('per user');

    const accepted = answer.results.filter((r) => r.outcome === 'accepted');
    expect(await storedIds(correlationId)).toEqual(accepted.map((r) => r.id!).sort());
    expect(accepted.every((r) => r.status === 'PENDING' && r.workflowId === `notification-${r.id}`)).toBe(true);
    expect(Date.parse(answer.results[12]!.deadlineAt!) - Date.parse(answer.results[0]!.deadlineAt!)).toBe(15_000 - 15 * 60_000);
    for (const r of accepted) {
      const sent = await waitFor(r.id!, ['SENT', 'DELIVERED'], 60_000);
      expect(sent.history.map((h) => h.to)).toEqual(expect.arrayContaining(['PENDING', 'SENT']));
    }
    // The limit counts batches and single requests alike: the user's next single request is refused too.
    expect((await post('/v1/notifications', sms(limited))).status).toBe(429);
  }, 120_000);
});

describe('idempotency per item', () => {
  it('answers a repeated key within one batch with the first item, and refuses it with a different body', async () => {
    const key = unique('in-batch');
    const user = unique('user');
    const answer = await batch([
      { idempotencyKey: key, ...sms(user) },
      { ...sms(user), idempotencyKey: key },
      { idempotencyKey: key, ...sms(user, { templateParams: { orderId: 'B2', trackingUrl: 'https://t.example/2' } }) },
      { idempotencyKey: 'has space', ...sms(user) },
    ]);
    const [first, repeat, different, badKey] = answer.results;
    expect(first).toMatchObject({ outcome: 'accepted' });
    expect(repeat).toMatchObject({ outcome: 'duplicate', duplicateOf: 0, id: first!.id, workflowId: first!.workflowId });
    expect(different).toMatchObject({ outcome: 'refused', reason: 'idempotency_conflict', notificationId: first!.id });
    expect(badKey).toMatchObject({ outcome: 'refused', reason: 'validation' });
    expect(badKey!.errors!.map((e) => e.path)).toEqual(['idempotencyKey']);
  });

  it('treats a batch item and a single request with the same key as one notification, either way round', async () => {
    const singleFirst = unique('single-first');
    const body = sms(unique('user'));
    const single = await post('/v1/notifications', body, { 'Idempotency-Key': singleFirst });
    expect(single.status).toBe(202);
    const singleId = ((await single.json()) as { id: string }).id;
    const batchFirst = unique('batch-first');
    const answer = await batch([
      { ...body, idempotencyKey: singleFirst },
      { ...body, idempotencyKey: batchFirst },
    ]);
    expect(answer.results[0]).toMatchObject({ outcome: 'duplicate', id: singleId });
    expect(answer.results[0]!.duplicateOf).toBeUndefined();
    expect(answer.results[1]).toMatchObject({ outcome: 'accepted' });
    const after = await post('/v1/notifications', body, { 'Idempotency-Key': batchFirst });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { id: string }).id).toBe(answer.results[1]!.id);
  });

  it('answers a repeated batch with every item a duplicate of the same id, without counting against the limits', async () => {
    const correlationId = unique('repeat');
    const user = unique('user');
    // Five for one user: the whole per-minute limit, so a repeat that counted would be refused.
    const items = Array.from({ length: 5 }, (_, i) => ({ ...sms(user, { correlationId }), idempotencyKey: `${correlationId}-${i}` }));
    const first = await batch(items);
    expect(first).toMatchObject({ accepted: 5, duplicates: 0, refused: 0 });
    const again = await batch(items);
    expect(again).toMatchObject({ accepted: 0, duplicates: 5, refused: 0 });
    expect(again.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    expect(await storedIds(correlationId)).toHaveLength(5);
  });

  it('creates each item of two identical batches racing exactly once, and names the same ids in both answers', async () => {
    const correlationId = unique('race');
    const keys = Array.from({ length: 20 }, (_, i) => `${correlationId}-${String(i).padStart(2, '0')}`);
    const items = keys.map((idempotencyKey, i) => ({ ...sms(`${correlationId}-u${i % 4}`, { correlationId, priority: 'LOW' }), idempotencyKey }));
    // The test holds the lock that sorts first among the batch's keys (its smallest idempotency key): both
    // batches are in their transactions, waiting on it, before either can read or write anything.
    const lockKey = `idempotency:admin:${keys[0]}`;
    const { answers } = await holdingAdvisoryLock(lockKey, async () => {
      const answers = Promise.all([batch(items), batch(items)]);
      await until('both batches wait on the lock', async () => (await advisoryLockWaiters(api.deps.db, lockKey)) === 2, 30_000);
      return { answers }; // not awaited here: letting the lock go lets them on
    });
    const [a, b] = await answers;
    expect(a.results.map((r) => r.id)).toEqual(b.results.map((r) => r.id));
    expect([a.accepted, b.accepted].sort()).toEqual([0, 20]);
    expect([a.duplicates, b.duplicates].sort()).toEqual([0, 20]);
    expect(await storedIds(correlationId)).toEqual(a.results.map((r) => r.id!).sort());
    for (const r of a.results) await waitFor(r.id!, ['SENT', 'DELIVERED'], 60_000);
  }, 120_000);
});

describe('tenancy', () => {
  it("keeps a tenant's batch to itself", async () => {
    const keyFor = async (name: string) => {
      const response = await api.request('/v1/api-keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: unique(name), scopes: ['send', 'read'] }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { key: string }).key;
    };
    const [a, b] = [await keyFor('tenant-a'), await keyFor('tenant-b')];
    const key = unique('tenant-key');
    const user = unique('user');
    const mine = await batch([{ ...sms(user), idempotencyKey: key }], api, a);
    const id = mine.results[0]!.id!;
    expect((await api.request(`/v1/notifications/${id}`, { auth: a })).status).toBe(200);
    expect((await api.request(`/v1/notifications/${id}`, { auth: b })).status).toBe(404);
    expect(await (await api.request(`/v1/notifications?userId=${user}`, { auth: b })).text()).not.toContain(id);
    // Idempotency keys are per tenant: the same key from another tenant is a notification of its own.
    const theirs = await batch([{ ...sms(user), idempotencyKey: key }], api, b);
    expect(theirs.results[0]).toMatchObject({ outcome: 'accepted' });
    expect(theirs.results[0]!.id).not.toBe(id);
  });
});
