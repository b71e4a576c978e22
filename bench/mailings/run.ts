// Mailing benchmarks against the running stack (npm start):
//   ingest      — upload a generated CSV of BENCH_ROWS (1,000,000) rows; rows/s parsed (upload → SENDING)
//                 and the worker process's peak RSS (VmHWM of the stack's worker process); then cancels it.
//   utilisation — the seed-004 simulator and the send queue both at BENCH_RATE (20) requests/s (start the
//                 stack with SEED004_RATE_PER_SECOND=20); BENCH_SENDS (600) sends; achieved rate / limit, 429s.
// Usage: npx tsx bench/mailings/run.ts [ingest|utilisation|all]
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stackTarget } from '../lib.js';

const { apiUrl, apiKey } = stackTarget();
const seed004Url = process.env.SEED004_SIM_URL ?? 'http://127.0.0.1:4020';
const auth = { authorization: `Bearer ${apiKey}` };

async function upload(csv: Blob, name: string): Promise<string> {
  const form = new FormData();
  form.set('name', name);
  form.set('file', csv, `${name}.csv`);
  const response = await fetch(`${apiUrl}/v1/mailings`, { method: 'POST', headers: auth, body: form });
  if (response.status !== 202) throw new Error(`upload: ${response.status} ${await response.text()}`);
  return (await response.json() as { id: string }).id;
}

interface Mailing { status: string; counts: { total: number; valid: number; sent: number; queued: number } }
const get = async (id: string) => await (await fetch(`${apiUrl}/v1/mailings/${id}`, { headers: auth })).json() as Mailing;

function workerPeakRssMb(): string {
  try {
    const pids = execSync("pgrep -f 'workers/(all|main).ts'").toString().trim().split('\n');
    const peaks = pids.map((pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0));
    return `${(Math.max(...peaks) / 1024).toFixed(0)} MB`;
  } catch {
    return 'unknown (no local worker process found)';
  }
}

async function ingest(): Promise<void> {
  const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
  const lines = ['email'];
  for (let i = 0; i < rows; i++) lines.push(i % 100 === 99 ? `not-an-address-${i}` : `user${i}@bench.example.com`);
  const csv = new Blob([lines.join('\n'), '\n'], { type: 'text/csv' });
  console.log(`ingest: ${rows} rows, ${(csv.size / 1024 / 1024).toFixed(1)} MB; worker peak RSS before: ${workerPeakRssMb()}`);
  const t0 = performance.now();
  const id = await upload(csv, `bench-ingest-${rows}`);
  const uploaded = performance.now();
  let m = await get(id);
  while (m.status === 'PARSING' || m.status === 'PENDING') {
    await sleep(500);
    m = await get(id);
  }
  const parsed = performance.now();
  await fetch(`${apiUrl}/v1/mailings/${id}/cancel`, { method: 'POST', headers: auth });
  console.log(`  upload ${((uploaded - t0) / 1000).toFixed(1)} s; parse ${((parsed - uploaded) / 1000).toFixed(1)} s = ${(m.counts.total / ((parsed - uploaded) / 1000)).toFixed(0)} rows/s ` +
    `(${m.counts.total} rows, ${m.counts.valid} valid); status ${m.status}; worker peak RSS ${workerPeakRssMb()}`);
}

async function utilisation(): Promise<void> {
  const rate = Number(process.env.BENCH_RATE ?? 20);
  const sends = Number(process.env.BENCH_SENDS ?? 600);
  const control = (path: string, init?: RequestInit) => fetch(`${seed004Url}/_control/${path}`, init);
  await control('reset', { method: 'POST' });
  await control('config', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: rate, perSeconds: 1, transientFailureRate: 0 }) });
  const csv = new Blob([`email\n${Array.from({ length: sends }, (_, i) => `util${i}@bench.example.com`).join('\n')}\n`], { type: 'text/csv' });
  const id = await upload(csv, `bench-utilisation-${sends}`);
  let m = await get(id);
  while (m.status !== 'COMPLETED' && m.status !== 'FAILED') {
    await sleep(1_000);
    m = await get(id);
  }
  const ledger = await (await control('ledger')).json() as { sends: { acceptedAt: string }[]; duplicates: unknown[] };
  const stats = await (await control('stats')).json() as { byStatus: Record<string, number> };
  const times = ledger.sends.map((s) => Date.parse(s.acceptedAt)).sort((a, b) => a - b);
  const seconds = (times[times.length - 1]! - times[0]!) / 1000;
  const achieved = (ledger.sends.length - 1) / seconds;
  console.log(`utilisation: ${ledger.sends.length} sends in ${seconds.toFixed(1)} s = ${achieved.toFixed(2)}/s against a limit of ${rate}/s → ` +
    `${((achieved / rate) * 100).toFixed(1)}% of the limit; 429s seen ${stats.byStatus['429'] ?? 0}; duplicates ${ledger.duplicates.length}; mailing ${m.status}`);
}

const which = process.argv[2] ?? 'all';
if (which === 'ingest' || which === 'all') await ingest();
if (which === 'utilisation' || which === 'all') await utilisation();
