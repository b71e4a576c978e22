// What the operator's console reads and does, over real HTTP with real workers and provider simulators:
// every list filter and the counts, the detail (attempts, provider events, deadline, masked secrets, the
// Temporal link), cancel, batch retries that retry each notification once even when two race, the live
// feed of status changes (including one that commits after a later one), and the overview's counters.
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { transitionStatus } from '../../lib/notifications/status.js';
import { useTenantKey } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { useDeliveryRig } from '../helpers/delivery.js';
import { quickRetries, smsNotification } from '../helpers/notifications.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { until, waitFor } from '../helpers/wait.js';

const rig = useDeliveryRig('con', {
  webhooks: true,
  roles: ['delivery', 'email', 'sms'],
  env: {
    TEMPORAL_UI_URL: 'http://temporal-ui.example:8233',
    // Retries go on for as long as a test keeps a provider down.
    ...quickRetries('MEDIUM', 1000),
    EMAIL_PROVIDER_SECONDARY: 'none',
  },
});

/** A tenant of this file's own, so its counts and overview are only what this file did. */
const tenant = useTenantKey(() => rig.api, 'console');
beforeEach(async () => {
  await rig.sims.resetAll();
});

const auth = () => ({ auth: tenant.key });
const getJson = async <T>(path: string): Promise<T> => {
  const response = await rig.api.request(path, auth());
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as T;
};
const postJson = (path: string, body: unknown) =>
  rig.api.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), auth: tenant.key });

interface Listed {
  id: string;
  status: string;
  recipient: string;
  templateId: string;
}

async function send(body: Record<string, unknown>): Promise<string> {
  const response = await postJson('/v1/notifications', body);
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}
const sms = (userId: string, extra: Record<string, unknown> = {}) => send(smsNotification(userId, extra));
const reset = (userId: string, to: string, extra: Record<string, unknown> = {}) =>
  send({
    userId,
    type: 'EMAIL',
    templateId: 'PASSWORD_RESET',
    to,
    templateParams: { name: 'Jane', resetUrl: 'https://example.com/reset?t=s3cret-token' },
    ...extra,
  });
const waitStatus = (id: string, statuses: string[]) =>
  waitFor(
    `notification ${id} ${statuses.join('|')}`,
    () => getJson<{ status: string }>(`/v1/notifications/${id}`),
    (n) => statuses.includes(n.status),
    30_000,
  );
const ids = (page: { data: Listed[] }) => page.data.map((n) => n.id).sort();

