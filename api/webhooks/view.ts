// How webhook endpoints and their deliveries read over the API.
import { z } from '@hono/zod-openapi';
import type { DeliveryRow } from '../../lib/webhooks/deliveries.js';
import type { EndpointRow } from '../../lib/webhooks/endpoints.js';
import { webhookEventTypes } from '../../lib/webhooks/event-types.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export const eventTypeSchema = z.enum(webhookEventTypes).openapi('WebhookEventType');

export const endpointFields = {
  url: z.string().trim().url().max(2_000).openapi({
    description: 'Where events are POSTed (http or https); it must not resolve to a private address',
    example: 'https://example.com/hooks/mailflow',
  }),
  description: z.string().trim().max(200).nullable().optional(),
  eventTypes: z
    .array(eventTypeSchema)
    .min(1)
    .max(webhookEventTypes.length)
    .refine((types) => new Set(types).size === types.length, 'each event type once')
    .openapi({ example: ['message.created', 'message.moved', 'message.deleted'] }),
  mailboxId: z.string().min(1).max(64).nullable().optional().openapi({ description: "Only this mailbox's events (mail and mailbox events only)" }),
  accountId: z.string().min(1).max(64).nullable().optional().openapi({ description: "Only this account's events (mail and mailbox events only)" }),
  enabled: z.boolean().optional().openapi({ description: 'Default true. Enabling a disabled endpoint clears why it was disabled' }),
};

export const endpointSchema = z
  .object({
    id: z.string().openapi({ example: 'whe_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(eventTypeSchema),
    mailboxId: z.string().nullable(),
    accountId: z.string().nullable(),
    enabled: z.boolean(),
    disabledAt: z.string().datetime().nullable(),
    disabledReason: z
      .string()
      .nullable()
      .openapi({ description: 'Why it was disabled: by the tenant, a 410 Gone, or a day of failures (with the last error)' }),
    failingSince: z.string().datetime().nullable().openapi({ description: 'Since when every delivery has failed (null after any success)' }),
    previousSecretExpiresAt: z.string().datetime().nullable().openapi({ description: 'Until then the secret before the last rotation signs too' }),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('WebhookEndpoint');

export const endpointWithSecretSchema = endpointSchema
  .extend({
    secret: z
      .string()
      .openapi({ description: 'The signing secret (Standard Webhooks, `whsec_…`): shown this once', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
  })
  .openapi('WebhookEndpointWithSecret');

export const endpointView = (e: EndpointRow) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes as (typeof webhookEventTypes)[number][],
  mailboxId: e.mailboxId,
  accountId: e.accountId,
  enabled: e.enabled,
  disabledAt: iso(e.disabledAt),
  disabledReason: e.disabledReason,
  failingSince: iso(e.failingSince),
  previousSecretExpiresAt: e.previousSecretExpiresAt && e.previousSecretExpiresAt > new Date() ? e.previousSecretExpiresAt.toISOString() : null,
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});

export const deliverySchema = z
  .object({
    id: z.string().openapi({ description: "The delivery's number (a replay is a new delivery of the same event)", example: '4711' }),
    eventId: z.string().openapi({ description: 'The `webhook-id` header: the same on every attempt and replay', example: 'msg_01jd9z8x5m3q7c2v4b6n8k0p1r' }),
    eventType: z.string(),
    orderingKey: z.string().openapi({ description: 'Its lane: the mailbox, notification, mailing or schedule it is about' }),
    status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']).openapi({ description: 'FAILED: given up after the last retry (or the endpoint was disabled)' }),
    attempts: z.number().int(),
    nextAttemptAt: z.string().datetime().nullable().openapi({ description: 'When it is tried next (PENDING only)' }),
    lastAttemptAt: z.string().datetime().nullable(),
    lastStatus: z.number().int().nullable().openapi({ description: "The last answer's HTTP status (null: no answer)" }),
    lastDurationMs: z.number().int().nullable(),
    lastError: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).openapi({ description: 'The body sent' }),
    createdAt: z.string().datetime(),
    completedAt: z.string().datetime().nullable(),
  })
  .openapi('WebhookDelivery');

export const deliveryView = (d: DeliveryRow) => ({
  id: String(d.id),
  eventId: d.eventId,
  eventType: d.eventType,
  orderingKey: d.orderingKey,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.status === 'PENDING' ? d.nextAttemptAt.toISOString() : null,
  lastAttemptAt: iso(d.lastAttemptAt),
  lastStatus: d.lastStatus,
  lastDurationMs: d.lastDurationMs,
  lastError: d.lastError,
  payload: d.payload,
  createdAt: d.createdAt.toISOString(),
  completedAt: iso(d.completedAt),
});
