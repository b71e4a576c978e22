// Provider delivery webhooks (public: verified by signature instead of an API key). Mailgun signs
// timestamp + token with HMAC-SHA256; a bad signature, a stale timestamp or a token seen before is
// refused with 401 and changes nothing.
import { z } from '@hono/zod-openapi';
import { verifyMailgunSignature } from '../../../lib/notifications/providers/index.js';
import { applyProviderEvent, type DeliveryEvent } from '../../../lib/notifications/webhooks.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter, json, jsonBody, routesTagged } from '../../openapi.js';

const route = routesTagged('Webhooks');

const mailgunPayload = z
  .object({
    signature: z.object({ timestamp: z.string().regex(/^\d{1,12}$/), token: z.string().min(1).max(256), signature: z.string().regex(/^[0-9a-f]{64}$/i) }),
    'event-data': z
      .object({
        id: z.string().min(1).max(256),
        event: z.string().min(1).max(64),
        timestamp: z.number(),
        recipient: z.string().optional(),
        severity: z.string().optional(),
        reason: z.string().optional(),
        'delivery-status': z
          .object({ message: z.string().optional(), description: z.string().optional(), code: z.number().optional() })
          .passthrough()
          .optional(),
        message: z
          .object({ headers: z.object({ 'message-id': z.string().max(998).optional() }).passthrough() })
          .passthrough()
          .optional(),
        'user-variables': z.record(z.string(), z.unknown()).optional(),
      })
      .passthrough(),
  })
  .openapi('MailgunWebhook');

const knownEvents = new Set<DeliveryEvent>(['delivered', 'opened', 'failed', 'complained']);

export const webhookRoutes = createRouter().openapi(
  route.post('/v1/webhooks/mailgun', 'mailgunWebhook', 'public', {
    summary: 'Delivery events from a provider (Mailgun format: delivered, opened, failed, complained)',
    description: "Public; authenticated by the provider's HMAC signature. Each event is stored once by its id.",
    request: { body: jsonBody(mailgunPayload) },
    responses: {
      200: { description: 'Stored (or already stored)', content: json(z.object({ outcome: z.string() })) },
      401: errorResponses[401],
    },
  }),
  async (c) => {
    const provider = 'mailgun';
    const body = c.req.valid('json');
    const { deps } = c.var;
    const key = deps.config.MAILGUN_WEBHOOK_SIGNING_KEY;
    const refuse = (why: string) => {
      c.var.logger.warn({ provider, why }, 'webhook refused');
      return new AppError('unauthorized', `webhook refused: ${why}`);
    };
    if (!key) throw refuse('no signing key is configured (MAILGUN_WEBHOOK_SIGNING_KEY)');
    if (!verifyMailgunSignature(body.signature, key)) throw refuse('bad signature');
    const ageSeconds = Math.abs(Date.now() / 1000 - Number(body.signature.timestamp));
    if (ageSeconds > deps.config.WEBHOOK_MAX_AGE_SECONDS) throw refuse(`stale timestamp (${Math.round(ageSeconds)} s old)`);

    const data = body['event-data'];
    const event = (knownEvents.has(data.event as DeliveryEvent) ? data.event : 'other') as DeliveryEvent;
    const vars = data['user-variables'] ?? {};
    const notificationId = typeof vars['notification-id'] === 'string' ? vars['notification-id'] : null;
    const outcome = await applyProviderEvent(deps.db, {
      provider,
      eventId: data.id,
      signatureToken: body.signature.token,
      event,
      permanent: data.severity === 'permanent',
      reason: data['delivery-status']?.description || data['delivery-status']?.message || data.reason || undefined,
      ...(data.recipient ? { recipient: data.recipient } : {}),
      providerMessageId: data.message?.headers['message-id'] ?? null,
      notificationId,
      occurredAt: new Date(data.timestamp * 1000),
      payload: body['event-data'],
    });
    if (outcome === 'replayed') throw refuse('replayed token');
    c.var.logger.info({ provider, event: data.event, eventId: data.id, notificationId, outcome }, 'webhook event');
    return c.json({ outcome }, 200);
  },
);
