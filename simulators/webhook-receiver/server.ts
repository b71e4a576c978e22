// A customer's endpoint for Mailflow's outbound webhooks (Standard Webhooks): POST /hooks/<name> takes any
// request, records it (every attempt: a retry arrives again with the same webhook-id), verifies its
// signature against the secrets registered for <name>, and answers 204 unless a fault of the receiver or of
// that endpoint says otherwise: a status (with Retry-After), a slow answer, or no answer at all.
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSimulatorFrame, listen, refuse, type RunningSimulator } from '../lib/server.js';
import { controlRoutes } from './control.js';
import { Endpoints, type SignatureHeaders } from './endpoints.js';
import { plan, ReceiverFaults, type Plan } from './faults.js';
import { receivedEntry, type ReceivedWebhook } from './received.js';

export type { AcceptedEvent, ReceivedWebhook } from './received.js';

export interface WebhookReceiverOptions {
  port?: number;
  host?: string;
}

export interface WebhookReceiver extends RunningSimulator {
  /** Every request received, in order; with a name, only that endpoint's. */
  ledger(endpoint?: string): ReceivedWebhook[];
}

const MAX_BODY_BYTES = 1024 * 1024;
const signatureHeaderNames = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const hostFaults = new ReceiverFaults();
  const frame = createSimulatorFrame<ReceivedWebhook>({ faults: hostFaults, ledgerFilters: ['endpoint'] });
  const endpoints = new Endpoints();
  frame.onReset(() => endpoints.clear());
  const tooLarge = (c: Context) => c.json({ error: 'payload_too_large', message: `the body is over ${MAX_BODY_BYTES} bytes` }, 413);
  frame.app.post('/hooks/:name', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge }), async (c) => {
    // Taken first: the server aborts only a signal that exists when the client closes the connection.
    const { signal } = c.req.raw;
    const name = c.req.param('name');
    const body = await c.req.text();
    const headers = signatureHeaders(c);
    const entry = frame.ledger.add(receivedEntry(name, headers, body, endpoints.verify(name, body, headers)));
    return answer(c, entry, plan([hostFaults, endpoints.faults(name)]), signal);
  });
  controlRoutes(frame.app, frame.ledger, endpoints);
  const running = await listen(frame.app, options.port, options.host);
  return {
    ...running,
    ledger: (endpoint) => frame.ledger.all().filter((e) => endpoint === undefined || e.endpoint === endpoint),
  };
}

function signatureHeaders(c: Context): SignatureHeaders {
  const present = signatureHeaderNames.flatMap((name) => {
    const value = c.req.header(name);
    return value === undefined ? [] : [[name, value] as const];
  });
  return Object.fromEntries(present);
}

/** Answers as planned and notes the status on the entry, or notes that the client left before any answer. */
async function answer(c: Context, entry: ReceivedWebhook, planned: Plan, signal: AbortSignal): Promise<Response> {
  if (planned.hold) await closed(signal);
  else if (await stillOpen(signal, planned.latencyMs)) {
    entry.answeredStatus = planned.refusal?.status ?? 204;
    return planned.refusal ? refuse(c, planned.refusal, { error: 'refused', message: planned.refusal.reason }) : c.body(null, 204);
  }
  entry.abandoned = true;
  // Nobody reads this: the connection is gone.
  return c.body(null, 204);
}

/** Waits `ms` unless the client leaves first; answers whether it is still there. */
async function stillOpen(signal: AbortSignal, ms: number): Promise<boolean> {
  if (ms > 0 && !signal.aborted) await sleep(ms, undefined, { signal }).catch(() => undefined);
  return !signal.aborted;
}

/** Holds until the client gives up (its timeout) or the receiver closes the connection. */
async function closed(signal: AbortSignal): Promise<void> {
  if (!signal.aborted) await once(signal, 'abort');
}
