// Seed 001's day: its mix at its own rates (critical 10 K/day, medium 200 K/day, low 1 M/day: about 13.9/s)
// for BENCH_DAY_MINUTES (10), open loop, with one burst of BENCH_BURST (5,000) MEDIUM sent within one second
// at BENCH_BURST_AT_SECONDS (120). Afterwards, once everything is sent (or its deadline has passed), it
// lists the run's notifications once and reports deadlines missed (15 s / 15 min / 1 h, from acceptance) and
// critical end-to-end latency (acceptance → provider acceptance).
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise } from '../lib.js';
import { describeRun, openLoop } from './open-loop.js';
import { cpuWindow } from '../processes.js';
import { listAll, runId, sentCount, submit, waitIdle, type BenchPriority, type Listed } from './stack.js';

const perDay = { HIGH: 10_000, MEDIUM: 200_000, LOW: 1_000_000 } as const;
const deadlineMs: Record<string, number> = { critical: 15_000, medium: 900_000, low: 3_600_000 };

export async function dayBench(): Promise<void> {
  const minutes = Number(process.env.BENCH_DAY_MINUTES ?? 10);
  const burst = Number(process.env.BENCH_BURST ?? 5_000);
  const burstAt = Number(process.env.BENCH_BURST_AT_SECONDS ?? 120);
  const rate = Object.values(perDay).reduce((a, b) => a + b, 0) / 86_400;
  // Request i's priority: spread evenly in proportion to the day's mix.
  const mix: BenchPriority[] = [];
  const share = (p: keyof typeof perDay) => perDay[p] / (perDay.HIGH + perDay.MEDIUM + perDay.LOW);
  const counts = { HIGH: 0, MEDIUM: 0, LOW: 0 };
  const priorityOf = (i: number): BenchPriority => {
    const known = mix[i];
    if (known) return known;
    // The priority furthest behind its share so far.
    const next = (Object.keys(perDay) as (keyof typeof perDay)[]).sort((a, b) => counts[a] - share(a) * (i + 1) - (counts[b] - share(b) * (i + 1)))[0]!;
    counts[next]++;
    return (mix[i] = next);
  };
  const tag = (p: BenchPriority) => `day-${p.toLowerCase()}`;
  // A backlog left by an earlier run would be counted as this run's drain, and its deadlines as this run's.
  console.log('waiting for the workers to finish what earlier runs left');
  await waitIdle();
  const before = await sentCount();
  const cpu = cpuWindow();
  // CRITICAL requests' answers from their due time: what the caller waits before its notification is accepted.
  const criticalAnswers: number[] = [];
  // And when each CRITICAL request left this process, by id: end to end as its caller sees it.
  const criticalSentFrom = new Map<string, number>();
  const steady = openLoop(
    rate,
    minutes * 60,
    async (i) => {
      const leftAt = Date.now();
      const answer = await submit(i, priorityOf(i), tag(priorityOf(i)));
      if (mix[i] === 'HIGH' && answer.id) criticalSentFrom.set(answer.id, leftAt);
      return answer.status;
    },
    (i, ms) => {
      if (mix[i] === 'HIGH') criticalAnswers.push(ms);
    },
  );
  await sleep(burstAt * 1000);
  const spike = await openLoop(burst, 1, async (i) => (await submit(1_000_000 + i, 'MEDIUM', 'day-burst')).status);
  const mixed = await steady;
  console.log(`seed 001's day: ${minutes} min at ${rate.toFixed(1)}/s (${JSON.stringify(counts)}), a burst of ${burst} MEDIUM at ${burstAt} s`);
  console.log(describeRun('  steady admission', mixed));
  console.log(describeRun('  burst admission', spike));
  const answered = summarise(criticalAnswers);
  console.log(
    `  critical requests answered, from their due time: p50 ${answered.p50.toFixed(1)} ms, p99 ${answered.p99.toFixed(1)} ms, max ${answered.max.toFixed(1)} ms`,
  );
  const expected = mixed.ok + spike.ok;
  for (;;) {
    const sent = (await sentCount()) - before;
    if (sent >= expected) break;
    console.log(`  waiting for the drain: ${sent}/${expected} sent`);
    await sleep(10_000);
  }
  console.log(`  CPU over the run: ${cpu()}`);
  const rows: Listed[] = [];
  for (const t of ['day-high', 'day-medium', 'day-low', 'day-burst']) rows.push(...(await listAll(`bench-${runId}-${t}`)));
  for (const priority of ['critical', 'medium', 'low']) {
    const of = rows.filter((r) => r.priority === priority);
    const e2e = summarise(of.filter((r) => r.sentAt).map((r) => Date.parse(r.sentAt!) - Date.parse(r.createdAt)));
    const missed = of.filter((r) => r.late || (!r.sentAt && Date.now() - Date.parse(r.createdAt) > deadlineMs[priority]!)).length;
    console.log(
      `  ${priority}: ${of.length} notifications, deadline ${deadlineMs[priority]! / 1000} s missed by ${missed}; end to end p50 ${(e2e.p50 / 1000).toFixed(2)} s, ` +
        `p99 ${(e2e.p99 / 1000).toFixed(2)} s, max ${(e2e.max / 1000).toFixed(2)} s${priority === 'critical' ? ` (goal p99 ≤ 1 s: ${e2e.p99 <= 1000 ? 'met' : 'NOT met'})` : ''}`,
    );
  }
  const fromRequest = summarise(
    rows.filter((r) => r.priority === 'critical' && r.sentAt && criticalSentFrom.has(r.id)).map((r) => Date.parse(r.sentAt!) - criticalSentFrom.get(r.id)!),
  );
  console.log(
    `  critical end to end from the request leaving the client (HTTP included): p50 ${(fromRequest.p50 / 1000).toFixed(2)} s, ` +
      `p99 ${(fromRequest.p99 / 1000).toFixed(2)} s, max ${(fromRequest.max / 1000).toFixed(2)} s (n ${fromRequest.n})`,
  );
}
