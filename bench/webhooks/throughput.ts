// Throughput: events delivered per second to a fast receiver, beside the receiver's own request rate from a
// bare client in the same run. Two bare clients, Node's own (node:http) and undici (what the workers post
// with), each over as many keep-alive connections as an endpoint's lanes (WEBHOOK_ENDPOINT_CONCURRENCY),
// each posting signed bodies of the same size one after another; the limit is the fastest of them. Mailflow:
// BENCH_EVENTS notification-status rows recorded into the outbox in one transaction, across BENCH_LANES
// lanes, timed from their commit until the receiver has counted every one, then checked in the database
// (every delivery SUCCEEDED after one attempt). Before each, an untimed warm-up of BENCH_WARMUP_EVENTS.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { newId } from '../../lib/ids.js';
import { payloadOf } from '../../lib/webhooks/projector.js';
import { signerFor } from '../../lib/webhooks/signing.js';
import { stackCpuSecondsWindow } from '../processes.js';
import { database, deleteEndpoint, registerEndpoint, seconds, startReceiver, type Endpoint, type Receiver } from './stack.js';

const events = Number(process.env.BENCH_EVENTS ?? 20_000);
const lanes = Number(process.env.BENCH_LANES ?? 64);
const warmup = Number(process.env.BENCH_WARMUP_EVENTS ?? 1_000);
/** As the stack's workers were started: the endpoint's lanes sent at once. */
const connections = Number(process.env.WEBHOOK_ENDPOINT_CONCURRENCY ?? 8);

/** This checkout's processes a delivery runs through: which one is the wall. */
const groups: Record<string, RegExp> = {
  workers: /workers\/main\.[jt]s/,
  postgres: /^postgres|bin\/postgres /,
  'temporal dev server': /start-dev/,
  api: /api\/server\.[jt]s/,
  receiver: /bench\/webhooks\/receiver/,
  'this bench': /bench\/webhooks\/run/,
};
const root = process.cwd();

/** Each group's CPU over a window, in cores, and one group's CPU per item (ms). */
function cpuWindow(): (elapsedMs: number, items: number, per: string) => string {
  const used = stackCpuSecondsWindow(groups, root);
  return (elapsedMs, items, per) => {
    const cpu = used();
    const cores = Object.entries(cpu).map(([name, s]) => `${name} ${(s / (elapsedMs / 1000)).toFixed(2)}`);
    return `${cores.join(', ')} cores; ${per} ${((cpu[per]! * 1000) / items).toFixed(3)} ms of CPU per item`;
  };
}

/** An event's data as the notification-status trigger records it, with its lane and place in the lane. */
function eventData(tag: string, lane: number, seq: number): Record<string, unknown> {
  return {
    notificationId: `ntf_bench${tag}l${lane}`,
    status: 'SENT',
    previousStatus: 'SENDING',
    reason: null,
    at: new Date().toISOString(),
    channel: 'SMS',
    priority: 'medium',
    userId: `bench-${tag}-${lane}`,
    correlationId: `bench-${tag}`,
    templateId: 'ORDER_SHIPPED_SMS',
    benchSeq: seq,
  };
}

/** The two bare clients: Node's own, and undici (what the workers post with, lib/webhooks/post.ts). */
export type BareClientKind = 'node:http' | 'undici';

/** A poster over `connections` keep-alive connections: posts and answers the status. */
function bareHttp(kind: BareClientKind): { post: (url: URL, headers: Record<string, string>, body: string) => Promise<number>; close: () => Promise<void> } {
  if (kind === 'undici') {
    const agent = new Agent({ connections });
    return {
      async post(url, headers, body) {
        const response = await agent.request({ origin: url.origin, path: url.pathname, method: 'POST', headers, body });
        await response.body.dump();
        return response.statusCode;
      },
      close: () => agent.close(),
    };
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return {
    post: (url, headers, body) =>
      new Promise((resolve, reject) => {
        const request = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        });
        request.on('error', reject);
        request.end(body);
      }),
    close: () => Promise.resolve(agent.destroy()),
  };
}

