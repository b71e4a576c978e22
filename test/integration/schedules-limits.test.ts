// Scheduled-mail limits over real HTTP and a real Temporal server: a cap on the schedules a tenant keeps
// (exact under concurrent creates), a minimum interval between firings (every, cron and calendar specs, with
// and without jitter, on create and update), and a per-key rate limit on previews (429 with Retry-After).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

let api: TestApi;
const LIMITS = {
  SCHEDULES_MAX_ACTIVE_PER_TENANT: 3,
  SCHEDULE_MIN_INTERVAL_SECONDS: 60,
  SCHEDULE_PREVIEW_RATE_COUNT: 3,
  SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS: 60,
};

beforeAll(async () => {
  // No workers: nothing here needs a firing, and every Temporal Schedule is a year or an hour away.
  api = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('schlim')}-`, ...Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)])) });
}, 60_000);
afterAll(async () => {
  await api?.close();
});

const json = (method: string, body: unknown, auth: string) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), auth });
const email = () => ({ sender: 'shop@example.com', receiver: `${unique('lim')}@example.com`, subject: 'Limits', content: 'Hello' });
/** A key of its own is a tenant of its own: other files of the run share the database. */
const newKey = async () =>
  (
    (await (
      await api.request('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: unique('lim') }) })
    ).json()) as {
      key: string;
    }
  ).key;
interface Problem {
  status: number;
  type: string;
  detail: string;
  limit?: { name?: string; value?: number; limit?: number; windowSeconds?: number };
  errors?: { path: string }[];
  intervalSeconds?: number;
}

describe('active schedules per tenant', () => {
  it('refuses the one over the cap with a 409 naming the limit, exactly under concurrent creates; other tenants are unaffected', async () => {
    const key = await newKey();
    const hourly = { email: email(), when: { type: 'interval', everySeconds: 3600 } };
    // Five at once against a cap of three: the count and the insert are one step per tenant.
    const answers = await Promise.all(Array.from({ length: 5 }, () => api.request('/v1/schedules', json('POST', hourly, key))));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409]);
    const refused = (await answers.find((r) => r.status === 409)!.json()) as Problem;
    expect(refused.type).toBe('urn:mailflow:problem:conflict');
    expect(refused.limit).toEqual({ name: 'SCHEDULES_MAX_ACTIVE_PER_TENANT', value: 3 });
    expect(refused.detail).toContain('SCHEDULES_MAX_ACTIVE_PER_TENANT=3');

    // Paused ones count too; a deleted one frees its place.
    const listed = (await (await api.request('/v1/schedules', { auth: key })).json()) as { data: { id: string }[] };
    expect(listed.data).toHaveLength(3);
    expect((await api.request(`/v1/schedules/${listed.data[0]!.id}/pause`, json('POST', {}, key))).status).toBe(200);
    expect((await api.request('/v1/schedules', json('POST', hourly, key))).status).toBe(409);
    expect((await api.request(`/v1/schedules/${listed.data[1]!.id}`, { method: 'DELETE', auth: key })).status).toBe(204);
    expect((await api.request('/v1/schedules', json('POST', hourly, key))).status).toBe(201);

    const other = await newKey();
    expect((await api.request('/v1/schedules', json('POST', hourly, other))).status).toBe(201);
  });
});

describe('minimum interval between firings', () => {
  let key: string;
  beforeAll(async () => {
    key = await newKey();
  });
  const create = (when: Record<string, unknown>) => api.request('/v1/schedules', json('POST', { email: email(), when }, key));
  const refusal = async (response: Response) => {
    const problem = (await response.json()) as Problem;
    expect(response.status, JSON.stringify(problem)).toBe(422);
    expect(problem.limit).toEqual({ name: 'SCHEDULE_MIN_INTERVAL_SECONDS', value: 60 });
    return problem;
  };

  it('refuses an every spec under the minimum, naming the field and both values', async () => {
    const problem = await refusal(await create({ type: 'interval', everySeconds: 30 }));
    expect(problem.errors?.map((e) => e.path)).toEqual(['when.everySeconds']);
    expect(problem.intervalSeconds).toBe(30);
    expect(problem.detail).toMatch(/30 s apart.*60 s/);
  });

  it('measures cron and calendar specs on the run times Temporal computes, before jitter', async () => {
    // Every 30 s (seven fields: seconds first, year last), and a calendar at :00 and :30 of each minute: too often.
    const cron = await refusal(await create({ type: 'cron', expression: '*/30 * * * * * *' }));
    expect(cron.errors?.map((e) => e.path)).toEqual(['when.expression']);
    expect(cron.intervalSeconds).toBe(30);
    const calendar = await refusal(await create({ type: 'calendar', calendar: { second: [0, 30], minute: '*', hour: '*' } }));
    expect(calendar.errors?.map((e) => e.path)).toEqual(['when.calendar']);
    // A daily spec whose two times are 45 s apart: only the run times show it.
    const close = await refusal(await create({ type: 'calendar', calendar: { hour: 9, minute: 0, second: [0, 45] } }));
    expect(close.intervalSeconds).toBe(45);
    // Jitter moves each firing within its slot; it is the slots that are measured: 30 s slots stay refused,
    // hourly slots with 50 minutes of jitter are fine although two firings may then come close together.
    await refusal(await create({ type: 'cron', expression: '*/30 * * * * * *', jitterSeconds: 20 }));
    expect((await create({ type: 'cron', expression: '0 * * * *', jitterSeconds: 3000 })).status).toBe(201);
    expect((await create({ type: 'cron', expression: '* * * * *' })).status).toBe(201); // every minute: exactly the minimum
    // Nothing refused was kept, in the database or in Temporal.
    const listed = (await (await api.request('/v1/schedules?view=all', { auth: key })).json()) as { data: unknown[] };
    expect(listed.data).toHaveLength(2);
  });

  it('refuses an update to a spec that is too frequent and keeps the schedule as it was', async () => {
    const created = await create({ type: 'interval', everySeconds: 3600 });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await refusal(await api.request(`/v1/schedules/${id}`, json('PATCH', { when: { type: 'interval', everySeconds: 10 } }, key)));
    await refusal(await api.request(`/v1/schedules/${id}`, json('PATCH', { when: { type: 'cron', expression: '*/10 * * * * * *' } }, key)));
    const kept = (await (await api.request(`/v1/schedules/${id}`, { auth: key })).json()) as { when: Record<string, unknown>; nextRunTimes: string[] };
    expect(kept.when).toMatchObject({ type: 'interval', everySeconds: 3600 });
    const gaps = kept.nextRunTimes.slice(1).map((t, i) => Date.parse(t) - Date.parse(kept.nextRunTimes[i]!));
    expect(new Set(gaps)).toEqual(new Set([3_600_000]));
    await api.request(`/v1/schedules/${id}`, { method: 'DELETE', auth: key });
  });
});

describe('preview rate limit', () => {
  it('answers the (N+1)th preview of a key within the window with 429 and Retry-After; another key is unaffected', async () => {
    const [key, other] = [await newKey(), await newKey()];
    const preview = (auth: string) => api.request('/v1/schedules/preview', json('POST', { when: { type: 'cron', expression: '0 9 * * *' } }, auth));
    for (let i = 0; i < LIMITS.SCHEDULE_PREVIEW_RATE_COUNT; i++) expect((await preview(key)).status).toBe(200);
    const limited = await preview(key);
    const problem = (await limited.json()) as Problem & { retryAfterSeconds: number };
    expect(limited.status, JSON.stringify(problem)).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(LIMITS.SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS);
    expect(problem.type).toBe('urn:mailflow:problem:rate_limited');
    expect(problem.limit).toMatchObject({ limit: 3, windowSeconds: 60 });
    expect(problem.retryAfterSeconds).toBe(retryAfter);
    expect((await preview(other)).status).toBe(200);
  });
});
