// Seed 001's burst: BENCH_BURST (5,000) MEDIUM due within one second, on top of the day's steady stream (about
// 13.9/s of seed 001's mix) and a probe stream of BENCH_CRITICAL_RATE (2) CRITICAL per second, all open loop.
// In order, while the steady stream runs:
//   limit   — the same burst against a bare Hono route doing the single request's write (bare-route.ts);
//   single  — the burst as 5,000 POST /v1/notifications, over BENCH_CONNECTIONS (64) keep-alive connections;
//   bulk    — the burst as BENCH_BURST / BENCH_BULK_SIZE (50) calls of 100 to POST /v1/notifications/batch
//             (skipped, saying so, while the route answers 404).
// Before the streams start, the other limit: the same rows inserted by one bare unnest statement.
// Each phase ends once every request is answered and the start outbox is empty; its figures: answer times
// from each request's due time (burst, steady, critical), critical end to end (from the request leaving this
// process to SENT), the outbox over time and the API's pool connections by state (one query every 250 ms on a
// connection of the bench's own), the API's event-loop delay (two scrapes of its /metrics) and each process's
// CPU seconds (/proc).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { summarise } from '../lib.js';
import { stackCpuSecondsWindow } from '../processes.js';
import { describeRun, openLoop, type OpenLoopResult } from './open-loop.js';
import { apiUrl, headers, listAll, notificationBody, postJson, runId, submit, type BenchPriority } from './stack.js';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow';
const groups: Record<string, RegExp> = {
  api: /api\/server\.ts/,
  workers: /workers\/main\.[jt]s/,
  'sync worker': /workers\/mailbox-sync\.[jt]s/,
  'temporal dev server': /start-dev/,
  postgres: /^postgres/,
  simulators: /simulators\/main\.ts/,
  'bare route': /bare-route\.ts/,
  'this bench': /bench\/notifications\/run\.ts/,
};
const perDay = { HIGH: 10_000, MEDIUM: 200_000, LOW: 1_000_000 } as const;
const steadyRate = (perDay.HIGH + perDay.MEDIUM + perDay.LOW) / 86_400;

interface Answer {
  dueAt: number;
  ms: number;
}
interface Sample {
  at: number;
  starts: number;
  apiActive: number;
  apiIdleInTx: number;
  apiIdle: number;
  lockWaits: number;
  walWaits: number;
}

