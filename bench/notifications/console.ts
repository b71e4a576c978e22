// The operator console's read routes at scale: a tenant of its own holding BENCH_CONSOLE_ROWS (1,000,000)
// notifications, written straight into PostgreSQL by set-based statements (generate_series) with their status
// history, delivery attempts, some provider events and the last hour's minute counters; then, per case, the
// route at BENCH_CONSOLE_RATE (20) requests/s open loop for BENCH_SECONDS (30), latency from each request's due
// time, and beside it, at the same rate in the same run, the same SQL run bare through postgres.js (the
// limit): the list with each single filter and with the busiest two-filter combination, the counts per
// status, a notification's detail and the overview. Goal: route p99 ≤ 100 ms.
//
// The bare SQL is the route's own: each case calls the lib function the route calls (listNotifications,
// countByStatus, notificationDetail, notificationOverview with listMailings and mailboxStatusCounts) once,
// untimed, on a drizzle instance built as db/client.ts builds the API's (postgres.js, snake_case) whose
// logger records every statement and its parameters; the bare run sends those statements with those
// parameters on a postgres.js pool of the API's size (10), in the route's order: the detail's notification
// read, then its history, then attempts and provider events side by side; the overview's statements all at
// once, as its Promise.all does. What the route adds on top is HTTP, authentication, validation, drizzle's
// query building and row mapping, and rendering the JSON.
//
// The data is made once per database and tenant and reused (the tenant's key in .data/bench-console.json);
// BENCH_CONSOLE_REFILL=1 makes a new tenant. Needs the admin key (MAILFLOW_API_KEY) and DATABASE_URL.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from '../../db/schema/index.js';
import type { Database } from '../../db/client.js';
import { notificationDetail } from '../../lib/notifications/detail.js';
import { countByStatus, listNotifications, type NotificationFilters } from '../../lib/notifications/list.js';
import { notificationOverview } from '../../lib/notifications/overview.js';
import { listMailings } from '../../lib/mailings/service.js';
import { mailboxStatusCounts } from '../../lib/mailbox-sync/mailboxes.js';
import { stackCpuSecondsWindow } from '../processes.js';
import { describeRun, openLoop, type OpenLoopResult } from './open-loop.js';
import { apiKey as adminKey, apiUrl } from './stack.js';

const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 1_000_000);
const USERS = Number(process.env.BENCH_CONSOLE_USERS ?? 50_000);
const RATE = Number(process.env.BENCH_CONSOLE_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const GOAL_MS = 100;
const STATE_FILE = '.data/bench-console.json';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow';

interface BenchTenant {
  key: string;
  tenantId: string;
  /** The id prefix of the tenant's generated notifications. */
  prefix: string;
  rows: number;
}

function loadState(): Record<string, BenchTenant> {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as Record<string, BenchTenant>) : {};
}

async function createTenant(): Promise<{ key: string; tenantId: string }> {
  const response = await fetch(`${apiUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench-console-${Date.now().toString(36)}`, scopes: ['read', 'send'] }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/api-keys answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { key: string; tenantId: string };
}

/**
 * The tenant's notifications, history, attempts, provider events and minute counters, each table in one
 * statement. The mix: DELIVERED 45%, SENT 22%, OPENED 15%, FAILED 4%, PENDING 4%, DEAD_LETTERED 3%, RETRYING 3%,
 * CANCELLED 4%; EMAIL 60%, SMS 30%, PUSH 10%; critical 5%, medium 60%, low 35%; users skewed (index = USERS ·
 * u², so the busiest has about 0.45% of the rows); 10 templates (4 email, 3 SMS, 3 push) skewed the same way;
 * created over the last 30 days (PENDING and RETRYING within the last two hours); 2% of the sent late;
 * a correlation id per 4 rows; one recipient per user and channel.
 */
