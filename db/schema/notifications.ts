import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, smallint, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { parentKey, parentRef, timestamptz, timestamptzNow } from './columns.js';
import { blobs } from './blobs.js';

export const channelEnum = pgEnum('notification_channel', ['EMAIL', 'SMS', 'PUSH']);
export const priorityEnum = pgEnum('notification_priority', ['critical', 'medium', 'low']);
export const notificationStatusEnum = pgEnum('notification_status', [
  'PENDING',
  'RETRYING',
  'SENT',
  'DELIVERED',
  'OPENED',
  'FAILED',
  'DEAD_LETTERED',
  'CANCELLED',
]);

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
    index('notifications_owner_template_created_idx').on(t.owner, t.templateId, t.createdAt, t.id),
    // By address: a prefix of the recipient, as push token lists can outgrow a btree entry (list.ts matches it).
    index('notifications_owner_recipient_created_idx').on(t.owner, sql`left(${t.recipient}, 320)`, t.createdAt, t.id),
    // The late ones are few: a partial index keeps the "late" filter cheap without indexing every row.
    index('notifications_owner_late_created_idx')
      .on(t.owner, t.createdAt, t.id)
      .where(sql`late`),
    // The backlog (waiting to be sent) per priority, oldest first: the overview reads it without a scan.
    index('notifications_owner_backlog_idx')
      .on(t.owner, t.priority, t.createdAt)
      .where(sql`status in ('PENDING', 'RETRYING')`),
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
  (t) => [
    primaryKey({ columns: [t.provider, t.eventId] }),
    uniqueIndex('webhook_events_signature_token_idx').on(t.provider, t.signatureToken),
    // A notification's detail lists its provider events.
    index('webhook_events_notification_idx').on(t.notificationId, t.receivedAt),
  ],
);

/** Each delivery attempt of a notification: which provider, how it ended, how long the provider took. */
export const notificationAttempts = pgTable(
  'notification_attempts',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    notificationId: parentRef(() => notifications.id),
    attempt: integer().notNull(), // Temporal's attempt number within the run
    provider: text().notNull(),
    outcome: text().notNull(), // 'sent' | 'transient' | 'throttled' | 'permanent'
    error: text(), // redacted: never the message's content
    latencyMs: integer().notNull(),
    startedAt: timestamptz().notNull(),
  },
  (t) => [index('notification_attempts_notification_idx').on(t.notificationId, t.id)],
);

/**
 * Delivery counters per tenant, minute, priority, channel and provider: what the overview reads instead of
 * counting notifications. Each outcome adds to one of a few shard rows, so concurrent sends rarely wait on
 * the same row; the overview sums the shards.
 */
export const notificationMinuteStats = pgTable(
  'notification_minute_stats',
  {
    owner: text().notNull(),
    minute: timestamptz().notNull(),
    priority: priorityEnum().notNull(),
    channel: channelEnum().notNull(),
    provider: text().notNull(),
    shard: smallint().notNull(),
    sent: integer().notNull().default(0),
    late: integer().notNull().default(0),
    failed: integer().notNull().default(0), // attempts that failed (transient or permanent)
    throttled: integer().notNull().default(0), // attempts the provider answered 429
    latencyMsSum: bigint({ mode: 'number' }).notNull().default(0), // acceptance to sent, over `sent`
    latencyMsMax: integer().notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.owner, t.minute, t.priority, t.channel, t.provider, t.shard] }), index('notification_minute_stats_minute_idx').on(t.minute)],
);

/** The email failover's circuit as each worker process last saw it (the breaker lives in the worker's memory). */
export const providerCircuits = pgTable(
  'provider_circuits',
  {
    worker: text().notNull(), // the worker process's identity
    provider: text().notNull(),
    state: text().notNull(), // 'closed' | 'open' | 'half-open'
    changedAt: timestamptzNow(),
  },
  (t) => [primaryKey({ columns: [t.worker, t.provider] })],
);

/** A batch retry from the console: its filter, and its progress as the batch's workflow makes it. */
export const notificationRetryBatches = pgTable(
  'notification_retry_batches',
  {
    id: text().primaryKey(), // rtb_…
    owner: text().notNull(),
    filters: jsonb().notNull(),
    max: integer().notNull(),
    total: integer(), // how many matched when the batch began (at most `max`); null until then
    // Retried, and looked at (retried or no longer failed): each written in the transaction of its retry.
    retried: integer().notNull().default(0),
    processed: integer().notNull().default(0),
    createdAt: timestamptzNow(),
    finishedAt: timestamptz(),
  },
  (t) => [index('notification_retry_batches_owner_idx').on(t.owner, t.createdAt)],
);
