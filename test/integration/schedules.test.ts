// Scheduled mail over real HTTP, a real Temporal server (its Schedules fire the firings) and the provider
// simulators: validation, the lifecycle verbs, archive, tenancy, exactly-once per slot, and catch-up.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { notifications, scheduleFirings, schedules } from '../../db/schema/index.js';
import { registry } from '../../lib/metrics.js';
import { fireSchedule } from '../../lib/schedules/fire.js';
import { archive } from '../../lib/schedules/service.js';
import { temporalScheduleId } from '../../lib/schedules/temporal.js';
import { jsonRequest } from '../helpers/requests.js';
import { useDeliveryRig } from '../helpers/delivery.js';
import { unique } from '../helpers/config.js';
import { waitUntil } from '../helpers/wait.js';

const rig = useDeliveryRig('sch');
const params = { name: 'Jane', orderId: 'ABC123', itemName: 'Laptop', trackingUrl: 'https://t.example/ABC123' };
const notification = (to = `${unique('u')}@example.com`) => ({
  userId: unique('user'),
  type: 'EMAIL',
  templateId: 'ORDER_SHIPPED_CONFIRMATION',
  to,
  templateParams: params,
});

interface Firing {
  scheduledAt: string;
  outcome: string;
  notificationId: string | null;
  notificationStatus: string | null;
  detail: string | null;
}
interface Schedule {
  id: string;
  status: string;
  nextRunTimes: string[];
  recentFirings: Firing[];
  pauseNote: string | null;
  archiveReason: string | null;
  stats: Record<string, number>;
  when: Record<string, unknown>;
}

async function create(body: Record<string, unknown>, auth?: string): Promise<Schedule> {
  const response = await rig.api.request('/v1/schedules', jsonRequest('POST', body, auth));
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Schedule;
}
const get = async (id: string) => (await (await rig.api.request(`/v1/schedules/${id}`)).json()) as Schedule;
const firingsOf = (id: string) => rig.api.deps.db.select().from(scheduleFirings).where(eq(scheduleFirings.scheduleId, id));