/** A bare client: `total` signed posts over `connections` keep-alive connections, each one after another. */
async function bareClient(
  kind: BareClientKind,
  receiver: Receiver,
  secret: string,
  total: number,
): Promise<{ kind: BareClientKind; rate: number; failed: number; bodyBytes: number; cpu: string }> {
  const url = new URL(receiver.url);
  const client = bareHttp(kind);
  const tag = `bare${Date.now().toString(36)}`;
  const sign = signerFor([secret]);
  const reached = receiver.expect(total);
  let next = 0;
  let failed = 0;
  let bodyBytes = 0;
  const cpu = cpuWindow();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < total) {
        const i = next++;
        const body = JSON.stringify(payloadOf({ type: 'notification.sent', occurredAt: new Date(), data: eventData(tag, i % lanes, i) }));
        bodyBytes = body.length;
        if ((await client.post(url, sign(newId('msg'), new Date(), body), body)) !== 204) failed++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  const used = cpu(elapsed, total, 'this bench');
  await client.close();
  if (failed === 0) await reached;
  return { kind, rate: total / (elapsed / 1000), failed, bodyBytes, cpu: used };
}

/** Both bare clients, each after an untimed warm-up. */
async function bareClients(receiver: Receiver, secret: string, when: string) {
  const runs = [];
  for (const kind of ['node:http', 'undici'] as const) {
    await bareClient(kind, receiver, secret, warmup);
    const run = await bareClient(kind, receiver, secret, events);
    console.log(
      `  bare client ${when}, ${kind}, ${connections} keep-alive connections: ${run.rate.toFixed(0)} requests/s (${run.failed} failed; bodies of ${run.bodyBytes} bytes); ${run.cpu}`,
    );
    runs.push(run);
  }
  return runs;
}

interface MailflowRun {
  rate: number;
  recordMs: number;
  projectedMs: number;
  firstMs: number;
  whileProjecting: number;
  afterProjection: number;
  statuses: string;
  duplicates: number;
  outOfOrder: number;
  bodyBytes: number;
  cpu: string;
}

/** Arrivals per second in [from, to] (epoch ms). */
function rateBetween(arrivals: number[], from: number, to: number): number {
  return arrivals.filter((at) => at >= from && at <= to).length / Math.max(0.001, (to - from) / 1000);
}

/** `total` events recorded in one transaction, timed from its commit until the receiver has counted them all. */
async function mailflow(receiver: Receiver, endpoint: Endpoint, total: number): Promise<MailflowRun> {
  const tag = Date.now().toString(36);
  const [{ before } = { before: 0 }] = await database<{ before: number }[]>`select coalesce(max(id), 0)::float8 as before from webhook_deliveries`;
  const reached = receiver.expect(total);
  const r0 = performance.now();
  // As the trigger records them (webhook_record), in one transaction whose commit wakes the projector.
  await database.begin(async (sql) => {
    await sql`
      insert into webhook_outbox (owner, source, ordering_key, data)
      select ${endpoint.owner}, 'notification', 'ntf_bench' || ${tag} || 'l' || (i % ${lanes}),
        jsonb_build_object('notificationId', 'ntf_bench' || ${tag} || 'l' || (i % ${lanes}), 'status', 'SENT', 'previousStatus', 'SENDING',
          'reason', null, 'at', now(), 'channel', 'SMS', 'priority', 'medium', 'userId', 'bench-' || ${tag} || '-' || (i % ${lanes}),
          'correlationId', 'bench-' || ${tag}, 'templateId', 'ORDER_SHIPPED_SMS', 'benchSeq', i)
      from generate_series(0, ${total - 1}) as i order by i`;
    await sql`select pg_notify('webhook_outbox', '')`;
  });
  const cpu = cpuWindow();
  const t0 = performance.now();
  const epoch0 = performance.timeOrigin + t0;
  // The outbox watched from this connection, 10 times a second, until the projector has taken every row.
  let projectedMs = Number.NaN;
  const watching = (async () => {
    while (Number.isNaN(projectedMs)) {
      const [row] = await database<{ empty: boolean }[]>`select not exists (select 1 from webhook_outbox) as empty`;
      if (row!.empty) projectedMs = performance.now() - t0;
      else await sleep(100);
    }
  })();
  const done = await reached;
  const [firstAt, lastAt] = [done.arrivals[0]!, done.arrivals[done.arrivals.length - 1]!];
  const elapsed = lastAt - epoch0;
  const used = cpu(elapsed, total, 'workers');
  await watching;
  // Every attempt is recorded once its round's batch is: wait for the last batch's record.
  let statuses = '';
  for (let i = 0; i < 100; i++) {
    const rows = await database<{ status: string; n: number; attempts: number }[]>`
      select status::text, count(*)::int as n, sum(attempts)::int as attempts from webhook_deliveries
      where endpoint_id = ${endpoint.id} and id > ${before} group by status order by status`;
    statuses = rows.map((r) => `${r.status} ${r.n.toLocaleString('en')} (${r.attempts.toLocaleString('en')} attempts)`).join(', ');
    if (rows.length === 1 && rows[0]!.status === 'SUCCEEDED' && rows[0]!.n === total) break;
    await sleep(100);
  }
  const [{ bytes } = { bytes: 0 }] = await database<{ bytes: number }[]>`
    select octet_length(payload::text) as bytes from webhook_deliveries where endpoint_id = ${endpoint.id} and id > ${before} limit 1`;
  return {
    rate: total / (elapsed / 1000),
    recordMs: t0 - r0,
    projectedMs,
    firstMs: firstAt - epoch0,
    whileProjecting: rateBetween(done.arrivals, firstAt, epoch0 + projectedMs),
    afterProjection: rateBetween(done.arrivals, epoch0 + projectedMs, lastAt),
    statuses,
    duplicates: done.duplicates,
    outOfOrder: done.outOfOrder,
    bodyBytes: bytes,
    cpu: used,
  };
}

