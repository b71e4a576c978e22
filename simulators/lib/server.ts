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

export interface FrameOptions<E extends LedgerEntry> {
  /** A simulator with faults of its own passes its injector (a FaultInjector with more fields). */
  faults?: FaultInjector;
  /** Ledger fields GET /_control/ledger filters by, each a query parameter of the same name (`?endpoint=demo`). */
  ledgerFilters?: (keyof E & string)[];
}

export function createSimulatorFrame<E extends LedgerEntry>(options: FrameOptions<E> = {}): SimulatorFrame<E> {
  const app = new Hono();
  const ledger = new Ledger<E>();
  const faults = options.faults ?? new FaultInjector();
  const filters = options.ledgerFilters ?? [];
  const resetHooks: (() => void)[] = [];
  app.get('/_control/ledger', (c) => {
    const query = c.req.query();
    return c.json(ledger.all().filter((entry) => filters.every((field) => query[field] === undefined || entry[field] === query[field])));
  });
  app.get('/_control/faults', (c) => c.json(faults.faults));
  app.put(
    '/_control/faults',
    jsonControl('faults', (patch) => faults.set(patch)),
  );
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

/** A control handler: `apply` takes the JSON body and gives what to answer; 400 `invalid <what>` when it
 * throws (a schema refused the body). */
export function jsonControl(what: string, apply: (body: unknown, c: Context) => object) {
  return async (c: Context) => {
    try {
      return c.json(apply(await c.req.json(), c));
    } catch (error) {
      return c.json({ error: `invalid ${what}`, detail: error instanceof Error ? error.message : String(error) }, 400);
    }
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
