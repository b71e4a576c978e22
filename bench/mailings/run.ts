// Mailing benchmarks against the running stack (npm start):
//   ingest      — a generated CSV of BENCH_ROWS (1,000,000) rows, written to a file: csv-parse alone streams it
//                 from disk (columns, bom, info on: the limit), then it is uploaded and parsed by the stack;
//                 rows/s parsed (upload done → SENDING), the ratio to csv-parse, and the RSS of the mailing worker
//                 process sampled every 200 ms during the ingest (start the stack with MAILING_WORKER_PROCESSES=1
//                 so the mailing role runs on its own); then cancels the mailing. It polls only the mailing's own
//                 row (GET /v1/mailings/{id}: counters, no count over the rows) once a second.
//   utilisation — two mailings at once against the seed-004 simulator's strict limit (bench/mailings/utilisation.ts:
//                 start the stack with the same limit and MAILING_WORKER_PROCESSES=2); sends/s beside the limit, 429s.
// Usage: npx tsx bench/mailings/run.ts [ingest|utilisation|all]
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { setTimeout as sleep } from 'node:timers/promises';
import { stackTarget } from '../lib.js';
import { cpuSecondsWindow } from '../processes.js';
import { upload, utilisation } from './utilisation.js';

const { apiUrl, apiKey } = stackTarget();
const auth = { authorization: `Bearer ${apiKey}` };

interface Mailing {
  status: string;
  sendingStartedAt: string | null;
  counts: { total: number; valid: number; sent: number; queued: number };
}
const get = async (id: string) => (await (await fetch(`${apiUrl}/v1/mailings/${id}`, { headers: auth })).json()) as Mailing;

/** Worker processes of the local stack, with their roles (from their environment). */
function workerProcesses(): { pid: number; roles: string; metricsPort: number }[] {
  const found: { pid: number; roles: string; metricsPort: number }[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!/workers\/main\.[jt]s/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const roles = /(?:^|\0)WORKER_ROLES=([^\0]*)/.exec(environ)?.[1] ?? 'all';
      found.push({ pid: Number(pid), roles, metricsPort: Number(/(?:^|\0)WORKER_METRICS_PORT=(\d+)/.exec(environ)?.[1] ?? 0) });
    } catch {
      /* gone, or not ours */
    }
  }
  return found;
}

/** Where a worker's memory is: its main V8 heap and Buffers (its own /metrics), the rest native (Temporal Core, workflow isolates, code). */
async function memoryBreakdown(worker: { pid: number; metricsPort: number }): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text().catch(() => '');
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 1024 / 1024;
  const [rss, heapUsed, heapTotal, external] = [
    rssMb(worker.pid),
    metric('nodejs_heap_size_used_bytes'),
    metric('nodejs_heap_size_total_bytes'),
    metric('nodejs_external_memory_bytes'),
  ];
  return `RSS ${rss.toFixed(0)} MB = main heap ${heapTotal.toFixed(0)} MB (${heapUsed.toFixed(0)} used) + Buffers ${external.toFixed(0)} MB + ${(rss - heapTotal - external).toFixed(0)} MB native (Temporal Core, workflow isolates, code)`;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** csv-parse alone over the file, with the options the issue names: the limit an ingest is measured against. */