export async function throughputBench(): Promise<void> {
  console.log(
    `throughput: ${events.toLocaleString('en')} events over ${lanes} lanes; endpoint concurrency ${connections} (WEBHOOK_ENDPOINT_CONCURRENCY as the stack was started); warm-ups of ${warmup.toLocaleString('en')}`,
  );
  const receiver = await startReceiver();
  const endpoint = await registerEndpoint(receiver.url, ['notification.sent']);
  try {
    // The bare clients before and after Mailflow: the limit is the fastest of them.
    const before = await bareClients(receiver, endpoint.secret, 'before');
    await mailflow(receiver, endpoint, warmup);
    const run = await mailflow(receiver, endpoint, events);
    console.log(
      `  Mailflow: ${run.rate.toFixed(0)} events/s from the outbox commit to the receiver's last count (the insert itself ${seconds(run.recordMs)}, not counted); ` +
        `first webhook at ${seconds(run.firstMs)}, outbox projected by ${seconds(run.projectedMs)} (${run.whileProjecting.toFixed(0)}/s meanwhile, ${run.afterProjection.toFixed(0)}/s after); payloads of ${run.bodyBytes} bytes`,
    );
    console.log(`    deliveries: ${run.statuses}; the receiver saw ${run.duplicates} duplicates, ${run.outOfOrder} out of lane order; ${run.cpu}`);
    const after = await bareClients(receiver, endpoint.secret, 'after');
    const fastest = (kind: BareClientKind) => Math.max(...[...before, ...after].filter((r) => r.kind === kind).map((r) => r.rate));
    const limit = Math.max(fastest('node:http'), fastest('undici'));
    const ratio = run.rate / limit;
    console.log(
      `  => ${run.rate.toFixed(0)} events/s against the fastest bare client's ${limit.toFixed(0)} requests/s (undici ${fastest('undici').toFixed(0)}, node:http ${fastest('node:http').toFixed(0)}): ` +
        `ratio ${ratio.toFixed(2)}, goal ≥ 0.5: ${ratio >= 0.5 ? 'met' : 'NOT met'} (against node:http alone ${(run.rate / fastest('node:http')).toFixed(2)})`,
    );
  } finally {
    await deleteEndpoint(endpoint.id);
    receiver.close();
  }
}
