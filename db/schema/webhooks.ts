import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgEnum, pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptz, timestamptzNow } from './columns.js';

export const webhookDeliveryStatusEnum = pgEnum('webhook_delivery_status', ['PENDING', 'SUCCEEDED', 'FAILED']);

/**
 * A tenant's webhook endpoint: where its events go, which ones, and the secret that signs them (sealed; shown
 * once). After a rotation the previous secret signs too until `previous_secret_expires_at`.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text().primaryKey(),
    owner: text().notNull(),
    url: text().notNull(),
    description: text(),
    eventTypes: text().array().notNull(),
    /** Only this mailbox's (or account's) events, when set. */
    mailboxId: text(),
    accountId: text(),
    enabled: boolean().notNull().default(true),
    disabledAt: timestamptz(),
    disabledReason: text(),
    secretSealed: text().notNull(),
    previousSecretSealed: text(),
    previousSecretExpiresAt: timestamptz(),
    /** When the current run of failures began (null after any success): a day of them disables the endpoint. */
    failingSince: timestamptz(),
    createdAt: timestamptzNow(),
    updatedAt: timestamptzNow(),
  },
  (t) => [index('webhook_endpoints_owner_idx').on(t.owner, t.id)],
);

/**
 * What the engine recorded that a tenant with endpoints may want, copied by triggers in the recording
 * transaction (so nothing is emitted that did not commit, and nothing that committed is missed). One
 * projector at a time turns rows into deliveries, in id order, and deletes them.
 */
export const webhookOutbox = pgTable('webhook_outbox', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  owner: text().notNull(),
  source: text().notNull(),
  orderingKey: text().notNull(),
  data: jsonb().$type<Record<string, unknown>>().notNull(),
  occurredAt: timestamptzNow(),
});

/**
 * One event for one endpoint. `id` orders an endpoint's lane (`ordering_key`: the mailbox, notification,
 * mailing or schedule): a delivery is attempted only when every earlier one of its lane has succeeded or
 * been given up. `event_id` is the `webhook-id`: the same on every attempt and replay.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    eventId: text().notNull(),
    endpointId: text()
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    owner: text().notNull(),
    eventType: text().notNull(),
    orderingKey: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: webhookDeliveryStatusEnum().notNull().default('PENDING'),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamptzNow(),
    lastAttemptAt: timestamptz(),
    lastStatus: integer(),
    lastDurationMs: integer(),
    lastError: text(),
    createdAt: timestamptzNow(),
    completedAt: timestamptz(),
  },
  (t) => [
    // The endpoint's pending deliveries in lane order. Each index here is kept up on every insert and every
    // attempt recorded, so there is none that no query needs.
    index('webhook_deliveries_pending_idx')
      .on(t.endpointId, t.id)
      .where(sql`${t.status} = 'PENDING'`),
    // The endpoint's deliveries, newest first, and those since a time (replay).
    index('webhook_deliveries_endpoint_created_idx').on(t.endpointId, t.createdAt, t.id),
    // Retention drops finished deliveries by age.
    index('webhook_deliveries_completed_idx').on(t.completedAt),
  ],
);
