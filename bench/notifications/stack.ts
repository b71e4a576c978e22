// What the notification benches read from the running stack, each cheap enough not to load what is
// measured: the workers' sent counter (one small scrape), and submitting one notification.
import http from 'node:http';
import postgres from 'postgres';
import { stackTarget } from '../lib.js';

export const { apiUrl, apiKey } = stackTarget();
export const runId = Date.now().toString(36);
export const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
/** npm start: the workers' metrics on the API port + 1. */
const workerMetricsUrl = process.env.BENCH_WORKER_METRICS_URL ?? `http://127.0.0.1:${Number(new URL(apiUrl).port || 80) + 1}/metrics`;

export type BenchPriority = 'HIGH' | 'MEDIUM' | 'LOW';

/** The body of request i: one user each, so the per-user limit is not what is measured. */
export function notificationBody(i: number, priority: BenchPriority, tag: string): Record<string, unknown> {
  return {
    userId: `bench-${runId}-${tag}-${i}`,
    type: 'SMS',
    templateId: 'ORDER_SHIPPED_SMS',
    to: `+1555${String(i % 10_000_000).padStart(7, '0')}`,
    templateParams: { orderId: `B${i}`, trackingUrl: 'https://t.example/x' },
    priority,
    correlationId: `bench-${runId}-${tag}`,
  };
}

/**
 * A JSON POST over `agent`'s keep-alive connections (node:http: far less client CPU per request than fetch,
 * which, many at once, opens a connection for each). A client with a pool of its own is one caller.
 */
export function postJson(url: string, body: unknown, agent: http.Agent, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const target = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: { ...extraHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            /* not JSON */
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** One notification through the API (through `agent`'s connections when given, else fetch's). */
export async function submit(i: number, priority: BenchPriority, tag: string, agent?: http.Agent): Promise<{ status: number; id?: string }> {
  if (agent) {
    const answer = await postJson(`${apiUrl}/v1/notifications`, notificationBody(i, priority, tag), agent, headers);
    const id = (answer.body as { id?: unknown } | null)?.id;
    return { status: answer.status, ...(typeof id === 'string' ? { id } : {}) };
  }
  const response = await fetch(`${apiUrl}/v1/notifications`, { method: 'POST', headers, body: JSON.stringify(notificationBody(i, priority, tag)) });
  const body = (await response.json()) as { id?: string };
  return { status: response.status, ...(body.id ? { id: body.id } : {}) };
}

/** Notifications sent so far by the workers (all channels), optionally of one priority. */
export async function sentCount(priority?: 'critical' | 'medium' | 'low'): Promise<number> {
  const text = await (await fetch(workerMetricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('mailflow_notifications_sent_total{')) continue;
    if (priority && !line.includes(`priority="${priority}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export interface Listed {
  id: string;
  status: string;
  priority: string;
  createdAt: string;
  sentAt: string | null;
  late: boolean;
}

/** Every notification of a correlation id: only after a run, never while it is being measured. */
export async function listAll(correlationId: string): Promise<Listed[]> {
  const out: Listed[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ correlationId, limit: '200', ...(cursor ? { cursor } : {}) });
    const page = (await (await fetch(`${apiUrl}/v1/notifications?${query}`, { headers })).json()) as { data: Listed[]; nextCursor: string | null };
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** Waits until the workers have nothing left to send (the counter stands still for 4 s). */
export async function waitIdle(): Promise<void> {
  let last = await sentCount();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const now = await sentCount();
    if (now === last) return;
    last = now;
  }
}

const database = postgres(process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow', { max: 1, onnotice: () => {} });

/** Notifications committed whose workflow has not been started yet. */
export async function outboxRows(): Promise<number> {
  const [row] = await database<{ rows: number }[]>`select count(*)::int as rows from notification_starts`;
  return row?.rows ?? 0;
}

/** Samples the start outbox every 2 s until stopped: the most rows waiting and the oldest one's age. */
export function watchOutbox(): () => Promise<{ rows: number; ageSeconds: number }> {
  const worst = { rows: 0, ageSeconds: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const [row] = await database<{ rows: number; age: number | null }[]>`
        select count(*)::int as rows, extract(epoch from now() - min(created_at))::float8 as age from notification_starts`;
      worst.rows = Math.max(worst.rows, row?.rows ?? 0);
      worst.ageSeconds = Math.max(worst.ageSeconds, row?.age ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return worst;
  };
}

export async function closeStack(): Promise<void> {
  await database.end({ timeout: 1 });
}

/** Steady drain rate: sent per second between two samples while a backlog remains. */
export async function measureRate(count: () => Promise<number>, seconds: number): Promise<{ rate: number; samples: number[] }> {
  const samples: number[] = [];
  const first = await count();
  const t0 = performance.now();
  samples.push(first);
  for (let s = 0; s < seconds; s += 5) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    samples.push(await count());
  }
  return { rate: (samples[samples.length - 1]! - first) / ((performance.now() - t0) / 1000), samples };
}
