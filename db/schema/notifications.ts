import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { parentKey, parentRef, timestamptz, timestamptzNow } from './columns.js';
import { blobs } from './blobs.js';

export const channelEnum = pgEnum('notification_channel', ['EMAIL', 'SMS', 'PUSH']);
export const priorityEnum = pgEnum('notification_priority', ['critical', 'medium', 'low']);
export const notificationStatusEnum = pgEnum('notification_status', ['PENDING', 'RETRYING', 'SENT', 'DELIVERED', 'OPENED', 'FAILED', 'DEAD_LETTERED']);

/** The recipient directory: a notification names a user, the channel's contact point comes from here. */
export const recipients = pgTable('recipients', {
  userId: text().primaryKey(),
  email: text(),
  phone: text(), // E.164
  pushTokens: text()
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
  createdAt: timestamptzNow(),
  updatedAt: timestamptzNow(),
});

/** Templates are versioned: an update adds a version; a notification records the version it used. */
export const templates = pgTable(
  'templates',
  {
    id: text().notNull(), // e.g. ORDER_SHIPPED_CONFIRMATION
    version: integer().notNull(),
    channel: channelEnum().notNull(),
    subject: text(), // EMAIL only
    body: text().notNull(),
    format: text().notNull().default('text'), // 'text' | 'html' (HTML bodies escape their parameters)
    params: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    // Per user-and-template admission limit, e.g. PASSWORD_RESET 2 per 300 s; null: no template limit.
    rateLimitCount: integer(),
    rateLimitWindowSeconds: integer(),
    createdAt: timestamptzNow(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

export const notifications = pgTable(
  'notifications',
  {
    id: text().primaryKey(), // ntf_…; derived from the idempotency key when one is given
    // The tenant: the API key id (or "admin") that created it; every route filters by it, a foreign id is a 404.
    owner: text().notNull(),
    // Scoped by API key: two clients may use the same key without colliding.
    idempotencyKey: text(),
    requestHash: text(), // same key + different body → 422
    userId: text(),
    channel: channelEnum().notNull(),
    priority: priorityEnum().notNull(),
    templateId: text(),
    templateVersion: integer(),
    templateParams: jsonb().$type<Record<string, unknown>>(),
    sender: text(),
    recipient: text().notNull(), // for display: the address, the E.164 number, or the push tokens joined with ", "
    // The recipients as sent, one per element (never split from `recipient`); null on rows older than it.
    recipients: text().array(),
    subject: text(),
    body: text().notNull(),
    bodyHtml: text(),
    // Rendered content and template parameters (a reset URL, a sign-in code) sealed with the encryption key
    // (AES-256-GCM, bound to the row id); `body` is then empty and `templateParams` null.
    contentSealed: text(),
    correlationId: text(),
    status: notificationStatusEnum().notNull().default('PENDING'),
    deliveryAttempts: integer().notNull().default(0),
    lastAttemptedAt: timestamptz(),
    errorMessage: text(),
    provider: text(),
    providerMessageId: text(),
    workflowId: text().notNull(),
    deadlineAt: timestamptz().notNull(),
    late: boolean().notNull().default(false),
    createdAt: timestamptzNow(),
    sentAt: timestamptz(),
    deliveredAt: timestamptz(),
    openedAt: timestamptz(),
    failedAt: timestamptz(),
    deadLetteredAt: timestamptz(),
  },
  (t) => [
    // Idempotent admission: one notification per (API key scope, Idempotency-Key).
    uniqueIndex('notifications_idempotency_key_idx').on(t.idempotencyKey),
    // Webhooks find their notification by the provider's message id.
    index('notifications_provider_message_id_idx').on(t.providerMessageId),
    // A tenant's notifications, newest first (the list's order).
    index('notifications_owner_created_idx').on(t.owner, t.createdAt, t.id),
    // List filters, each in the list's order (newest first, cursor on created_at then id), so a filtered page
    // reads only its rows instead of sorting every match.
    index('notifications_owner_user_created_idx').on(t.owner, t.userId, t.createdAt, t.id),
    index('notifications_owner_status_created_idx').on(t.owner, t.status, t.createdAt, t.id),
    index('notifications_owner_correlation_created_idx').on(t.owner, t.correlationId, t.createdAt, t.id),
  ],
);

export const notificationAttachments = pgTable(
  'notification_attachments',
  {
    notificationId: parentRef(() => notifications.id),
    blobId: text()
      .notNull()
      .references(() => blobs.id),
    position: integer().notNull(),
    filename: text().notNull(),
    contentType: text().notNull(),
    size: integer().notNull(),
    sha256: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.notificationId, t.position] })],
);

/**
 * Notifications whose workflow Temporal has not confirmed yet (an outbox). Admission writes the row in the
 * statement that stores the notification and starts the workflow after commit; the row goes once Temporal
 * has the run. A row older than a few seconds is a start that failed or a process that died before it:
 * the recovery sweep starts it again (the workflow id is the notification's, so a repeat joins the run).
 */
export const notificationStarts = pgTable(
  'notification_starts',
  {
    notificationId: parentKey(() => notifications.id),
    // The workflow's start: input and search attributes, exactly as admission would have started it.
    start: jsonb().notNull(),
    createdAt: timestamptzNow(),
  },
  (t) => [
    // The recovery sweep reads the oldest first.
    index('notification_starts_created_idx').on(t.createdAt),
  ],
);

/** Every status change, written in the same statement as the change itself. */
export const notificationStatusHistory = pgTable(
  'notification_status_history',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    notificationId: parentRef(() => notifications.id),
    fromStatus: notificationStatusEnum(),
    toStatus: notificationStatusEnum().notNull(),
    reason: text(),
    at: timestamptzNow(),
  },
  (t) => [index('notification_status_history_notification_idx').on(t.notificationId, t.id)],
);

/** Provider webhook events, stored once by (provider, event id): a replay changes nothing. */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    provider: text().notNull(),
    eventId: text().notNull(),
    event: text().notNull(),
    notificationId: text(),
    providerMessageId: text(),
    occurredAt: timestamptz(),
    receivedAt: timestamptzNow(),
    payload: jsonb().notNull(),
    // The signature's one-time token: a second request carrying it is a replay.
    signatureToken: text(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.eventId] }), uniqueIndex('webhook_events_signature_token_idx').on(t.provider, t.signatureToken)],
);