describe('the list filters and counts', () => {
  it('filters by template, recipient, channel, priority, status, late, user, correlation id and time, and counts per status', async () => {
    const user = unique('filters');
    const before = new Date().toISOString();
    const address = `${unique('jane')}@example.com`;
    const a = await reset(user, address, { correlationId: `${user}-a` });
    const b = await sms(user, { priority: 'LOW' });
    const c = await sms(user, { priority: 'HIGH' });
    await Promise.all([waitStatus(a, ['SENT', 'DELIVERED', 'OPENED']), waitStatus(b, ['SENT']), waitStatus(c, ['SENT'])]);
    const after = new Date(Date.now() + 1000).toISOString();
    const list = (query: string) => getJson<{ data: Listed[] }>(`/v1/notifications?userId=${user}&${query}`);

    expect(ids(await list(''))).toEqual([a, b, c].sort());
    expect(ids(await list('templateId=PASSWORD_RESET'))).toEqual([a]);
    expect(ids(await list(`recipient=${encodeURIComponent(address)}`))).toEqual([a]);
    expect(ids(await list('type=SMS'))).toEqual([b, c].sort());
    expect(ids(await list('priority=LOW'))).toEqual([b]);
    expect(ids(await list('priority=critical'))).toEqual([c]);
    expect(ids(await list(`correlationId=${user}-a`))).toEqual([a]);
    expect(ids(await list(`since=${encodeURIComponent(before)}&until=${encodeURIComponent(after)}`))).toEqual([a, b, c].sort());
    expect(ids(await list(`until=${encodeURIComponent(before)}`))).toEqual([]);
    expect(ids(await list('late=true'))).toEqual([]);
    expect(ids(await list('status=FAILED'))).toEqual([]);

    // A late one: its deadline passes while the provider is down, and it is sent afterwards.
    await rig.sims.setFaults('sms', { outage: true });
    const late = await sms(user);
    await waitStatus(late, ['RETRYING']);
    await rig.api.deps.db.execute(sql`update notifications set deadline_at = now() - interval '1 minute' where id = ${late}`);
    await rig.sims.setFaults('sms', { outage: false });
    await waitStatus(late, ['SENT']);
    expect(ids(await list('late=true'))).toEqual([late]);
    // A failed one: the provider refuses it.
    await rig.sims.setFaults('sms', { failNext: { count: 1, status: 400 } });
    const failed = await sms(user);
    await waitStatus(failed, ['FAILED']);
    expect(ids(await list('status=FAILED'))).toEqual([failed]);

    const counts = await getJson<{ counts: Record<string, number>; cap: number }>(`/v1/notifications/counts?userId=${user}`);
    expect(counts.counts.SENT! + counts.counts.DELIVERED! + counts.counts.OPENED!).toBe(4);
    expect(counts.counts.FAILED).toBe(1);
    expect(counts.counts.PENDING! + counts.counts.RETRYING!).toBe(0);
    expect(counts.cap).toBe(1_000);
    expect(counts).toMatchObject({ capped: false });
    expect((await getJson<{ counts: Record<string, number> }>(`/v1/notifications/counts?userId=${user}&type=SMS&status=SENT`)).counts).toMatchObject({
      SENT: 3,
      PENDING: 0,
    });
  });

  it('counts the newest 1,001 matches by status when more match', async () => {
    const user = unique('many');
    const tenant = await rig.api.deps.db.execute<{ owner: string }>(sql`select owner from notifications where id = ${await sms(user)}`);
    // 1,100 more rows of the same user, written directly: the oldest 5 failed, the rest delivered.
    await rig.api.deps.db.execute(sql`
      insert into notifications (id, owner, user_id, channel, priority, recipient, body, status, workflow_id, deadline_at, created_at)
      select 'ntf_many_' || ${user} || '_' || g, ${tenant[0]!.owner}, ${user}, 'SMS', 'low', '+15550100', '',
             (case when g <= 5 then 'FAILED' else 'DELIVERED' end)::notification_status, 'notification-many-' || g,
             now(), now() - interval '1 day' + g * interval '1 millisecond'
      from generate_series(1, 1100) g`);
    const counted = await getJson<{ counts: Record<string, number>; capped: boolean }>(`/v1/notifications/counts?userId=${user}`);
    expect(counted.capped).toBe(true);
    expect(Object.values(counted.counts).reduce((a, b) => a + b, 0)).toBe(1_001);
    expect(counted.counts.FAILED).toBe(0); // the failed ones are the oldest, outside the newest 1,001
  });

  it('refuses a bad filter with the field named', async () => {
    for (const query of ['since=yesterday', 'late=maybe', 'status=LOST', 'priority=URGENT']) {
      const response = await rig.api.request(`/v1/notifications?${query}`, auth());
      expect(response.status, query).toBe(400);
      const field = query.split('=')[0]!;
      expect(JSON.stringify(await response.json()), query).toContain(field);
    }
  });
});

describe('the detail', () => {
  it('shows the request with secrets masked, each attempt, provider events, the deadline and the Temporal link', async () => {
    await rig.sims.setFaults('mailgun', { failNext: { count: 1, status: 503 } });
    const id = await reset(unique('detail'), `${unique('d')}@example.com`);
    await waitStatus(id, ['SENT']);
    const { providerMessageId } = await getJson<{ providerMessageId: string }>(`/v1/notifications/${id}`);
    expect((await rig.sims.emitMailgunEvent(providerMessageId, 'delivered')).status).toBe(200);
    const detail = await waitFor(
      'the delivered event in the detail',
      () =>
        getJson<{
          params: Record<string, unknown>;
          deliveryAttempts: { attempt: number; provider: string; outcome: string; error: string | null; latencyMs: number }[];
          providerEvents: { event: string }[];
          deadline: { met: boolean | null; marginMs: number };
          temporalUrl: string;
          workflowId: string;
          history: { to: string }[];
        }>(`/v1/notifications/${id}`),
      (d) => d.providerEvents.some((e) => e.event === 'delivered'),
    );
    expect(detail.params).toEqual({ name: 'Jane', resetUrl: '••••••' });
    expect(JSON.stringify(detail)).not.toContain('s3cret-token');
    expect(detail.deliveryAttempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'transient'],
      [2, 'sent'],
    ]);
    expect(detail.deliveryAttempts[0]!.error).toMatch(/503/);
    expect(detail.deliveryAttempts.every((a) => a.provider === 'mailgun' && a.latencyMs >= 0)).toBe(true);
    expect(detail.deadline.met).toBe(true);
    expect(detail.deadline.marginMs).toBeGreaterThan(0);
    expect(detail.temporalUrl).toBe(`http://temporal-ui.example:8233/namespaces/default/workflows/${detail.workflowId}`);
  });

  it("is another tenant's 404", async () => {
    const id = await sms(unique('mine'));
    expect((await rig.api.request(`/v1/notifications/${id}`)).status).toBe(404); // the admin key is another tenant
  });
});

