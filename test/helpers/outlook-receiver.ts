// For the subscription tests: a webhook receiver (a real HTTP server on a free port that records every
// request and answers Graph's validation handshake by path: `/wrong`, `/fail`, `/slow`, `/json` answer it
// badly, any other path echoes the token; notifications get a per-path plan of statuses), and Graph calls.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeEach } from 'vitest';
import { useOutlook, type OutlookSim } from './outlook.js';
import { useRig } from './rig.js';

export interface ChangeNotification {
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  tenantId: string;
  clientState?: string;
  changeType?: 'created' | 'updated' | 'deleted';
  resource?: string;
  resourceData?: { '@odata.type': string; '@odata.id': string; '@odata.etag': string; id: string };
  lifecycleEvent?: string;
}
export interface Received {
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  text: string;
  at: number;
  /** The notification batch, for a request that is no handshake. */
  value?: ChangeNotification[];
}
/** A status to answer, or `hang` (never answer: the simulator's timeout ends it). */
export type Answer = number | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  handshakes(): Received[];
  /** Notification POSTs to a path (all paths if none). */
  posts(path?: string): Received[];
  /** Every notification received at a path, in order. */
  notifications(path?: string): ChangeNotification[];
  /** The next notification POSTs to `path` get these answers, then 202. */
  plan(path: string, answers: Answer[]): void;
  clear(): void;
  close(): Promise<void>;
}

/**
 * The file's simulator, with notifications on, and a receiver for them: both emptied before each test. The
 * receiver starts first, so that it closes last, after the simulator that posts to it.
 */
export function useNotifyingOutlook(): { sim: OutlookSim; hooks: Receiver } {
  const hooks = useRig(startReceiver);
  const sim = useOutlook({ notifications: TEST_NOTIFICATION_SETTINGS });
  beforeEach(() => {
    hooks.clear();
  });
  return { sim, hooks };
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const plans = new Map<string, Answer[]>();
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const token = url.searchParams.get('validationToken');
      const entry: Received = { path: url.pathname, query: url.searchParams, contentType: req.headers['content-type'], text, at: Date.now() };
      received.push(entry);
      if (token !== null) {
        const plain = { 'content-type': 'text/plain; charset=utf-8' };
        if (url.pathname === '/wrong') res.writeHead(200, plain).end('not the token');
        else if (url.pathname === '/fail') res.writeHead(500).end();
        else if (url.pathname === '/json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(token));
        else if (url.pathname === '/slow')
          setTimeout(() => {
            if (!res.destroyed) res.writeHead(200, plain).end(token);
          }, 1_000);
        else res.writeHead(200, plain).end(token);
        return;
      }
      entry.value = (JSON.parse(text) as { value: ChangeNotification[] }).value;
      const answer = plans.get(url.pathname)?.shift() ?? 202;
      if (answer !== 'hang') res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const posts = (path?: string) => received.filter((r) => r.value && (!path || r.path === path));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    handshakes: () => received.filter((r) => r.query.has('validationToken')),
    posts,
    notifications: (path) => posts(path).flatMap((r) => r.value!),
    plan: (path, answers) => {
      plans.set(path, [...answers]);
    },
    clear: () => {
      received.length = 0;
      plans.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` holds (or fails after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Graph's timeouts shortened so the tests stay fast. */
export const TEST_NOTIFICATION_SETTINGS = { validationTimeoutMs: 300, notificationTimeoutMs: 300, notificationRetryBaseMs: 100, notificationBatchMs: 50 };
export const IMMUTABLE = 'IdType="ImmutableId"';
export const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

export interface GraphAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Any method on Graph as the token's mailbox, JSON in and out. */
export async function graphCall(sim: OutlookSim, token: string, method: string, path: string, body?: unknown, prefer?: string): Promise<GraphAnswer> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(prefer ? { prefer } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** POST /v1.0/subscriptions: the whole mailbox, every change type, to the receiver's /hook, for an hour (patch to vary). */
export function subscribeWith(sim: OutlookSim, hooks: Receiver, token: string, patch: Record<string, unknown> = {}, prefer: string | null = IMMUTABLE) {
  return graphCall(
    sim,
    token,
    'POST',
    '/v1.0/subscriptions',
    {
      changeType: 'created,updated,deleted',
      notificationUrl: `${hooks.url}/hook`,
      resource: 'me/messages',
      expirationDateTime: inMinutes(60),
      clientState: 'secret-state',
      ...patch,
    },
    prefer ?? undefined,
  );
}