async function csvParseAlone(path: string): Promise<{ rows: number; seconds: number }> {
  const t0 = performance.now();
  let rows = 0;
  for await (const record of createReadStream(path).pipe(parse({ columns: true, bom: true, info: true }))) if (record) rows++;
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

async function ingest(): Promise<void> {
  const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'mailflow-bench-'));
  const path = join(dir, 'list.csv');
  const lines = ['email'];
  for (let i = 0; i < rows; i++) lines.push(i % 100 === 99 ? `not-an-address-${i}` : `user${i}@bench.example.com`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  lines.length = 0;
  const file = readFileSync(path);
  const mailingWorker = workerProcesses().find((p) => p.roles === 'mailing') ?? workerProcesses().find((p) => p.roles.split(',').includes('mailing'));
  console.log(
    `ingest: ${rows} rows, ${(file.length / 1024 / 1024).toFixed(1)} MB; mailing worker ${mailingWorker ? `pid ${mailingWorker.pid} (roles ${mailingWorker.roles})` : 'not found'}`,
  );

  const limit = await csvParseAlone(path);
  const limitRate = limit.rows / limit.seconds;
  console.log(
    `  csv-parse alone (columns, bom, info), streaming the file from disk: ${limit.rows} rows in ${limit.seconds.toFixed(2)} s = ${limitRate.toFixed(0)} rows/s`,
  );

  const rssBefore = mailingWorker ? rssMb(mailingWorker.pid) : Number.NaN;
  if (mailingWorker?.metricsPort) console.log(`  mailing worker at rest: ${await memoryBreakdown(mailingWorker)}`);
  const samples: number[] = [];
  // Which process the parse's time goes to: the worker's parsing and batching, or PostgreSQL's inserts.
  const cpu = cpuSecondsWindow({
    'worker processes': /workers\/main\.[jt]s/,
    postgres: /^postgres/,
    api: /api\/server\.[jt]s/,
    'temporal dev server': /start-dev/,
  });
  const t0 = performance.now();
  const id = await upload(new Blob([file], { type: 'text/csv' }), `bench-ingest-${rows}`);
  const uploadedAt = Date.now();
  const uploaded = performance.now();
  // Sampled while the parse runs (not the process's lifetime peak); the poll reads one row a second.
  const sampler = setInterval(() => {
    if (mailingWorker) samples.push(rssMb(mailingWorker.pid));
  }, 200);
  let m = await get(id);
  while (m.status === 'PARSING' || m.status === 'PENDING') {
    await sleep(1_000);
    m = await get(id);
  }
  clearInterval(sampler);
  const cpuUsed = cpu();
  if (mailingWorker?.metricsPort) console.log(`  mailing worker right after: ${await memoryBreakdown(mailingWorker)}`);
  await fetch(`${apiUrl}/v1/mailings/${id}/cancel`, { method: 'POST', headers: auth });
  rmSync(dir, { recursive: true, force: true });
  // The parse ends when the activity writes SENDING (sendingStartedAt, the database's clock on this machine).
  const parseSeconds = ((m.sendingStartedAt ? Date.parse(m.sendingStartedAt) : Date.now()) - uploadedAt) / 1000;
  const rate = m.counts.total / parseSeconds;
  const rssDuring = samples.length ? Math.max(...samples) : Number.NaN;
  console.log(
    `  upload ${((uploaded - t0) / 1000).toFixed(1)} s; parse ${parseSeconds.toFixed(1)} s for ${m.counts.total} rows (${m.counts.valid} valid); status ${m.status}`,
  );
  console.log(
    `  CPU from upload to the end of the parse: ${Object.entries(cpuUsed)
      .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
      .join(', ')}`,
  );
  console.log(
    `  ingest ${rate.toFixed(0)} rows/s against csv-parse alone ${limitRate.toFixed(0)} rows/s in the same run: ratio ${(rate / limitRate).toFixed(2)} (goal ≥ 0.25) ${rate / limitRate >= 0.25 ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `  mailing worker RSS: ${rssBefore.toFixed(0)} MB before, at most ${rssDuring.toFixed(0)} MB during the ingest (${samples.length} samples; limit 300 MB) ${rssDuring <= 300 ? 'MET' : 'NOT MET'}` +
      `${mailingWorker?.roles === 'mailing' ? '' : ' — not a mailing-only process: start the stack with MAILING_WORKER_PROCESSES=1'}`,
  );
}

const which = process.argv[2] ?? 'all';
if (which === 'ingest' || which === 'all') await ingest();
if (which === 'utilisation' || which === 'all') await utilisation();