async function fill(sql: postgres.Sql, owner: string, prefix: string): Promise<void> {
  await sql`set synchronous_commit = off`;
  const t0 = performance.now();
  const step = 250_000;
  for (let from = 1; from <= ROWS; from += step) {
    const to = Math.min(ROWS, from + step - 1);
    await sql`
      insert into notifications (id, owner, user_id, channel, priority, template_id, template_version, template_params,
        recipient, recipients, subject, body, correlation_id, status, delivery_attempts, last_attempted_at, error_message,
        provider, provider_message_id, workflow_id, deadline_at, late, created_at, sent_at, delivered_at, opened_at, failed_at,
        dead_lettered_at)
      select id, ${owner}, 'user-' || lpad(u::text, 5, '0'), channel::notification_channel, priority::notification_priority,
             template, 1, jsonb_build_object('orderId', 'ORD-' || g, 'name', 'User ' || u),
             recipient, array[recipient], case when channel = 'EMAIL' then 'Your order ORD-' || g end,
             'Your order ORD-' || g || ' is on its way.', 'order-' || (g / 4), status::notification_status,
             attempts, case when attempts > 0 then created_at + interval '2 seconds' end,
             case when status in ('FAILED', 'DEAD_LETTERED', 'RETRYING') then 'provider answered 5xx' end,
             provider, case when status in ('SENT', 'DELIVERED', 'OPENED') then 'pm-' || id end, 'notification-' || id,
             created_at + deadline, late, created_at,
             case when status in ('SENT', 'DELIVERED', 'OPENED') then created_at + case when late then deadline * 1.5 else deadline * r4 * 0.1 end end,
             case when status in ('DELIVERED', 'OPENED') then created_at + deadline * 0.5 end,
             case when status = 'OPENED' then created_at + interval '1 hour' end,
             case when status = 'FAILED' then created_at + interval '5 minutes' end,
             case when status = 'DEAD_LETTERED' then created_at + interval '30 minutes' end
      from (
        select g, id, u, channel, priority, status, r4, deadline,
               case channel when 'EMAIL' then 'user' || u || '@bench.example' when 'SMS' then '+1555' || lpad(u::text, 7, '0')
                            else 'ptok-' || md5(u::text) end as recipient,
               channel || '_' || case channel when 'EMAIL' then (floor(4 * r5 * r5))::int when 'SMS' then (floor(3 * r5 * r5))::int
                                              else (floor(3 * r5 * r5))::int end as template,
               case channel when 'EMAIL' then case when r5 < 0.9 then 'mailgun' else 'smtp' end when 'SMS' then 'sms' else 'push' end as provider,
               case status when 'PENDING' then 0 when 'CANCELLED' then 0 when 'FAILED' then 3 when 'DEAD_LETTERED' then 3
                           when 'RETRYING' then 2 else 1 end as attempts,
               status in ('SENT', 'DELIVERED', 'OPENED') and r4 < 0.02 as late,
               case when status in ('PENDING', 'RETRYING') then now() - interval '2 hours' * r3
                    else now() - interval '30 days' * r3 end as created_at
        from (
          select g, ${prefix} || lpad(to_hex(g), 8, '0') as id, floor(${USERS} * r1 * r1)::int as u,
                 case when r2 < 0.6 then 'EMAIL' when r2 < 0.9 then 'SMS' else 'PUSH' end as channel,
                 case when r6 < 0.05 then 'critical' when r6 < 0.65 then 'medium' else 'low' end as priority,
                 case when r7 < 0.45 then 'DELIVERED' when r7 < 0.67 then 'SENT' when r7 < 0.82 then 'OPENED'
                      when r7 < 0.86 then 'FAILED' when r7 < 0.90 then 'PENDING' when r7 < 0.93 then 'DEAD_LETTERED'
                      when r7 < 0.96 then 'RETRYING' else 'CANCELLED' end as status,
                 case when r6 < 0.05 then interval '15 seconds' when r6 < 0.65 then interval '15 minutes' else interval '1 hour' end as deadline,
                 r3, r4, r5
          from (select g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6, random() r7
                from generate_series(${from}::int, ${to}::int) g) r
        ) s
      ) t`;
    console.log(`  notifications ${to.toLocaleString('en')} of ${ROWS.toLocaleString('en')} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  // History: PENDING first; then SENT, RETRYING or CANCELLED; then DELIVERED, FAILED or DEAD_LETTERED; OPENED last.
  await sql`
    insert into notification_status_history (notification_id, from_status, to_status, reason, at)
    select n.id, h.from_status::notification_status, h.to_status::notification_status, h.reason, h.at
    from notifications n cross join lateral (values
      (1, null, 'PENDING', 'accepted', n.created_at),
      (2, 'PENDING', case when n.status in ('SENT', 'DELIVERED', 'OPENED') then 'SENT' when n.status = 'CANCELLED' then 'CANCELLED'
                          when n.status <> 'PENDING' then 'RETRYING' end, null, coalesce(n.sent_at, n.last_attempted_at, n.created_at)),
      (3, case when n.status in ('DELIVERED', 'OPENED') then 'SENT' else 'RETRYING' end,
          case when n.status in ('DELIVERED', 'OPENED', 'FAILED', 'DEAD_LETTERED') then n.status::text end, null,
          coalesce(n.delivered_at, n.failed_at, n.dead_lettered_at, n.created_at)),
      (4, 'DELIVERED', case when n.status = 'OPENED' then 'OPENED' end, null, n.opened_at)
    ) as h(k, from_status, to_status, reason, at)
    where n.owner = ${owner} and h.to_status is not null
    order by n.id, h.k`;
  console.log(`  status history (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  await sql`
    insert into notification_attempts (notification_id, attempt, provider, outcome, error, latency_ms, started_at)
    select n.id, a, n.provider,
           case when a < n.delivery_attempts or n.status in ('FAILED', 'DEAD_LETTERED', 'RETRYING') then 'transient' else 'sent' end,
           case when a < n.delivery_attempts or n.status in ('FAILED', 'DEAD_LETTERED', 'RETRYING') then 'provider answered 503' end,
           80 + (a * 37) % 400, n.created_at + make_interval(secs => a * 2)
    from notifications n cross join lateral generate_series(1, n.delivery_attempts) a
    where n.owner = ${owner} and n.delivery_attempts > 0
    order by n.id, a`;
  console.log(`  delivery attempts (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  // Provider events: delivered (and opened) for one email in ten.
  await sql`
    insert into webhook_events (provider, event_id, event, notification_id, provider_message_id, occurred_at, received_at, payload)
    select 'mailgun', n.id || '-' || e.event, e.event, n.id, n.provider_message_id, e.at, e.at, jsonb_build_object('event', e.event)
    from notifications n cross join lateral (values ('delivered', n.delivered_at), ('opened', n.opened_at)) as e(event, at)
    where n.owner = ${owner} and n.channel = 'EMAIL' and n.provider = 'mailgun' and e.at is not null and right(n.id, 1) = '0'`;
  // The last hour's counters: every minute, priority, channel and provider, four shards.
  await sql`
    insert into notification_minute_stats (owner, minute, priority, channel, provider, shard, sent, late, failed, throttled, latency_ms_sum, latency_ms_max)
    select ${owner}, date_trunc('minute', now()) - make_interval(mins => m), p::notification_priority, c.channel::notification_channel,
           c.provider, s, 20 + (m * 7 + s) % 15, (m + s) % 3 / 2, (m * 3 + s) % 4 / 3, 0, (20 + (m * 7 + s) % 15) * 900, 2400
    from generate_series(0, 59) m, unnest(array['critical', 'medium', 'low']) p,
         (values ('EMAIL', 'mailgun'), ('EMAIL', 'smtp'), ('SMS', 'sms'), ('PUSH', 'push')) c(channel, provider), generate_series(0, 3) s`;
  console.log(`  provider events, minute counters (${((performance.now() - t0) / 1000).toFixed(0)} s); vacuum analyze…`);
  for (const table of ['notifications', 'notification_status_history', 'notification_attempts', 'webhook_events', 'notification_minute_stats']) {
    await sql.unsafe(`vacuum (analyze) ${table}`);
  }
  console.log(`  filled in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

async function benchTenant(sql: postgres.Sql): Promise<BenchTenant> {
  const state = loadState();
  const existing = state[`${databaseUrl} ${ROWS}`];
  if (existing && existing.rows === ROWS && process.env.BENCH_CONSOLE_REFILL !== '1') {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from notifications where owner = ${existing.tenantId}`;
    if (row && row.n >= existing.rows) {
      console.log(`console: reusing tenant ${existing.tenantId} (${row.n.toLocaleString('en')} notifications)`);
      return existing;
    }
  }
  const { key, tenantId } = await createTenant();
  const prefix = `ntf_bc${Date.now().toString(36)}_`;
  console.log(`console: filling tenant ${tenantId} with ${ROWS.toLocaleString('en')} notifications…`);
  await fill(sql, tenantId, prefix);
  const tenant = { key, tenantId, prefix, rows: ROWS };
  mkdirSync('.data', { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify({ ...state, [`${databaseUrl} ${ROWS}`]: tenant }, null, 2), { mode: 0o600 });
  return tenant;
}

interface Captured {
  text: string;
  params: unknown[];
}

interface Case {
  name: string;
  path: string;
  /** The route's statements, and how many of them go out together at each step (the route's order). */
  statements: Captured[];
  steps: number[];
  /** Rows the filter matches (list and counts cases), for the table. */
  matches?: number;
}

/** Runs `call` against a drizzle instance like the API's, recording what it sends. */
async function capture(sql: postgres.Sql, call: (db: Database) => Promise<unknown>): Promise<Captured[]> {
  const statements: Captured[] = [];
  const logger = {
    logQuery: (text: string, params: unknown[]) => {
      statements.push({ text, params });
    },
  };
  const db: Database = drizzle(sql, { schema, casing: 'snake_case', logger });
  await call(db);
  return statements;
}

/** The query string the route's filter parameters are (api/notifications/filters.ts). */
function queryOf(filters: NotificationFilters): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    q.set(name === 'channel' ? 'type' : name, value instanceof Date ? value.toISOString() : String(value));
  }
  return q.toString();
}

async function buildCases(sql: postgres.Sql, tenant: BenchTenant): Promise<Case[]> {
  const owner = tenant.tenantId;
  const [busy] = await sql<{ user_id: string; n: number }[]>`
    select user_id, count(*)::int as n from notifications where owner = ${owner} group by user_id order by 2 desc limit 1`;
  const [sample] = await sql<{ correlation_id: string; template_id: string; recipient: string }[]>`
    select correlation_id, template_id, recipient from notifications where owner = ${owner} and user_id = ${busy!.user_id} and channel = 'EMAIL'
    order by created_at desc limit 1`;
  const [topTemplate] = await sql<{ template_id: string }[]>`
    select template_id from notifications where owner = ${owner} group by 1 order by count(*) desc limit 1`;
  // The busiest pair of filters: the status and channel that match the most rows together.
  const [pair] = await sql<{ status: NotificationFilters['status']; channel: NotificationFilters['channel'] }[]>`
    select status, channel from notifications where owner = ${owner} group by 1, 2 order by count(*) desc limit 1`;
  // A notification with the most history and attempts: dead-lettered after three attempts, of the busy user.
  const [detailed] = await sql<{ id: string }[]>`
    select id from notifications where owner = ${owner} and user_id = ${busy!.user_id} and status = 'DEAD_LETTERED' order by created_at desc limit 1`;
  const day = 24 * 60 * 60_000;
  const until = new Date(Date.now() - 10 * day);
  const lists: [string, NotificationFilters][] = [
    ['no filter', {}],
    ['status=FAILED', { status: 'FAILED' }],
    ['late=true', { late: true }],
    [`userId (busiest, ${busy!.n.toLocaleString('en')} rows)`, { userId: busy!.user_id }],
    ['correlationId', { correlationId: sample!.correlation_id }],
    ['priority=critical', { priority: 'critical' }],
    ['type=SMS', { channel: 'SMS' }],
    [`templateId (busiest)`, { templateId: topTemplate!.template_id }],
    ['recipient', { recipient: sample!.recipient }],
    ['since/until (one day)', { since: new Date(until.getTime() - day), until }],
    [`status=${pair!.status}&type=${pair!.channel}`, { status: pair!.status, channel: pair!.channel }],
  ];
  const cases: Case[] = [];
  for (const [label, filters] of lists) {
    const query = queryOf(filters);
    cases.push({
      name: `list ${label}`,
      path: `/v1/notifications${query ? `?${query}` : ''}`,
      statements: await capture(sql, (db) => listNotifications(db, owner, filters, 50)),
      steps: [1],
    });
  }
  for (const [label, filters] of [
    ['no filter', {}],
    [`type=SMS`, { channel: 'SMS' }],
  ] as [string, NotificationFilters][]) {
    const query = queryOf(filters);
    cases.push({
      name: `counts ${label}`,
      path: `/v1/notifications/counts${query ? `?${query}` : ''}`,
      statements: await capture(sql, (db) => countByStatus(db, owner, filters)),
      steps: [1],
    });
  }
  const detailStatements = await capture(sql, (db) =>
    notificationDetail(
      { db, encryptor: { open: () => '' } as never, config: { TEMPORAL_UI_URL: undefined, TEMPORAL_NAMESPACE: 'default' } },
      owner,
      detailed!.id,
    ).catch(
      () => undefined, // the stand-in encryptor: only the statements matter here
    ),
  );
  cases.push({
    name: 'detail (dead-lettered: 3 status changes, 3 attempts)',
    path: `/v1/notifications/${detailed!.id}`,
    statements: detailStatements,
    steps: [1, 1, 2],
  });
  const overviewStatements = await capture(sql, (db) =>
    Promise.all([notificationOverview(db, owner), listMailings(db, owner, 20), mailboxStatusCounts(db, owner)]),
  );
  cases.push({ name: 'overview', path: '/v1/overview', statements: overviewStatements, steps: [overviewStatements.length] });
  return cases;
}

/** The route's statements in its order: each step's statements side by side, the steps one after another. */
async function runBare(sql: postgres.Sql, c: Case): Promise<number> {
  let at = 0;
  for (const size of c.steps) {
    const group = c.statements.slice(at, at + size);
    at += size;
    await Promise.all(group.map((s) => sql.unsafe(s.text, s.params as postgres.ParameterOrJSON<never>[])));
  }
  return 200;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, apiUrl);
    const request = http.get(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, agent, headers: { authorization: `Bearer ${key}` } },
      (response) => {
        response.on('data', () => {});
        response.on('error', reject);
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
  });
}

const cpuGroups = { api: /api\/server\.ts/, postgres: /^postgres/, 'this bench': /bench\/notifications\/run\.ts/ };

function cores(used: Record<string, number>, seconds: number): string {
  return Object.entries(used)
    .map(([g, s]) => `${g} ${(s / seconds).toFixed(2)}`)
    .join(', ');
}

export async function consoleBench(): Promise<void> {
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {}, connection: { application_name: 'bench-console' } });
  try {
    const tenant = await benchTenant(sql);
    const cases = await buildCases(sql, tenant);
    const only = process.env.BENCH_CONSOLE_CASES?.split(',');
    const rows: { name: string; route: OpenLoopResult; bare: OpenLoopResult; routeCpu: string; bareCpu: string }[] = [];
    console.log(`console: ${RATE}/s open loop for ${SECONDS} s per case, the route then its bare SQL; goal route p99 ≤ ${GOAL_MS} ms`);
    for (const c of cases) {
      if (only && !only.some((o) => c.name.startsWith(o))) continue;
      // Warm both paths (plans, connections) before timing: a few untimed requests.
      for (let i = 0; i < 5; i++) {
        await get(c.path, tenant.key);
        await runBare(sql, c);
      }
      let t0 = performance.now();
      let cpu = stackCpuSecondsWindow(cpuGroups, process.cwd());
      const route = await openLoop(RATE, SECONDS, () => get(c.path, tenant.key));
      const routeCpu = cores(cpu(), (performance.now() - t0) / 1000);
      t0 = performance.now();
      cpu = stackCpuSecondsWindow(cpuGroups, process.cwd());
      const bare = await openLoop(RATE, SECONDS, () => runBare(sql, c));
      const bareCpu = cores(cpu(), (performance.now() - t0) / 1000);
      console.log(describeRun(`  ${c.name}: GET ${c.path}`, route));
      console.log(`    CPU (cores): ${routeCpu}`);
      console.log(describeRun(`  ${c.name}: bare SQL (${c.statements.length} statements)`, bare));
      console.log(`    CPU (cores): ${bareCpu}`);
      rows.push({ name: c.name, route, bare, routeCpu, bareCpu });
    }
    console.log(`\nconsole, ${tenant.rows.toLocaleString('en')} notifications, ${RATE}/s for ${SECONDS} s each (ms from due time):`);
    console.log('| case | route p50 | route p99 | bare SQL p50 | bare SQL p99 | failed | goal p99 ≤ 100 ms |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const met = r.route.latency.p99 <= GOAL_MS && r.route.failed === 0;
      console.log(
        `| ${r.name} | ${r.route.latency.p50.toFixed(1)} | ${r.route.latency.p99.toFixed(1)} | ${r.bare.latency.p50.toFixed(1)} | ${r.bare.latency.p99.toFixed(1)} | ${r.route.failed} | ${met ? 'met' : '**not met**'} |`,
      );
    }
  } finally {
    agent.destroy();
    await sql.end({ timeout: 5 });
  }
}
