// Propagation: a change made in a linked Outlook mailbox (the simulator, pushing Graph change notifications
// to the API) to its webhook's arrival at the fast receiver. BENCH_ACTIONS (40) actions one at a time,
// BENCH_PAUSE_MS (500) apart, alternating a new message in the inbox (message.created) and a move of an
// inbox message to the archive (message.moved); each timed from the simulator's answer to the arrival of
// the webhook naming that message. Held against 2 s with push (the limit the sync itself is held to).
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise, percentile } from '../lib.js';
import { act, call, linkMailbox, outlookUrl, waitLive } from '../outlook.js';
import { stackCpuSecondsWindow } from '../processes.js';
import { apiUrl, deleteEndpoint, registerEndpoint, seconds, startReceiver, call as callApi, type Arrival } from './stack.js';

const actions = Number(process.env.BENCH_ACTIONS ?? 40);
const pauseMs = Number(process.env.BENCH_PAUSE_MS ?? 500);
const LIMIT_MS = 2_000;

/** This checkout's processes a change goes through on its way to the webhook. */
const groups: Record<string, RegExp> = {
  simulators: /simulators\/main\.[jt]s/,
  api: /api\/server\.[jt]s/,
  'sync worker': /workers\/mailbox-sync\.[jt]s/,
  workers: /workers\/main\.[jt]s/,
  elasticsearch: /org\.elasticsearch\.bootstrap/,
  postgres: /^postgres|bin\/postgres /,
  'temporal dev server': /start-dev/,
  receiver: /bench\/webhooks\/receiver/,
};

interface MessageEvent {
  type: string;
  data: { message?: { id: string } };
}

export async function propagationBench(): Promise<void> {
  const receiver = await startReceiver();
  const { mailboxId, address } = await linkMailbox(150);
  const progress = await waitLive(mailboxId);
  if (!progress.push.healthy) console.log('  (push is not healthy: the stack polls, and the limit below does not apply)');
  const endpoint = await registerEndpoint(receiver.url, ['message.created', 'message.moved'], { mailboxId });
  console.log(
    `propagation: ${actions} actions in a linked 150-message mailbox (${progress.push.healthy ? 'push' : 'polling'}), ${pauseMs} ms apart, simulator answer → webhook at the receiver; limit p99 ≤ ${seconds(LIMIT_MS)}`,
  );

  // Arrivals by `type:messageId`; an action waits for its own (or finds it already there).
  const arrived = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  receiver.watch((arrival: Arrival) => {
    const body = JSON.parse(arrival.body) as MessageEvent;
    const key = `${body.type}:${body.data.message?.id}`;
    if (arrived.has(key)) return;
    arrived.set(key, arrival.at);
    waiters.get(key)?.(arrival.at);
  });
  const arrival = (key: string) =>
    Promise.race([
      new Promise<number>((resolve) => (arrived.has(key) ? resolve(arrived.get(key)!) : waiters.set(key, resolve))),
      sleep(30_000).then(() => Number.NaN),
    ]);

  const latencies: Record<string, number[]> = { 'message.created': [], 'message.moved': [] };
  const slowest: { i: number; type: string; ms: number }[] = [];
  let missed = 0;
  const inbox = await call<{ id: string }[]>(`${outlookUrl}/_control/mailboxes/${encodeURIComponent(address)}/messages?folder=inbox`);
  const cpu = stackCpuSecondsWindow(groups, process.cwd());
  const t0 = performance.now();
  try {
    for (let i = 0; i < actions; i++) {
      const created = i % 2 === 0;
      const message = created
        ? await act(address, { type: 'newMail', folder: 'inbox', subject: `bench ${i}` })
        : await act(address, { type: 'move', id: inbox.pop()!.id, to: 'archive' });
      const answeredAt = performance.timeOrigin + performance.now();
      const type = created ? 'message.created' : 'message.moved';
      const at = await arrival(`${type}:${message.id}`);
      if (Number.isNaN(at)) missed++;
      else {
        latencies[type]!.push(at - answeredAt);
        slowest.push({ i, type, ms: at - answeredAt });
      }
      await sleep(pauseMs);
    }
  } finally {
    await deleteEndpoint(endpoint.id);
    await callApi(`${apiUrl}/v1/mailboxes/${mailboxId}`, { method: 'DELETE' }).catch(() => undefined);
    receiver.close();
  }
  const elapsed = (performance.now() - t0) / 1000;
  const all = [...latencies['message.created']!, ...latencies['message.moved']!].sort((a, b) => a - b);
  const line = (values: number[]) => {
    const s = summarise(values);
    return `p50 ${seconds(s.p50)}, p95 ${seconds(
      percentile(
        [...values].sort((a, b) => a - b),
        95,
      ),
    )}, p99 ${seconds(s.p99)}, max ${seconds(s.max)} (${s.n})`;
  };
  for (const [type, values] of Object.entries(latencies)) console.log(`  ${type.padEnd(16)} ${line(values)}`);
  const worst = slowest.sort((a, b) => b.ms - a.ms).slice(0, 3);
  console.log(`  slowest: ${worst.map((w) => `#${w.i + 1} ${w.type} ${seconds(w.ms)}`).join(', ')}`);
  console.log(
    `  CPU over the ${elapsed.toFixed(0)} s: ${Object.entries(cpu())
      .map(([name, s]) => `${name} ${(s / elapsed).toFixed(2)}`)
      .join(', ')} cores`,
  );
  const p99 = percentile(all, 99);
  console.log(
    `  => all ${line(all)}; ${missed} never arrived (30 s); p99 ${seconds(p99)} against the limit ${seconds(LIMIT_MS)}: ${missed === 0 && p99 <= LIMIT_MS ? 'met' : 'NOT met'}`,
  );
}
