// Single MEDIUM and LOW requests admitted in groups (lib/notifications/grouped-admission.ts), over real HTTP
// and PostgreSQL. The test holds the rate-limit lock of the first two requests' user, so both groups the
// API may store at once wait inside their transactions; the requests sent meanwhile gather, one by one, and
// go together in the next group once the lock is let go. Each is answered as it would be alone: the first
// of a key accepted and its repeat a duplicate, a different body with that key refused, a user's sixth
// request refused by the per-user limit; and a CRITICAL request is admitted alone while the groups wait.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { notificationClient, smsNotification } from '../helpers/notifications.js';
import { advisoryLockWaiters, holdingAdvisoryLock } from '../helpers/locks.js';
import { until } from '../helpers/wait.js';

/** An API whose task queues no worker polls: what it admits is stored and started, never sent. */
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('grouped')}-` });
}, 90_000);
afterAll(async () => {
  const rows = await api.deps.db.execute<{ workflow_id: string }>(sql`select workflow_id from notifications where correlation_id like 'grouped-%'`);
  await Promise.all(
    rows.map((r) =>
      api.deps.temporal.workflow
        .getHandle(r.workflow_id)
        .terminate('grouped admission test done')
        .catch(() => undefined),
    ),
  );
  await api?.close();
});

const { post } = notificationClient(() => api);

const sms = (userId: string, correlationId: string, extra: Record<string, unknown> = {}) => smsNotification(userId, { correlationId, ...extra });

/** How many groups of 6 to 10 requests this process has stored. */
async function groupsOf6To10(): Promise<number> {
  const metrics = await (await api.request('/metrics')).text();
  const bucket = (le: string) => Number(new RegExp(`^mailflow_notification_admission_group_size_bucket\\{le="${le}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
  return bucket('10') - bucket('5');
}

it('admits requests that arrive while groups are stored together in the next group, each answered as alone', async () => {
  const correlationId = unique('grouped');
  const held = unique('held');
  const lockKey = `user:${held}`;
  const groupsBefore = await groupsOf6To10();
  const key = unique('key');
  const limited = unique('limited');
  const { answers, critical } = await holdingAdvisoryLock(lockKey, async () => {
    const first = [post('/v1/notifications', sms(held, correlationId)), post('/v1/notifications', sms(held, correlationId, { priority: 'LOW' }))];
    await until('both groups in flight to wait on the lock', async () => (await advisoryLockWaiters(api.deps.db, lockKey)) === 2, 30_000);

    // Sent one at a time, each gathered before the next leaves: the group keeps their order.
    const gathered: Promise<Response>[] = [];
    const gather = async (body: unknown, headers: Record<string, string> = {}) => {
      gathered.push(post('/v1/notifications', body, headers));
      await until(`request ${gathered.length} to be gathered`, () => Promise.resolve(api.deps.groupedAdmission.waiting === gathered.length), 30_000);
    };
    const other = unique('other');
    await gather(sms(other, correlationId), { 'Idempotency-Key': key });
    await gather(sms(other, correlationId), { 'Idempotency-Key': key });
    await gather(sms(other, correlationId, { templateParams: { orderId: 'B2', trackingUrl: 'https://t.example/2' } }), { 'Idempotency-Key': key });
    for (let i = 0; i < 6; i++) await gather(sms(limited, correlationId, i % 2 ? { priority: 'LOW' } : {}));
    await gather(sms(unique('low'), correlationId, { priority: 'LOW' }));

    // CRITICAL is admitted alone, on its own pool, while every group waits.
    const critical = await post('/v1/notifications', sms(unique('critical'), correlationId, { priority: 'HIGH' }));
    expect(api.deps.groupedAdmission.waiting).toBe(10);
    return { answers: Promise.all([...first, ...gathered]), critical }; // then the lock goes
  });
  expect(critical.status).toBe(202);

  const responses = await answers;
  const bodies = (await Promise.all(responses.map((r) => r.json()))) as { id?: string; duplicate?: boolean; notificationId?: string }[];
  expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 200, 422, 202, 202, 202, 202, 202, 429, 202]);
  const [, , accepted, repeat, conflict] = bodies;
  expect(repeat).toMatchObject({ id: accepted!.id, duplicate: true });
  expect(conflict!.notificationId).toBe(accepted!.id);
  const overLimit = responses[10]!;
  expect(Number(overLimit.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(JSON.stringify(bodies[10])).toContain('per user');
  // The ten gathered requests went as one group.
  expect((await groupsOf6To10()) - groupsBefore).toBe(1);
  const stored = await api.deps.db.execute<{ user_id: string; n: number }>(
    sql`select user_id, count(*)::int as n from notifications where correlation_id = ${correlationId} group by user_id`,
  );
  const byUser = new Map(stored.map((r) => [r.user_id, r.n]));
  expect(byUser.get(held)).toBe(2);
  expect(byUser.get(limited)).toBe(5);
  expect([...byUser.values()].reduce((a, b) => a + b, 0)).toBe(2 + 1 + 5 + 1 + 1);
}, 120_000);

it("refuses a request in a group with the problem it would get alone, and admits the group's others", async () => {
  const correlationId = unique('grouped');
  const requests = [
    sms(unique('ok'), correlationId),
    sms(unique('tpl'), correlationId, { templateId: 'NO_SUCH_TEMPLATE' }),
    sms(unique('channel'), correlationId, { type: 'EMAIL', to: 'jane@example.com' }),
    { ...sms(unique('ghost'), correlationId), to: undefined },
    sms(unique('params'), correlationId, { templateParams: { orderId: 'A1' } }),
    sms(unique('ok'), correlationId, { priority: 'LOW' }),
  ];
  const responses = await Promise.all(requests.map((body) => post('/v1/notifications', body)));
  const problems = (await Promise.all(responses.map((r) => r.json()))) as { detail?: string; errors?: { path: string }[] }[];
  expect(responses.map((r) => r.status)).toEqual([202, 422, 422, 422, 400, 202]);
  expect(problems[1]!.detail).toContain('no template NO_SUCH_TEMPLATE');
  expect(problems[2]!.detail).toContain('is for SMS, not EMAIL');
  expect(problems[3]!.detail).toContain('has no phone number');
  expect(problems[4]!.errors!.map((e) => e.path)).toEqual(['templateParams.trackingUrl']);
  const [stored] = await api.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from notifications where correlation_id = ${correlationId}`);
  expect(stored!.n).toBe(2);
});