describe('validation: 400 naming the field', () => {
  // Its own key: other test files of the run share the database and the admin key.
  let key: string;
  beforeAll(async () => {
    key = ((await (await rig.api.request('/v1/api-keys', jsonRequest('POST', { name: unique('validation') }))).json()) as { key: string }).key;
  });
  const cases: [string, Record<string, unknown>, string][] = [
    ['a cron spec that never fires', { notification: notification(), when: { type: 'cron', expression: '0 0 30 2 *' } }, 'when.expression'],
    ['a malformed cron expression', { notification: notification(), when: { type: 'cron', expression: 'every tuesday' } }, 'when.expression'],
    ['a cron field out of range', { notification: notification(), when: { type: 'cron', expression: '61 25 * * *' } }, 'when.expression'],
    ['a one-off in the past', { notification: notification(), when: { type: 'once', at: new Date(Date.now() - 60_000).toISOString() } }, 'when.at'],
    [
      'an end before the start',
      { notification: notification(), when: { type: 'interval', everySeconds: 60, startAt: '2031-01-02T00:00:00Z', endAt: '2031-01-01T00:00:00Z' } },
      'when.endAt',
    ],
    ['an unknown time zone', { notification: notification(), when: { type: 'cron', expression: '0 9 * * *', timezone: 'Mars/Olympus_Mons' } }, 'when.timezone'],
    [
      'an unknown template',
      { notification: { ...notification(), templateId: 'NO_SUCH_TEMPLATE' }, when: { type: 'interval', everySeconds: 60 } },
      'notification.templateId',
    ],
    [
      'a missing template parameter',
      { notification: { ...notification(), templateParams: { name: 'Jane' } }, when: { type: 'interval', everySeconds: 60 } },
      'notification.templateParams.orderId',
    ],
    ['nothing to send', { when: { type: 'interval', everySeconds: 60 } }, 'notification'],
  ];
  for (const [name, body, path] of cases) {
    it(name, async () => {
      const response = await rig.api.request('/v1/schedules', jsonRequest('POST', body, key));
      const problem = (await response.json()) as { errors?: { path: string }[] };
      expect(response.status, JSON.stringify(problem)).toBe(400);
      expect(problem.errors?.map((e) => e.path)).toContain(path);
    });
  }
  it('previews run times without saving, with the same 400s', async () => {
    const ok = await rig.api.request(
      '/v1/schedules/preview',
      jsonRequest('POST', { when: { type: 'calendar', calendar: { hour: 9, minute: 0, dayOfWeek: 'MONDAY' }, timezone: 'America/New_York' } }),
    );
    const { nextRunTimes } = (await ok.json()) as { nextRunTimes: string[] };
    expect(nextRunTimes).toHaveLength(5);
    for (const t of nextRunTimes) expect(new Date(t).getUTCDay()).toBe(1);
    const never = await rig.api.request('/v1/schedules/preview', jsonRequest('POST', { when: { type: 'cron', expression: '0 0 30 2 *' } }));
    expect(never.status).toBe(400);
    expect(((await never.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('when.expression');
  });

  it('leaves no schedule behind when Temporal finds no run time', async () => {
    const listed = (await (await rig.api.request('/v1/schedules?view=all', { auth: key })).json()) as { data: unknown[] };
    expect(listed.data).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('fires every 2 s: next 5 run times, firings with their notification and status, ScheduleId on the workflow', async () => {
    const s = await create({ name: 'every 2 s', notification: notification(), when: { type: 'interval', everySeconds: 2 } });
    expect(s.status).toBe('ACTIVE');
    expect(s.nextRunTimes).toHaveLength(5);
    const gaps = s.nextRunTimes.slice(1).map((t, i) => Date.parse(t) - Date.parse(s.nextRunTimes[i]!));
    expect(gaps).toEqual([2000, 2000, 2000, 2000]);
    const fired = await waitUntil('a sent firing', async () => {
      const d = await get(s.id);
      return d.recentFirings.find((f) => f.outcome === 'CREATED' && f.notificationStatus === 'SENT');
    });
    const run = await rig.api.deps.temporal.workflow.getHandle(`notification-${fired.notificationId}`).describe();
    expect(run.searchAttributes).toMatchObject({ ScheduleId: [s.id] });
    expect((await get(s.id)).stats.sent).toBeGreaterThanOrEqual(1);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });

  it('pause skips the slots while paused (with its note); trigger fires while paused; unpause resumes', async () => {
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 2 } });
    await waitUntil('a first firing', async () => ((await firingsOf(s.id)).length > 0 ? true : undefined));
    const paused = (await (await rig.api.request(`/v1/schedules/${s.id}/pause`, jsonRequest('POST', { note: 'holiday' }))).json()) as Schedule;
    expect(paused).toMatchObject({ status: 'PAUSED', pauseNote: 'holiday', nextRunTimes: [] });
    const pausedAt = Date.now();
    expect((await rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id)).describe()).state).toMatchObject({ paused: true, note: 'holiday' });
    // An observation window, not a wait: nothing may fire in it, so it has no condition to end on. Two or
    // three 2-second slots fall while paused.
    await sleep(5_000);
    const duringPause = (await firingsOf(s.id)).filter((f) => f.scheduledAt.getTime() > pausedAt);
    expect(duringPause).toEqual([]);

    expect((await rig.api.request(`/v1/schedules/${s.id}/trigger`, { method: 'POST' })).status).toBe(202);
    const triggered = await waitUntil('the triggered firing', async () => (await firingsOf(s.id)).find((f) => f.scheduledAt.getTime() > pausedAt));
    expect(triggered.outcome).toBe('CREATED');

    // Taken before the request: a slot due once the unpause has taken effect, while its answer is on the way,
    // fires rightly and must not count as one of the pause's.
    const unpausingAt = Date.now();
    const resumed = (await (await rig.api.request(`/v1/schedules/${s.id}/unpause`, { method: 'POST' })).json()) as Schedule;
    expect(resumed.status).toBe('ACTIVE');
    await waitUntil('a firing after unpause', async () => (await firingsOf(s.id)).find((f) => f.scheduledAt.getTime() > unpausingAt));
    // Nothing was caught up for the paused slots: the only firing in the pause is the triggered one.
    expect((await firingsOf(s.id)).filter((f) => f.scheduledAt.getTime() > pausedAt && f.scheduledAt.getTime() < unpausingAt)).toHaveLength(1);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });

  it('update changes the clock (cron in a time zone) and the content; delete removes both', async () => {
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 3600 } });
    const response = await rig.api.request(
      `/v1/schedules/${s.id}`,
      jsonRequest('PATCH', { when: { type: 'cron', expression: '30 9 * * *', timezone: 'Asia/Kolkata' }, name: 'daily' }),
    );
    const updated = (await response.json()) as Schedule & { name: string };
    expect(response.status, JSON.stringify(updated)).toBe(200);
    expect(updated.name).toBe('daily');
    // 09:30 in Kolkata (UTC+5:30) is 04:00 UTC, every day.
    expect(updated.nextRunTimes.map((t) => t.slice(11, 19))).toEqual(Array(5).fill('04:00:00'));
    const bad = await rig.api.request(`/v1/schedules/${s.id}`, jsonRequest('PATCH', { when: { type: 'cron', expression: '0 0 30 2 *' } }));
    expect(bad.status).toBe(400);
    const changed = { ...notification(), templateParams: { ...params, orderId: 'NEW-1' } };
    const content = await rig.api.request(`/v1/schedules/${s.id}`, jsonRequest('PATCH', { notification: changed }));
    expect(content.status).toBe(200);
    expect(((await content.json()) as { notification: { templateParams: Record<string, string> } }).notification.templateParams.orderId).toBe('NEW-1');
    const missing = await rig.api.request(`/v1/schedules/${s.id}`, jsonRequest('PATCH', { notification: { ...changed, templateParams: { name: 'x' } } }));
    expect(missing.status).toBe(400);
    // The refused update left the row and the Temporal Schedule as they were.
    const kept = await get(s.id);
    expect(kept.when).toMatchObject({ type: 'cron', expression: '30 9 * * *' });
    expect(kept.nextRunTimes.map((t) => t.slice(11, 19))).toEqual(Array(5).fill('04:00:00'));

    expect((await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await rig.api.request(`/v1/schedules/${s.id}`)).status).toBe(404);
    await expect(rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id)).describe()).rejects.toThrow();
  });

  it('a one-off fires once and is archived: readable, listed as archived only, its Temporal Schedule gone', async () => {
    const s = await create({
      email: { sender: 'shop@example.com', receiver: `${unique('r')}@example.com`, subject: 'Once', content: 'Hello once' },
      when: { type: 'once', at: new Date(Date.now() + 4_000).toISOString() },
    });
    const archived = await waitUntil('archive', async () => {
      const d = await get(s.id);
      return d.status === 'ARCHIVED' ? d : undefined;
    });
    expect(archived.archiveReason).toBe('fired');
    expect(archived.recentFirings).toHaveLength(1);
    const active = (await (await rig.api.request('/v1/schedules')).json()) as { data: { id: string }[] };
    expect(active.data.map((d) => d.id)).not.toContain(s.id);
    const old = (await (await rig.api.request('/v1/schedules?view=archived')).json()) as { data: { id: string }[] };
    expect(old.data.map((d) => d.id)).toContain(s.id);
    await expect(rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id)).describe()).rejects.toThrow();
    expect((await rig.api.request(`/v1/schedules/${s.id}/trigger`, { method: 'POST' })).status).toBe(409);
  });

  it('a Temporal Schedule deleted outside the API makes its verbs a 409, not a 500; DELETE still works', async () => {
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 3600 } });
    await rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id)).delete();
    expect((await rig.api.request(`/v1/schedules/${s.id}/pause`, jsonRequest('POST', {}))).status).toBe(409);
    expect((await rig.api.request(`/v1/schedules/${s.id}/trigger`, { method: 'POST' })).status).toBe(409);
    expect((await rig.api.request(`/v1/schedules/${s.id}`)).status).toBe(200);
    expect((await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('belongs to the key that created it: a foreign id is a 404', async () => {
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 3600 } });
    const { key } = (await (await rig.api.request('/v1/api-keys', jsonRequest('POST', { name: unique('other') }))).json()) as { key: string };
    expect((await rig.api.request(`/v1/schedules/${s.id}`, { auth: key })).status).toBe(404);
    expect((await rig.api.request(`/v1/schedules/${s.id}/pause`, jsonRequest('POST', {}, key))).status).toBe(404);
    expect((await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE', auth: key })).status).toBe(404);
    const theirs = (await (await rig.api.request('/v1/schedules', { auth: key })).json()) as { data: unknown[] };
    expect(theirs.data).toEqual([]);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });
});

