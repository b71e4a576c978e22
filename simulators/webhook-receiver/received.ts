// What the receiver keeps of each request: one ledger entry per delivery attempt, and the summary of what
// an endpoint accepted that the README demo prints.
import { randomBytes } from 'node:crypto';
import type { LedgerEntry } from '../lib/ledger.js';
import type { SignatureHeaders } from './endpoints.js';

export interface ReceivedWebhook extends LedgerEntry {
  /** The same instant as acceptedAt (the ledger's name for it): every request is recorded, whatever its answer. */
  receivedAt: string;
  endpoint: string;
  webhookId: string | null;
  webhookTimestamp: string | null;
  webhookSignature: string | null;
  body: string;
  /** The body's `type`, when it is a JSON object with one. */
  type: string | null;
  /** Null when the endpoint has no secret registered. */
  verified: boolean | null;
  /** Null until answered, and for good when the client left first (abandoned). */
  answeredStatus: number | null;
  /** The connection closed before the answer (the client's timeout, or the receiver closing): nobody saw one. */
  abandoned: boolean;
}

export interface AcceptedEvent {
  id: string | null;
  type: string | null;
  verified: boolean | null;
  data: unknown;
}

export function receivedEntry(endpoint: string, headers: SignatureHeaders, body: string, verified: boolean | null): ReceivedWebhook {
  const receivedAt = new Date().toISOString();
  return {
    id: `rcv_${randomBytes(8).toString('hex')}`,
    // No key: every attempt is kept, since a retry arrives with the same webhook-id and tests count them.
    idempotencyKey: null,
    acceptedAt: receivedAt,
    receivedAt,
    endpoint,
    webhookId: headers['webhook-id'] ?? null,
    webhookTimestamp: headers['webhook-timestamp'] ?? null,
    webhookSignature: headers['webhook-signature'] ?? null,
    body,
    type: stringField(parsed(body), 'type'),
    verified,
    answeredStatus: null,
    abandoned: false,
  };
}

/** Each webhook-id the endpoint answered with a 2xx, once (a receiver dedupes by id), in arrival order. */
export function acceptedEvents(entries: ReceivedWebhook[]): AcceptedEvent[] {
  const seen = new Set<string>();
  const firstOfItsId = (e: ReceivedWebhook) => {
    if (e.webhookId === null) return true;
    if (seen.has(e.webhookId)) return false;
    seen.add(e.webhookId);
    return true;
  };
  return entries
    .filter((e) => e.answeredStatus !== null && e.answeredStatus < 300 && !e.abandoned)
    .filter(firstOfItsId)
    .map((e) => ({ id: e.webhookId, type: e.type, verified: e.verified, data: field(parsed(e.body), 'data') ?? null }));
}

function parsed(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

function stringField(value: unknown, name: string): string | null {
  const found = field(value, name);
  return typeof found === 'string' ? found : null;
}