describe('cancel', () => {
  it('cancels one still waiting to be sent, which is then never sent; a second cancel is a conflict', async () => {
    await rig.sims.setFaults('sms', { outage: true });
    const id = await sms(unique('cancel'));
    await waitStatus(id, ['RETRYING']);
    const response = await postJson(`/v1/notifications/${id}/cancel`, {});
    expect(response.status, await response.clone().text()).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('CANCELLED');
    await rig.sims.setFaults('sms', { outage: false });
    const run = rig.api.deps.temporal.workflow.getHandle(`notification-${id}`);
    await until('the run is over', async () => (await run.describe()).status.name !== 'RUNNING');
    expect((await run.describe()).status.name).toBe('CANCELLED');
    expect((await getJson<{ status: string }>(`/v1/notifications/${id}`)).status).toBe('CANCELLED');
    expect((await rig.sims.ledger('sms')).length).toBe(0);
    expect((await postJson(`/v1/notifications/${id}/cancel`, {})).status).toBe(409);
  });
});

describe('batch retries', () => {
  it('retries every dead-lettered match once, even when two batches race for the same rows', async () => {
    const user = unique('batch');
    const failed: string[] = [];
    await rig.sims.setFaults('sms', { failNext: { count: 4, status: 400 } });
    for (let i = 0; i < 4; i++) failed.push(await sms(user));
    for (const id of failed) await waitStatus(id, ['FAILED']);

    // Both batches wait on the first row's lock, so both reach it before either retries it.
    const holder = postgres(inject('services').DATABASE_URL, { max: 1 });
    try {
      const released = holder.begin(async (tx) => {
        await tx`select id from notifications where id = ${failed[0]!} for update`;
        const start = async () => {
          const response = await postJson('/v1/notifications/retries', { userId: user, status: 'FAILED' });
          expect(response.status, await response.clone().text()).toBe(202);
          return ((await response.json()) as { id: string }).id;
        };
        const batches = [await start(), await start()];
        // Each batch has looked at the other three (newest first) and is now on the held row, the oldest.
        await until(
          'both batches wait on the held row',
          async () => {
            const rows = await tx`select processed from notification_retry_batches where id in ${tx(batches)}`;
            return rows.length === 2 && rows.every((r) => (r as { processed: number }).processed === 3);
          },
          60_000,
        );
        return batches;
      });
      const batches = await released;
      const done = await Promise.all(
        batches.map((b) =>
          waitFor(
            `batch ${b} done`,
            () => getJson<{ done: boolean; total: number; retried: number; skipped: number }>(`/v1/notifications/retries/${b}`),
            (x) => x.done,
          ),
        ),
      );
      expect(done.map((d) => d.total)).toEqual([4, 4]);
      expect(done[0]!.retried + done[1]!.retried).toBe(4);
      expect(done[0]!.skipped + done[1]!.skipped).toBe(4);
    } finally {
      await holder.end();
    }
    for (const id of failed) {
      await waitStatus(id, ['SENT']);
      const detail = await getJson<{ history: { from: string | null; to: string }[] }>(`/v1/notifications/${id}`);
      expect(
        detail.history.filter((h) => h.from === 'FAILED' && h.to === 'PENDING'),
        id,
      ).toHaveLength(1);
    }
    expect((await rig.sims.ledger('sms')).filter((m) => failed.some((id) => JSON.stringify(m).includes(id))).length).toBeLessThanOrEqual(4);
  });

  it('refuses a batch over the bound and a status that cannot be retried', async () => {
    expect((await postJson('/v1/notifications/retries', { max: 5001 })).status).toBe(400);
    expect((await postJson('/v1/notifications/retries', { status: 'SENT' })).status).toBe(400);
    expect((await postJson('/v1/notifications/retries', { colour: 'red' })).status).toBe(400);
  });
});