describe('jitter and end', () => {
  it('fires a slot whose jittered start falls after endAt, keyed by its nominal time, and archives only after endAt + jitter + catch-up', async () => {
    const JITTER = 8;
    const CATCHUP = 10;
    // One slot, at endAt itself (interval slots are epoch-aligned), whose start Temporal jitters up to 8 s
    // later. Temporal derives the jitter from the schedule id: take a schedule whose jittered start is
    // well after endAt (its next run time says so), so that a read after endAt comes before the firing.
    let s: Schedule | undefined;
    let endAt = 0;
    let firesAt = 0;
    for (let attempt = 0; attempt < 8 && !s; attempt++) {
      endAt = Math.ceil((Date.now() + 4_000) / 10_000) * 10_000;
      const candidate = await create({
        notification: notification(),
        catchupWindowSeconds: CATCHUP,
        when: {
          type: 'interval',
          everySeconds: 10,
          jitterSeconds: JITTER,
          startAt: new Date(endAt - 1_000).toISOString(),
          endAt: new Date(endAt).toISOString(),
        },
      });
      expect(candidate.nextRunTimes).toHaveLength(1);
      firesAt = Date.parse(candidate.nextRunTimes[0]!);
      if (firesAt - endAt >= 2_000) s = candidate;
      else await rig.api.request(`/v1/schedules/${candidate.id}`, { method: 'DELETE' });
    }
    if (!s) throw new Error('no schedule with a jittered start 2 s after its end in 8 tries');
    const id = s.id;
    expect(firesAt).toBeLessThanOrEqual(endAt + JITTER * 1000);

    // Read it all along (each read may archive it) until the jittered slot has fired.
    const fired = await waitUntil(
      'the jittered slot fired',
      async () => {
        const d = await get(id);
        if (Date.now() > endAt) expect(d.status, 'archived before its last slot could start').toBe('ACTIVE');
        return d.recentFirings.find((f) => f.outcome === 'CREATED');
      },
      firesAt - Date.now() + 30_000,
    );
    expect(fired.scheduledAt).toBe(new Date(endAt).toISOString()); // the nominal slot, not the jittered start
    const run = await rig.api.deps.temporal.workflow.getHandle(`notification-${fired.notificationId}`).describe();
    expect(run.startTime.getTime()).toBeGreaterThan(endAt); // it did start after endAt

    // Archived once no slot can start any more: endAt + jitter + catch-up window.
    const archived = await waitUntil(
      'archive',
      async () => {
        const d = (await get(id)) as Schedule & { archivedAt: string | null };
        return d.status === 'ARCHIVED' ? d : undefined;
      },
      endAt + (JITTER + CATCHUP) * 1000 - Date.now() + 20_000,
    );
    expect(archived.archiveReason).toBe('ended');
    expect(Date.parse(archived.archivedAt!)).toBeGreaterThanOrEqual(endAt + (JITTER + CATCHUP) * 1000);
    await expect(rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(id)).describe()).rejects.toThrow();
  }, 90_000);

  it('a firing that runs after the archive still sends its slot from before it', async () => {
    const s = await create({
      email: { sender: 'shop@example.com', receiver: `${unique('late')}@example.com`, subject: 'Late', content: 'x' },
      when: { type: 'cron', expression: '0 3 * * *' },
    });
    const slot = new Date(Date.now() - 60_000);
    const deps = { db: rig.api.deps.db, temporal: rig.api.deps.temporal, config: rig.api.deps.config, encryptor: rig.api.deps.encryptor };
    await archive(deps, (await rig.api.deps.db.select().from(schedules).where(eq(schedules.id, s.id)))[0]!, 'ended');
    expect(await fireSchedule(deps, { scheduleId: s.id, scheduledAt: slot })).toMatchObject({ outcome: 'CREATED' });
    // A slot after the archive has no clock left to come from: skipped.
    expect(await fireSchedule(deps, { scheduleId: s.id, scheduledAt: new Date(Date.now() + 60_000) })).toMatchObject({
      outcome: 'SKIPPED',
      detail: 'archived',
    });
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });
});