/** One query every 250 ms on its own connection: the outbox and the API's pool connections by state. */
function sampler(sql: postgres.Sql): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const next = Date.now() + 250;
      const [row] = await sql<Omit<Sample, 'at'>[]>`
        select (select count(*) from notification_starts)::int as starts,
               count(*) filter (where application_name = 'mailflow-api' and state = 'active')::int as "apiActive",
               count(*) filter (where application_name = 'mailflow-api' and state = 'idle in transaction')::int as "apiIdleInTx",
               count(*) filter (where application_name = 'mailflow-api' and state = 'idle')::int as "apiIdle",
               count(*) filter (where wait_event_type = 'Lock')::int as "lockWaits",
               count(*) filter (where wait_event in ('WALSync', 'WALWrite', 'WalSync'))::int as "walWaits"
          from pg_stat_activity where datname = current_database()`;
      samples.push({ at: Date.now(), ...row! });
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** The API's event-loop delay since the previous scrape (prom-client resets its histogram on each). */
async function eventLoopDelay(): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${apiUrl}/metrics`, { headers })).text();
  const value = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? Number.NaN) * 1000;
  return { p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds') };
}

/** The kernel's count of connections dropped because a listener's accept queue was full (machine-wide). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(' ') ?? [];
  const values = lines[1]?.split(' ') ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? Number.NaN);
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : 'n/a');
const pct = (s: ReturnType<typeof summarise>) => (s.n === 0 ? 'none' : `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)} (n ${s.n})`);
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

/**
 * What PostgreSQL alone takes for the burst's rows: each request's notification, history, outbox and
 * rate-limit hit, in one unnest statement and one commit; then deleted (before the start recovery's sweep
 * could see the outbox rows: it claims rows 10 s old).
 */
async function unnestBaseline(burst: number): Promise<number> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [real] = await sql<{ len: number }[]>`select coalesce(max(length(content_sealed)), 300)::int as len from notifications where priority = 'medium'`;
    const sealed = 'x'.repeat(real?.len ?? 300);
    const ids = Array.from({ length: burst }, (_, i) => `ntf_bench${runId}unnest${i}`);
    const t0 = performance.now();
    await sql.begin(async (tx) => {
      await tx`
        with ins as (
          insert into notifications (id, owner, user_id, channel, priority, template_id, template_version, recipient, recipients, body,
                                     content_sealed, correlation_id, workflow_id, deadline_at, created_at)
          select id, 'bench-unnest', 'bench-' || id, 'SMS', 'medium', 'ORDER_SHIPPED_SMS', 1, '+15550000000', array['+15550000000'], '',
                 ${sealed}, ${`bench-${runId}-unnest`}, 'notification-' || id, now() + interval '15 minutes', now()
            from unnest(${ids}::text[]) as t(id)
          returning id
        ),
        history as (
          insert into notification_status_history (notification_id, from_status, to_status, reason, at)
          select id, null, 'PENDING', 'accepted', now() from ins
        ),
        outbox as (
          insert into notification_starts (notification_id, start)
          select id, jsonb_build_object('notificationId', id, 'channel', 'SMS', 'priority', 'medium') from ins
        )
        insert into rate_limit_hits (key) select 'user:bench-' || id from ins`;
    });
    const elapsed = performance.now() - t0;
    await sql`delete from notification_starts where notification_id = any(${ids}::text[])`;
    await sql`delete from rate_limit_hits where key = any(${ids.map((id) => `user:bench-${id}`)}::text[])`;
    await sql`delete from notification_status_history where notification_id = any(${ids}::text[])`;
    await sql`delete from notifications where id = any(${ids}::text[])`;
    return elapsed;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

interface Phase {
  name: string;
  from: number;
  to: number;
  burst?: OpenLoopResult;
  /** Bulk: items accepted, of those sent; each item's answer from its due time. */
  items?: { accepted: number; sent: number; refused: Record<string, number> };
  cpu: Record<string, number>;
  seconds: number;
  loop?: { p99: number; max: number };
  overflows?: number;
}

export async function burstBench(): Promise<void> {
  const burst = Number(process.env.BENCH_BURST ?? 5_000);
  const bulkSize = Number(process.env.BENCH_BULK_SIZE ?? 100);
  const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
  const criticalRate = Number(process.env.BENCH_CRITICAL_RATE ?? 2);
  const barePort = Number(process.env.BENCH_BARE_PORT ?? 3999);
  const settle = 5_000;
  const waitStarts = process.env.BENCH_WAIT_STARTS !== '0';
  // BENCH_PHASES: which of limit, single, bulk to run (all by default).
  const wanted = new Set((process.env.BENCH_PHASES ?? 'limit,single,bulk').split(','));

  const unnestMs = await unnestBaseline(burst);
  console.log(`burst: ${burst} MEDIUM due within 1 s; steady stream ${steadyRate.toFixed(1)}/s of seed 001's mix and ${criticalRate}/s CRITICAL probes`);
  console.log(`  limit, PostgreSQL alone: the burst's ${burst} rows (notification, history, outbox, rate-limit hit) in one unnest statement: ${ms(unnestMs)}`);

  const db = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'mailflow-bench' } });
  const watch = sampler(db);
  const bare = spawn(process.execPath, ['--import', 'tsx', 'bench/notifications/bare-route.ts'], {
    env: { ...process.env, BARE_PORT: String(barePort), DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Each stream is a caller with keep-alive connections of its own; the burst's caller has
  // BENCH_CONNECTIONS (64) of them, as a client fleet or a load balancer would keep.
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
  // An idle connection is closed here before the API's keep-alive timeout (65 s) closes it: a request sent as
  // the server hangs up would fail with ECONNRESET (twice in 50 bulk calls after the single phase's drain).
  const keepAlive = { keepAlive: true, timeout: 55_000 };
  const agents = {
    steady: new http.Agent({ ...keepAlive, maxSockets: 16 }),
    probes: new http.Agent({ ...keepAlive, maxSockets: 16 }),
    burst: new http.Agent({ ...keepAlive, maxSockets: connections }),
  };
  const stop = new AbortController();
  const runCpu = stackCpuSecondsWindow(groups, process.cwd());
  const runStarted = Date.now();
  try {
    await once(bare.stdout, 'data');
    // The steady stream: request i's priority keeps the day's mix (the priority furthest behind its share).
    const counts = { HIGH: 0, MEDIUM: 0, LOW: 0 };
    const total = perDay.HIGH + perDay.MEDIUM + perDay.LOW;
    const mix: BenchPriority[] = [];
    const priorityOf = (i: number): BenchPriority =>
      (mix[i] ??= (() => {
        const p = (Object.keys(perDay) as (keyof typeof perDay)[]).sort(
          (a, b) => counts[a] - (perDay[a] / total) * (i + 1) - (counts[b] - (perDay[b] / total) * (i + 1)),
        )[0]!;
        counts[p]++;
        return p;
      })());
    const steadyAnswers: Answer[] = [];
    const criticalAnswers: Answer[] = [];
    const criticalLeft = new Map<string, number>();
    const critical = async (i: number, priority: BenchPriority, tag: string, agent: http.Agent) => {
      const leftAt = Date.now();
      const answer = await submit(i, priority, tag, agent);
      if (priority === 'HIGH' && answer.id) criticalLeft.set(answer.id, leftAt);
      return answer.status;
    };
    const steady = openLoop(
      steadyRate,
      86_400,
      (i) => critical(i, priorityOf(i), `steady-${priorityOf(i).toLowerCase()}`, agents.steady),
      (i, t) => (mix[i] === 'HIGH' ? criticalAnswers : steadyAnswers).push({ dueAt: Date.now() - t, ms: t }),
      stop.signal,
    );
    const probes = openLoop(
      criticalRate,
      86_400,
      (i) => critical(i, 'HIGH', 'probe', agents.probes),
      (_, t) => criticalAnswers.push({ dueAt: Date.now() - t, ms: t }),
      stop.signal,
    );
    await sleep(warmup * 1000);

    const phases: Phase[] = [];
    const runPhase = async (name: string, load: () => Promise<Omit<Phase, 'name' | 'from' | 'to' | 'cpu' | 'seconds' | 'loop' | 'overflows'> | null>) => {
      await eventLoopDelay();
      const cpu = stackCpuSecondsWindow(groups, process.cwd());
      const overflows = listenOverflows();
      const from = Date.now();
      const result = await load();
      if (!result) return;
      // The phase lasts until the workflow starts it caused are made: the outbox back to what the steady
      // stream keeps in it (a few rows, each started within milliseconds). BENCH_WAIT_STARTS=0: until its
      // last answer (admission alone, for quick comparisons; the next phase then shares the starts).
      for (; waitStarts;) {
        const last = watch.samples.at(-1);
        if (last && last.at > Date.now() - 300 && last.starts <= 10) break;
        await sleep(250);
      }
      const to = Date.now();
      const loop = await eventLoopDelay();
      phases.push({ name, from, to, cpu: cpu(), seconds: (to - from) / 1000, loop, overflows: listenOverflows() - overflows, ...result });
      await sleep(settle);
    };

    await runPhase('limit: bare Hono route, the same write', async () =>
      !wanted.has('limit')
        ? null
        : {
            burst: await openLoop(
              burst,
              1,
              async (i) =>
                (
                  await postJson(
                    `http://127.0.0.1:${barePort}/bare`,
                    { userId: `bench-${runId}-bare-${i}`, to: `+1555${String(i).padStart(7, '0')}`, correlationId: `bench-${runId}-bare` },
                    agents.burst,
                  )
                ).status,
            ),
          },
    );
    await runPhase('single: POST /v1/notifications', async () =>
      !wanted.has('single')
        ? null
        : {
            burst: await openLoop(burst, 1, async (i) => (await submit(1_000_000 + i, 'MEDIUM', 'burst-single', agents.burst)).status),
          },
    );

    const probe = await postJson(`${apiUrl}/v1/notifications/batch`, { items: [] }, agents.burst, headers);
    // 405: the path matches GET /v1/notifications/{id} only.
    if (!wanted.has('bulk')) console.log('  bulk: not in BENCH_PHASES');
    else if (probe.status === 404 || probe.status === 405)
      console.log(`  bulk: skipped, POST /v1/notifications/batch answers ${probe.status} here (the route is not in this build)`);
    else
      await runPhase(`bulk: ${Math.ceil(burst / bulkSize)} calls of ${bulkSize} to POST /v1/notifications/batch`, async () => {
        const items = { accepted: 0, sent: 0, refused: {} as Record<string, number> };
        const calls = Math.ceil(burst / bulkSize);
        const result = await openLoop(calls, 1, async (call) => {
          const batch = Array.from({ length: Math.min(bulkSize, burst - call * bulkSize) }, (_, k) => {
            const i = 2_000_000 + call * bulkSize + k;
            return { ...notificationBody(i, 'MEDIUM', 'burst-bulk'), idempotencyKey: `bench-${runId}-bulk-${i}` };
          });
          items.sent += batch.length;
          const response = await postJson(`${apiUrl}/v1/notifications/batch`, { items: batch }, agents.burst, headers);
          const body = response.body;
          const list: unknown = Array.isArray(body)
            ? body
            : ((body as Record<string, unknown> | null)?.results ?? (body as Record<string, unknown> | null)?.items);
          for (const item of Array.isArray(list) ? (list as Record<string, unknown>[]) : []) {
            // Accepted (or a duplicate of an earlier one): the item has its notification id and no error.
            if (item && typeof item.id === 'string' && !item.error) items.accepted++;
            else {
              const error = item?.error as Record<string, unknown> | string | undefined;
              const reason = JSON.stringify((typeof error === 'object' ? error.code : error) ?? item?.status ?? 'refused');
              items.refused[reason] = (items.refused[reason] ?? 0) + 1;
            }
          }
          return response.status;
        });
        return { burst: result, items };
      });

    stop.abort();
    const [steadyRun, probeRun] = await Promise.all([steady, probes]);
    await watch.stop();
    const cpuRun = runCpu();
    const runSeconds = (Date.now() - runStarted) / 1000;

    // Critical end to end: their rows, read once after the run (the workers send CRITICAL within seconds).
    await sleep(3_000);
    const sentAt = new Map<string, number>();
    for (const tag of ['steady-high', 'probe']) for (const r of await listAll(`bench-${runId}-${tag}`)) if (r.sentAt) sentAt.set(r.id, Date.parse(r.sentAt));
    const e2e = (from: number, to: number) =>
      summarise([...criticalLeft].filter(([id, left]) => left >= from && left <= to && sentAt.has(id)).map(([id, left]) => sentAt.get(id)! - left));
    const unsent = [...criticalLeft.keys()].filter((id) => !sentAt.has(id)).length;

    console.log(describeRun('  steady stream, whole run', steadyRun));
    console.log(describeRun('  critical probes, whole run', probeRun));
    console.log(`  critical end to end, whole run (request leaving the client → SENT): ${pct(e2e(0, Infinity))}; ${unsent} not SENT`);
    const cpuLine = (cpu: Record<string, number>, seconds: number) =>
      Object.entries(cpu)
        .filter(([, s]) => s > 0)
        .map(([g, s]) => `${g} ${s.toFixed(1)} s (${(s / seconds).toFixed(2)} cores)`)
        .join(', ');
    console.log(`  CPU over the whole run (${runSeconds.toFixed(0)} s): ${cpuLine(cpuRun, runSeconds)}`);

    const limit = wanted.has('limit') ? phases[0] : undefined;
    for (const phase of phases) {
      const within = (a: Answer) => a.dueAt >= phase.from && a.dueAt <= phase.to;
      const steadyIn = summarise(steadyAnswers.filter(within).map((a) => a.ms));
      const criticalIn = summarise(criticalAnswers.filter(within).map((a) => a.ms));
      const e2eIn = e2e(phase.from, phase.to);
      const b = phase.burst!;
      console.log(`\n  ${phase.name} (${phase.seconds.toFixed(1)} s until its last ${waitStarts ? 'start was made' : 'answer'})`);
      console.log(describeRun('    burst', b));
      if (phase.items) console.log(`    items: ${phase.items.accepted} of ${phase.items.sent} accepted; refused ${JSON.stringify(phase.items.refused)}`);
      console.log(`    steady stream meanwhile, from due time: ${pct(steadyIn)}`);
      console.log(`    critical answered meanwhile, from due time: ${pct(criticalIn)}; end to end from leaving the client: ${pct(e2eIn)}`);
      const mine = watch.samples.filter((s) => s.at >= phase.from && s.at <= phase.to);
      const perSecond: string[] = [];
      // Each second for the first ten, then each ten seconds.
      for (let t = 0; t * 1000 <= phase.to - phase.from; t += t < 10 ? 1 : 10) {
        const span = t < 10 ? 1 : 10;
        const inSecond = mine.filter((s) => s.at - phase.from >= t * 1000 && s.at - phase.from < (t + span) * 1000);
        if (inSecond.length === 0) continue;
        const last = inSecond.at(-1)!;
        perSecond.push(`${t}s ${last.starts}/${Math.max(...inSecond.map((s) => s.apiActive))}a${Math.max(...inSecond.map((s) => s.apiIdleInTx))}t`);
      }
      console.log(`    outbox rows / most API connections active (a) and idle in a transaction (t): ${perSecond.join(' ')}`);
      const peak = Math.max(0, ...mine.map((s) => s.starts));
      console.log(
        `    outbox peak ${peak} rows; lock waits seen ${Math.max(0, ...mine.map((s) => s.lockWaits))}, WAL waits seen ${Math.max(0, ...mine.map((s) => s.walWaits))}; ` +
          `API event-loop delay p99 ${ms(phase.loop!.p99)}, max ${ms(phase.loop!.max)}`,
      );
      console.log(`    CPU: ${cpuLine(phase.cpu, phase.seconds)}; connections dropped on full accept queues (machine-wide): ${phase.overflows}`);
      if (phase === limit && wanted.has('limit')) continue;
      if (phase.items) {
        const all = phase.items.accepted === burst;
        console.log(
          `    goal, every item accepted within 1 s of its due time: ${met(all && b.latency.max <= 1000)} (${phase.items.accepted}/${burst}, last answer ${ms(b.latency.max)}); ` +
            `bare route p99 ${ms(limit?.burst?.latency.p99 ?? Number.NaN)}, unnest ${ms(unnestMs)}`,
        );
      } else {
        console.log(
          `    goal, burst p99 ≤ 1 s from due time, none failed: ${met(b.latency.p99 <= 1000 && b.failed === 0)} (p99 ${ms(b.latency.p99)}, ${b.failed} failed) ` +
            `beside the bare route's p99 ${ms(limit?.burst?.latency.p99 ?? Number.NaN)} (${limit?.burst?.failed ?? 'n/a'} failed) and unnest's ${ms(unnestMs)} for all ${burst} rows`,
        );
      }
      console.log(`    goal, steady p99 ≤ 100 ms: ${met(steadyIn.p99 <= 100)} (${ms(steadyIn.p99)})`);
      console.log(`    goal, critical end to end p99 ≤ 1 s: ${met(e2eIn.n > 0 && e2eIn.p99 <= 1000)} (${ms(e2eIn.p99)}, n ${e2eIn.n})`);
    }
  } finally {
    stop.abort();
    bare.kill('SIGTERM');
    for (const agent of Object.values(agents)) agent.destroy();
    await watch.stop();
    await db.end({ timeout: 1 });
  }
}