describe('the live feed', () => {
  let stream: SseStream;
  afterAll(() => stream?.close());

  it('sends each change as it commits, including one that commits after a later one', async () => {
    const opened = await openSse(`${rig.api.url}/v1/notifications/events`, { authorization: `Bearer ${tenant.key}` });
    expect(opened.status).toBe(200);
    stream = opened.stream;
    await stream.next((e) => e.event === 'hello');
    const changesOf = (id: string, to: string) => (e: { event: string; data: unknown }) =>
      e.event === 'changes' && (e.data as { to: string; notification: { id: string } }[]).some((c) => c.notification.id === id && c.to === to);

    const id = await sms(unique('live'));
    // One event may carry several changes: wait on what has arrived, not on the next event.
    const seen = (id: string, to: string) => until(`${id} ${to} on the stream`, () => Promise.resolve(stream.received.some(changesOf(id, to))));
    await seen(id, 'PENDING');
    await seen(id, 'SENT');

    // Two rows of this tenant, dead-lettered by hand: the first change takes its history id and waits
    // uncommitted while the second commits, then commits.
    await rig.sims.setFaults('sms', { outage: true });
    const [x, y] = [await sms(unique('hole')), await sms(unique('hole'))];
    await waitStatus(x, ['RETRYING']);
    await waitStatus(y, ['RETRYING']);
    const holder = postgres(inject('services').DATABASE_URL, { max: 1 });
    try {
      await holder.begin(async (tx) => {
        await tx`update notifications set status = 'CANCELLED' where id = ${x}`;
        await tx`insert into notification_status_history (notification_id, from_status, to_status, reason) values (${x}, 'RETRYING', 'CANCELLED', 'held')`;
        await transitionStatus(rig.api.deps.db, y, 'CANCELLED', { reason: 'later' });
        await seen(y, 'CANCELLED');
        expect(stream.received.some(changesOf(x, 'CANCELLED'))).toBe(false);
      });
      await seen(x, 'CANCELLED');
    } finally {
      await holder.end();
      await rig.sims.setFaults('sms', { outage: false });
    }
  });

  it("never sends another tenant's changes", async () => {
    const other = await rig.api.request('/v1/notifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        userId: unique('admin'),
        type: 'SMS',
        templateId: 'ORDER_SHIPPED_SMS',
        to: '+15550100',
        templateParams: { orderId: 'B', trackingUrl: 'https://t.example/2' },
      }),
    });
    const otherId = ((await other.json()) as { id: string }).id;
    const mine = await sms(unique('mine'));
    await stream.next((e) => e.event === 'changes' && JSON.stringify(e.data).includes(mine));
    expect(stream.received.some((e) => JSON.stringify(e.data).includes(otherId))).toBe(false);
  });

  it('opens from a browser with a stream cookie only for that path', async () => {
    const session = await postJson('/v1/notifications/events/session', {});
    expect(session.status).toBe(200);
    const cookie = session.headers.get('set-cookie')!;
    expect(cookie).toMatch(/Path=\/v1\/notifications\/events;.*HttpOnly; SameSite=Strict/);
    const value = cookie.split(';')[0]!;
    const viaCookie = await openSse(`${rig.api.url}/v1/notifications/events`, { cookie: value });
    expect(viaCookie.status).toBe(200);
    viaCookie.stream.close();
    expect((await fetch(`${rig.api.url}/v1/notifications/counts`, { headers: { cookie: value } })).status).toBe(401);
  });
});

describe('the overview', () => {
  it('counts sends, failures and 429s per provider, and sends and late ones per priority, from the counters', async () => {
    const user = unique('overview');
    const before = await getJson<{ priorities: { priority: string; sentLastHour: number }[]; providers: { channel: string; throttledLastHour: number }[] }>(
      '/v1/overview',
    );
    const sentBefore = before.priorities.find((p) => p.priority === 'medium')!.sentLastHour;
    const throttledBefore = before.providers.find((p) => p.channel === 'SMS')?.throttledLastHour ?? 0;
    await rig.sims.setFaults('sms', { failNext: { count: 1, status: 429, retryAfterSeconds: 1 } });
    const id = await sms(user);
    await waitStatus(id, ['SENT']);
    const after = await waitFor(
      'the send in the overview',
      () =>
        getJson<{
          priorities: { priority: string; sentLastHour: number; backlog: number; deadlineMs: number }[];
          providers: { channel: string; provider: string; sentLastHour: number; throttledLastHour: number; failedLastHour: number }[];
          series: Record<string, { sent: number; meanLatencyMs: number }[]>;
          mailboxes: Record<string, number>;
          mailings: unknown[];
        }>('/v1/overview'),
      (o) => o.priorities.find((p) => p.priority === 'medium')!.sentLastHour > sentBefore,
    );
    const medium = after.priorities.find((p) => p.priority === 'medium')!;
    expect(medium.sentLastHour).toBe(sentBefore + 1);
    expect(medium.deadlineMs).toBe(15 * 60_000);
    const provider = after.providers.find((p) => p.channel === 'SMS')!;
    expect(provider.throttledLastHour).toBe(throttledBefore + 1);
    expect(provider.failedLastHour).toBeGreaterThanOrEqual(1);
    expect(after.series.medium!.reduce((n, p) => n + p.sent, 0)).toBe(medium.sentLastHour);
    expect(after.mailboxes).toEqual({});
  });
});