describe('exactly once per slot', () => {
  it('a slot backfilled twice, and fired three times at once, admits one notification and sends one message', async () => {
    const receiver = `${unique('once')}@example.com`;
    const s = await create({
      email: { sender: 'shop@example.com', receiver, subject: 'Slot', content: 'One per slot' },
      when: { type: 'cron', expression: '0 3 * * *' },
    });
    const handle = rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id));
    const slot = new Date(Date.UTC(2026, 0, 1, 3, 0, 0));
    const range = { start: new Date(slot.getTime() - 1000), end: new Date(slot.getTime() + 1000), overlap: 'ALLOW_ALL' as const };
    await handle.backfill(range);
    await handle.backfill(range);
    const deps = { db: rig.api.deps.db, temporal: rig.api.deps.temporal, config: rig.api.deps.config, encryptor: rig.api.deps.encryptor };
    const direct = await Promise.all([1, 2, 3].map(() => fireSchedule(deps, { scheduleId: s.id, scheduledAt: slot })));
    await waitUntil('the slot sent', async () => {
      const f = (await get(s.id)).recentFirings[0];
      return f?.notificationStatus === 'SENT' ? f : undefined;
    });
    // The backfilled firing has run to its end (a second backfill of the same slot is the same workflow id, so
    // Temporal starts it once).
    const backfilled = (await handle.describe()).info.recentActions;
    expect(backfilled.length).toBeGreaterThanOrEqual(1);
    await Promise.all(
      backfilled.map((a) => rig.api.deps.temporal.workflow.getHandle(a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId).result()),
    );
    const firings = await firingsOf(s.id);
    expect(firings.map((f) => [f.scheduledAt.toISOString(), f.outcome])).toEqual([[slot.toISOString(), 'CREATED']]);
    expect(new Set(direct.map((r) => r.notificationId)).size).toBe(1);
    const created = await rig.api.deps.db.select().from(notifications).where(eq(notifications.recipient, receiver));
    expect(created).toHaveLength(1);
    const ledger = (await rig.sims.ledger('mailgun')).filter((m) => JSON.stringify(m).includes(receiver));
    expect(ledger).toHaveLength(1);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });

  it('a 429 at firing time is recorded on the firing and skipped', async () => {
    const s = await create({
      email: { sender: 'shop@example.com', receiver: `${unique('rl')}@example.com`, subject: 'Limited', content: 'x' },
      when: { type: 'cron', expression: '0 3 * * *' },
    });
    const deps = {
      db: rig.api.deps.db,
      temporal: rig.api.deps.temporal,
      encryptor: rig.api.deps.encryptor,
      config: { ...rig.api.deps.config, RATE_LIMIT_USER_COUNT: 1 },
    };
    const first = await fireSchedule(deps, { scheduleId: s.id, scheduledAt: new Date('2026-02-01T03:00:00Z') });
    const second = await fireSchedule(deps, { scheduleId: s.id, scheduledAt: new Date('2026-02-02T03:00:00Z') });
    expect(first.outcome).toBe('CREATED');
    expect(second).toMatchObject({ outcome: 'RATE_LIMITED', notificationId: null });
    // The slot stays skipped: firing it again does not retry it.
    expect(await fireSchedule({ ...deps, config: rig.api.deps.config }, { scheduleId: s.id, scheduledAt: new Date('2026-02-02T03:00:00Z') })).toMatchObject({
      outcome: 'DUPLICATE',
      notificationId: null,
    });
    const firing = (await get(s.id)).recentFirings.find((f) => f.outcome === 'RATE_LIMITED');
    expect(firing?.detail).toMatch(/rate limit/);
    // Counted by schedule for Prometheus.
    const metrics = await registry.metrics();
    expect(metrics).toContain(`mailflow_schedule_firings_total{schedule_id="${s.id}",outcome="RATE_LIMITED"} 1`);
    expect(metrics).toContain(`mailflow_schedule_firings_total{schedule_id="${s.id}",outcome="CREATED"} 1`);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });
});

