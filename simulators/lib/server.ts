// The frame every HTTP simulator shares: a Hono app with the control API (/_control/ledger, /faults,
// /reset) and a fault gate for the provider routes, served on a real port.
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultInjector, type Refusal } from './faults.js';
import { Ledger, type LedgerEntry } from './ledger.js';

export interface RunningSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface SimulatorFrame<E extends LedgerEntry> {
  app: Hono;
  ledger: Ledger<E>;
  faults: FaultInjector;
  /** The refusal for this request, if a fault applies (answer it with `refuse`). */
  gate(): Refusal | undefined;
  /** Waits the configured latency. */
  delay(): Promise<void>;
  onReset(fn: () => void): void;
}

export function createSimulatorFrame<E extends LedgerEntry>(): SimulatorFrame<E> {
  const app = new Hono();
  const ledger = new Ledger<E>();
  const faults = new FaultInjector();
  const resetHooks: (() => void)[] = [];
  app.get('/_control/ledger', (c) => c.json(ledger.all()));
  app.get('/_control/faults', (c) => c.json(faults.faults));
  app.put('/_control/faults', async (c) => {
    try {
      return c.json(faults.set(await c.req.json()));
    } catch (error) {
      return c.json({ error: 'invalid faults', detail: error instanceof Error ? error.message : String(error) }, 400);
    }
  });
  app.post('/_control/reset', (c) => {
    ledger.clear();
    faults.reset();
    for (const hook of resetHooks) hook();
    return c.body(null, 204);
  });
  return {
    app,
    ledger,
    faults,
    gate: () => faults.next(),
    delay: async () => {
      if (faults.faults.latencyMs > 0) await sleep(faults.faults.latencyMs);
    },
    onReset: (fn) => resetHooks.push(fn),
  };
}

export function refuse(c: Context, refusal: Refusal, body: Record<string, unknown>) {
  if (refusal.retryAfterSeconds !== undefined) c.header('Retry-After', String(refusal.retryAfterSeconds));
  return c.json(body, refusal.status as 400);
}

export async function listen(app: Hono, port = 0, host = '127.0.0.1'): Promise<RunningSimulator> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
