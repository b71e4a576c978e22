// What the webhook benches share: the running stack (its API, its database), the fast receiver in a process
// of its own, and an endpoint registered at it through the API.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { stackTarget } from '../lib.js';
import type { ReceiverCommand, ReceiverMessage } from './receiver.js';

export const { apiUrl, apiKey } = stackTarget();
export const database = postgres(process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow', { max: 1, onnotice: () => {} });
const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

export async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { ...auth, ...init.headers } });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export type Reached = Extract<ReceiverMessage, { type: 'reached' }>;
export type Arrival = Extract<ReceiverMessage, { type: 'arrival' }>;

export interface Receiver {
  url: string;
  /** Counts afresh; resolves when `target` distinct webhook-ids have arrived. */
  expect(target: number): Promise<Reached>;
  /** Counts afresh and hands over every arrival as it comes. */
  watch(onArrival: (arrival: Arrival) => void): void;
  close(): void;
}

export async function startReceiver(): Promise<Receiver> {
  const child = fork(fileURLToPath(new URL('./receiver.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  let onReached: ((reached: Reached) => void) | undefined;
  let onArrival: ((arrival: Arrival) => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (message: ReceiverMessage) => {
      if (message.type === 'listening') resolve(message.port);
      else if (message.type === 'reached') onReached?.(message);
      else onArrival?.(message);
    });
  });
  const command = (c: ReceiverCommand) => child.send(c);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    expect(target) {
      onArrival = undefined;
      command({ type: 'reset', target, forward: false });
      return new Promise((resolve) => (onReached = resolve));
    },
    watch(handler) {
      onArrival = handler;
      command({ type: 'reset', target: Number.MAX_SAFE_INTEGER, forward: true });
    },
    close: () => child.disconnect(),
  };
}

export interface Endpoint {
  id: string;
  secret: string;
  owner: string;
}

/** An endpoint of the bench key's tenant at `url`, through the API as a tenant registers one. */
export async function registerEndpoint(url: string, eventTypes: string[], fields: Record<string, unknown> = {}): Promise<Endpoint> {
  const { id, secret } = await call<{ id: string; secret: string }>(`${apiUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    body: JSON.stringify({ url, eventTypes, description: 'bench', ...fields }),
  });
  const [row] = await database<{ owner: string }[]>`select owner from webhook_endpoints where id = ${id}`;
  return { id, secret, owner: row!.owner };
}

/** Its deliveries go with it; its workflow ends at its next look. */
export const deleteEndpoint = (id: string) => call(`${apiUrl}/v1/webhook-endpoints/${id}`, { method: 'DELETE' });

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
