// From the outbox to deliveries: one projector at a time (a transaction-scoped advisory lock, whichever
// worker runs it) takes the oldest recorded rows, turns each into its events, gives each event to every
// endpoint of its tenant that wants it, and deletes the rows, all in one transaction. A delivery's id is
// its place in its endpoint's lane, so each lane keeps the order in which its rows were recorded.
import { asc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webhookDeliveries, webhookEndpoints, webhookOutbox } from '../../db/schema/index.js';
import { newId } from '../ids.js';
import type { EndpointRow } from './endpoints.js';
import { isMailEvent } from './event-types.js';
import { coalesceProgress, eventsOf, type WebhookEvent } from './events.js';

export const OUTBOX_CHANNEL = 'webhook_outbox';
/** The advisory lock key that makes the projection one at a time (any 64-bit number no other lock uses). */
const PROJECTOR_LOCK = 7_305_112_054;
const INSERT_CHUNK = 2_000;

type NewDelivery = typeof webhookDeliveries.$inferInsert;
type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Inserts deliveries in the order given (ids in that order: each lane's order), as one JSON parameter: a
 * multi-row VALUES of the same rows took the worker about 0.15 ms of CPU per row to build (drizzle walks
 * every parameter), as much as sending the delivery.
 */
async function insertDeliveries(tx: Transaction, deliveries: NewDelivery[]): Promise<void> {
  const rows = deliveries.map((d) => ({
    event_id: d.eventId,
    endpoint_id: d.endpointId,
    owner: d.owner,
    event_type: d.eventType,
    ordering_key: d.orderingKey,
    payload: d.payload,
    status: d.status ?? 'PENDING',
    last_error: d.lastError ?? null,
    completed_at: d.completedAt?.toISOString() ?? null,
  }));
  await tx.execute(sql`
    insert into ${webhookDeliveries} (event_id, endpoint_id, owner, event_type, ordering_key, payload, status, last_error, completed_at)
    select v.event_id, v.endpoint_id, v.owner, v.event_type, v.ordering_key, v.payload, v.status::webhook_delivery_status, v.last_error, v.completed_at
    from rows from (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (event_id text, endpoint_id text, owner text, event_type text,
      ordering_key text, payload jsonb, status text, last_error text, completed_at timestamptz)) with ordinality as v
    order by v.ordinality`);
}

/** Whether the endpoint subscribes to the event, and its mailbox or account filter lets it through. */
export function wants(endpoint: EndpointRow, event: WebhookEvent): boolean {
  if (!endpoint.eventTypes.includes(event.type) || endpoint.createdAt > event.occurredAt) return false;
  if (!endpoint.mailboxId && !endpoint.accountId) return true;
  if (!isMailEvent(event.type)) return false;
  return (!endpoint.mailboxId || event.data.mailboxId === endpoint.mailboxId) && (!endpoint.accountId || event.data.accountId === endpoint.accountId);
}

/** The body every attempt and replay of the event sends. */
export const payloadOf = (event: Pick<WebhookEvent, 'type' | 'occurredAt' | 'data'>) => ({
  type: event.type,
  timestamp: event.occurredAt.toISOString(),
  data: event.data,
});

/**
 * Projects up to `limit` outbox rows. A disabled endpoint's events are recorded as failed deliveries, so a
 * replay after it is enabled again can send them. Answers how many rows it took and the endpoints that got
 * deliveries to send.
 */
export async function projectOutbox(db: Database, limit = 2000): Promise<{ rows: number; endpointIds: string[] }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${PROJECTOR_LOCK})`);
    const oldest = tx.select({ id: webhookOutbox.id }).from(webhookOutbox).orderBy(asc(webhookOutbox.id)).limit(limit);
    const rows = (await tx.delete(webhookOutbox).where(inArray(webhookOutbox.id, oldest)).returning()).sort((a, b) => a.id - b.id);
    if (rows.length === 0) return { rows: 0, endpointIds: [] };
    const owners = [...new Set(rows.map((r) => r.owner))];
    const endpoints = await tx.select().from(webhookEndpoints).where(inArray(webhookEndpoints.owner, owners));
    const deliveries: NewDelivery[] = [];
    for (const event of coalesceProgress(rows.flatMap(eventsOf))) {
      const eventId = newId('msg');
      for (const endpoint of endpoints) {
        if (endpoint.owner !== event.owner || !wants(endpoint, event)) continue;
        deliveries.push({
          eventId,
          endpointId: endpoint.id,
          owner: endpoint.owner,
          eventType: event.type,
          orderingKey: event.orderingKey,
          payload: payloadOf(event),
          ...(endpoint.enabled ? {} : { status: 'FAILED', lastError: 'the endpoint was disabled', completedAt: new Date() }),
        });
      }
    }
    for (let i = 0; i < deliveries.length; i += INSERT_CHUNK) await insertDeliveries(tx, deliveries.slice(i, i + INSERT_CHUNK));
    const woken = new Set(deliveries.filter((d) => d.status === undefined).map((d) => d.endpointId));
    return { rows: rows.length, endpointIds: [...woken] };
  });
}
