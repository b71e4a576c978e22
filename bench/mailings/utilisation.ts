// Send utilisation against the provider's limit: two mailings at once through the running stack (start it
// with the limit the simulator is set to here, and two mailing worker processes:
//   SEED004_RATE_PER_SECOND=20 SEED004_RATE_WINDOW_SECONDS=1 MAILING_WORKER_PROCESSES=2 npm start
//   SEED004_RATE_PER_SECOND=0.1 SEED004_RATE_WINDOW_SECONDS=10 MAILING_WORKER_PROCESSES=2 npm start).
// The seed-004 simulator is set to BENCH_REQUESTS (20) per BENCH_WINDOW_SECONDS (1), counted with its strict
// sliding window; BENCH_SENDS (600) recipients in two lists; the run ends when both complete or after
// BENCH_SECONDS (then both are cancelled). Prints the achieved sends/s beside the limit, the 429s, the largest
// number of accepted sends in any window of the provider's length, and the spacing between sends.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stackTarget } from '../lib.js';

const { apiUrl, apiKey } = stackTarget();
const seed004Url = process.env.SEED004_SIM_URL ?? 'http://127.0.0.1:4020';
const auth = { authorization: `Bearer ${apiKey}` };

/** Uploads a CSV as a new mailing; answers its id. */
export async function upload(csv: Blob, name: string): Promise<string> {
  const form = new FormData();
  form.set('name', name);
  form.set('file', csv, `${name}.csv`);
  const response = await fetch(`${apiUrl}/v1/mailings`, { method: 'POST', headers: auth, body: form });
  if (response.status !== 202) throw new Error(`upload: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

const status = async (id: string) => ((await (await fetch(`${apiUrl}/v1/mailings/${id}`, { headers: auth })).json()) as { status: string }).status;

/** How many worker processes of this stack (the ones pointed at this simulator) run the mailing role. */
function mailingWorkerProcesses(): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('workers/main.ts')) continue;
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (!environ.split('\0').includes(`SEED004_API_URL=${seed004Url}`)) continue;
      const roles = /(?:^|\0)WORKER_ROLES=([^\0]*)/.exec(environ)?.[1] ?? 'all';
      if (roles === 'all' || roles.split(',').includes('mailing')) count++;
    } catch {
      /* gone, or not ours */
    }
  }
  return count;
}

export async function utilisation(): Promise<void> {
  const requests = Number(process.env.BENCH_REQUESTS ?? process.env.BENCH_RATE ?? 20);
  const windowSeconds = Number(process.env.BENCH_WINDOW_SECONDS ?? 1);
  const sends = Number(process.env.BENCH_SENDS ?? 600);
  const maxSeconds = Number(process.env.BENCH_SECONDS ?? 600);
  const limit = requests / windowSeconds;
  const control = (path: string, init?: RequestInit) => fetch(`${seed004Url}/_control/${path}`, init);
  await control('reset', { method: 'POST' });
  const configured = await control('config', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests, perSeconds: windowSeconds, transientFailureRate: 0 }),
  });
  if (!configured.ok) throw new Error(`simulator config: ${configured.status} ${await configured.text()}`);
  const list = (tag: string, n: number) =>
    new Blob([`email\n${Array.from({ length: n }, (_, i) => `util-${tag}-${i}@bench.example.com`).join('\n')}\n`], { type: 'text/csv' });
  const half = Math.ceil(sends / 2);
  const ids = [await upload(list('a', half), `bench-utilisation-a-${half}`), await upload(list('b', sends - half), `bench-utilisation-b-${sends - half}`)];
  console.log(
    `utilisation: 2 mailings (${half} + ${sends - half}), ${mailingWorkerProcesses()} mailing worker process(es), provider limit ${requests} per ${windowSeconds} s (strict sliding window)`,
  );
  const started = Date.now();
  let done = false;
  while (!done && Date.now() - started < maxSeconds * 1000) {
    await sleep(1_000);
    done = (await Promise.all(ids.map(status))).every((s) => s === 'COMPLETED' || s === 'FAILED');
  }
  if (!done) for (const id of ids) await fetch(`${apiUrl}/v1/mailings/${id}/cancel`, { method: 'POST', headers: auth });

  const ledger = (await (await control('ledger')).json()) as { sends: { message_id: string; acceptedAt: string }[]; duplicates: unknown[] };
  // BENCH_LEDGER_OUT: keep what the simulator accepted (message ids and times) to set beside the workers' logs.
  if (process.env.BENCH_LEDGER_OUT)
    writeFileSync(process.env.BENCH_LEDGER_OUT, JSON.stringify(ledger.sends.map(({ message_id: id, acceptedAt }) => ({ id, acceptedAt }))));
  const stats = (await (await control('stats')).json()) as { byStatus: Record<string, number>; tokensIssued: number };
  const times = ledger.sends.map((s) => Date.parse(s.acceptedAt)).sort((a, b) => a - b);
  if (times.length < 2) throw new Error(`only ${times.length} send(s) accepted`);
  const seconds = (times[times.length - 1]! - times[0]!) / 1000;
  const achieved = (times.length - 1) / seconds;
  // The most sends accepted in any window of the provider's length (the simulator's own count: at most `requests`).
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowSeconds * 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  console.log(
    `  ${times.length} sends in ${seconds.toFixed(1)} s = ${achieved.toFixed(3)}/s against a limit of ${limit}/s → ${((achieved / limit) * 100).toFixed(1)}% of the limit; ` +
      `429s ${stats.byStatus['429'] ?? 0}; most sends in any ${windowSeconds} s window ${busiest} (limit ${requests}); ` +
      `spacing mean ${mean.toFixed(1)} ms, min ${Math.min(...gaps)} ms, max ${Math.max(...gaps)} ms; tokens ${stats.tokensIssued}; duplicates ${ledger.duplicates.length}; ` +
      `mailings ${done ? 'completed' : `cancelled after ${maxSeconds} s`}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await utilisation();
