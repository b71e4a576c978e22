// Notification benchmarks against the running stack (npm start):
//   admission — POST /v1/notifications at a fixed concurrency: requests/s and API latency p50/p99;
//   drain     — a backlog of LOW plus a steady trickle of CRITICAL: end-to-end p50/p99 per priority
//               (acceptance → provider acceptance, from the API's createdAt/sentAt) and the drain rate.
// Usage: npx tsx bench/notifications/run.ts [admission|drain|all]
//   BENCH_REQUESTS (2000), BENCH_CONCURRENCY (32), BENCH_BACKLOG (20000), BENCH_CRITICAL_PER_SECOND (2)
import { setTimeout as sleep } from 'node:timers/promises';
import { pool, stackTarget, summarise } from '../lib.js';

const { apiUrl, apiKey } = stackTarget();
const runId = Date.now().toString(36);
const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

async function submit(i: number, priority: 'LOW' | 'HIGH' | 'MEDIUM', tag: string): Promise<{ ms: number; status: number; id?: string }> {
  const started = performance.now();
  const response = await fetch(`${apiUrl}/v1/notifications`, {
    method: 'POST', headers,
    body: JSON.stringify({
      // One user per request: the per-user admission limit is not what is being measured.
      userId: `bench-${runId}-${tag}-${i}`, type: 'SMS', templateId: 'ORDER_SHIPPED_SMS', to: `+1555${String(i % 10_000_000).padStart(7, '0')}`,
      templateParams: { orderId: `B${i}`, trackingUrl: 'https://t.example/x' }, priority, correlationId: `bench-${runId}-${tag}`,
    }),
  });
  const ms = performance.now() - started;
  const body = await response.json() as { id?: string };
  return { ms, status: response.status, ...(body.id ? { id: body.id } : {}) };
}

async function admission(): Promise<void> {
  const total = Number(process.env.BENCH_REQUESTS ?? 2_000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const started = performance.now();
  await pool(total, concurrency, async (i) => {
    const r = await submit(i, 'MEDIUM', 'adm');
    latencies.push(r.ms);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  });
  const seconds = (performance.now() - started) / 1000;
  const s = summarise(latencies);
  console.log(`admission: ${total} requests at concurrency ${concurrency} in ${seconds.toFixed(1)} s = ${(total / seconds).toFixed(0)} req/s; ` +
    `latency p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
}

interface Listed { id: string; status: string; priority: string; createdAt: string; sentAt: string | null; late: boolean }

async function listAll(correlationId: string): Promise<Listed[]> {
  const out: Listed[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ correlationId, limit: '200', ...(cursor ? { cursor } : {}) });
    const page = await (await fetch(`${apiUrl}/v1/notifications?${query}`, { headers })).json() as { data: Listed[]; nextCursor: string | null };
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

async function drain(): Promise<void> {
  const backlog = Number(process.env.BENCH_BACKLOG ?? 20_000);
  const criticalPerSecond = Number(process.env.BENCH_CRITICAL_PER_SECOND ?? 2);
  const started = Date.now();
  let submitting = true;
  let criticalCount = 0;
  const trickle = (async () => {
    while (submitting) {
      await submit(criticalCount++, 'HIGH', 'crit');
      await sleep(1000 / criticalPerSecond);
    }
  })();
  await pool(backlog, 32, async (i) => { await submit(i, 'LOW', 'low'); });
  const admittedSeconds = (Date.now() - started) / 1000;
  console.log(`drain: ${backlog} LOW admitted in ${admittedSeconds.toFixed(1)} s; CRITICAL trickle at ${criticalPerSecond}/s continues until the backlog drains`);
  let sentLow = 0;
  while (sentLow < backlog) {
    await sleep(5_000);
    const low = await listAll(`bench-${runId}-low`);
    sentLow = low.filter((n) => n.sentAt).length;
    console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${sentLow}/${backlog} LOW sent`);
  }
  submitting = false;
  await trickle;
  const drainedSeconds = (Date.now() - started) / 1000;
  await sleep(3_000);
  for (const [label, tag] of [['CRITICAL', 'crit'], ['LOW', 'low']] as const) {
    const rows = await listAll(`bench-${runId}-${tag}`);
    const sent = rows.filter((n) => n.sentAt);
    const s = summarise(sent.map((n) => (Date.parse(n.sentAt!) - Date.parse(n.createdAt)) / 1000));
    console.log(`  ${label}: ${sent.length}/${rows.length} sent; end-to-end p50 ${s.p50.toFixed(2)} s, p99 ${s.p99.toFixed(2)} s, max ${s.max.toFixed(2)} s; late ${rows.filter((n) => n.late).length}`);
  }
  console.log(`  drain rate: ${(backlog / drainedSeconds).toFixed(0)} LOW/s overall (${drainedSeconds.toFixed(0)} s from first submission to the last LOW sent)`);
}

const which = process.argv[2] ?? 'all';
if (which === 'admission' || which === 'all') await admission();
if (which === 'drain' || which === 'all') await drain();