describe('catch-up', () => {
  it('slots that fall while every worker is down fire once each when workers return, keyed by their scheduled time', async () => {
    await rig.stopWorkers();
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 2 } });
    const actions = async () => (await rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id)).describe()).info.recentActions;
    await waitUntil('three slots with no worker to run them', async () => ((await actions()).length >= 3 ? true : undefined));
    await rig.api.request(`/v1/schedules/${s.id}/pause`, jsonRequest('POST', { note: 'stop the clock' }));
    const missed = (await actions()).map((a) => a.scheduledAt.toISOString()).sort();
    expect(missed.length).toBeGreaterThanOrEqual(3);
    expect(await firingsOf(s.id)).toEqual([]);

    await rig.startWorkers();
    const firings = await waitUntil('every missed slot fired', async () => {
      const rows = await firingsOf(s.id);
      return rows.length >= missed.length ? rows : undefined;
    });
    expect(firings.map((f) => f.scheduledAt.toISOString()).sort()).toEqual(missed);
    expect(firings.every((f) => f.outcome === 'CREATED')).toBe(true);
    expect(new Set(firings.map((f) => f.notificationId)).size).toBe(missed.length);
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  }, 60_000);

  it('slots missed while Temporal itself was down are replayed by backfill with their own times', async () => {
    // An outage cannot be staged on the shared server: backfill is how Temporal fires past slots, through
    // the same action and keys as its catch-up after recovery.
    const s = await create({ notification: notification(), when: { type: 'interval', everySeconds: 60 } });
    const handle = rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(s.id));
    const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
    const start = new Date(end.getTime() - 10 * 60_000 + 1);
    await handle.backfill({ start, end, overlap: 'ALLOW_ALL' });
    const firings = await waitUntil('ten slots', async () => {
      const rows = await firingsOf(s.id);
      return rows.length >= 10 ? rows : undefined;
    });
    const times = firings.map((f) => f.scheduledAt.getTime()).sort();
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(Array(9).fill(60_000));
    await rig.api.request(`/v1/schedules/${s.id}`, { method: 'DELETE' });
  });
});
