// An open-loop load generator: request i is due at start + i / rate whatever earlier requests are doing, and
// its latency is counted from that due time (not from when it was actually sent), so a server that falls
// behind shows it in the figures instead of silently slowing the load (no coordinated omission).
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise } from '../lib.js';

export interface OpenLoopResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  /** ms from each request's due time to its answer. */
  latency: ReturnType<typeof summarise>;
  /** How late the generator itself sent requests (its own event loop): large values void the run. */
  sendLag: ReturnType<typeof summarise>;
  seconds: number;
}

/**
 * `onAnswer`: each request's latency from its due time, for a breakdown by kind. `stop`: no request is sent
 * once it is aborted (a background stream that ends with the phases it accompanies).
 */
export async function openLoop(
  ratePerSecond: number,
  seconds: number,
  request: (i: number) => Promise<number>,
  onAnswer?: (i: number, ms: number) => void,
  stop?: AbortSignal,
): Promise<OpenLoopResult> {
  const total = Math.round(ratePerSecond * seconds);
  const latencies: number[] = [];
  const lags: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now() + 100;
  let sent = 0;
  for (let i = 0; i < total && !stop?.aborted; i++) {
    const due = start + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    if (stop?.aborted) break;
    sent++;
    lags.push(Math.max(0, performance.now() - due));
    inFlight.push(
      request(i).then(
        (status) => {
          latencies.push(performance.now() - due);
          onAnswer?.(i, performance.now() - due);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) ok++;
        },
        (error: unknown) => {
          latencies.push(performance.now() - due);
          // fetch's TypeError says only "fetch failed": its cause names the socket error.
          const cause = error instanceof Error ? (error.cause as { code?: string } | undefined)?.code : undefined;
          const key = error instanceof Error ? ((error as { code?: string }).code ?? (cause ? `${error.name}:${cause}` : error.name)) : 'error';
          statuses[key] = (statuses[key] ?? 0) + 1;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  return {
    sent,
    ok,
    failed: sent - ok,
    statuses,
    latency: summarise(latencies),
    sendLag: summarise(lags),
    seconds: (performance.now() - start) / 1000,
  };
}

export function describeRun(label: string, r: OpenLoopResult): string {
  return (
    `${label}: ${r.sent} requests at ${(r.sent / r.seconds).toFixed(1)}/s open loop; from the due time p50 ${r.latency.p50.toFixed(1)} ms, ` +
    `p99 ${r.latency.p99.toFixed(1)} ms, max ${r.latency.max.toFixed(1)} ms; failed ${r.failed}; statuses ${JSON.stringify(r.statuses)}; ` +
    `generator lag p99 ${r.sendLag.p99.toFixed(1)} ms`
  );
}
