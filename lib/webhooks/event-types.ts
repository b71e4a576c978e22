// The events a webhook endpoint can subscribe to. Each comes from a row the engine recorded (see
// db/migrations/0022_outbound_webhooks.sql): mail changes from the account's live-feed events, mailbox
// status from the mailbox row, notification status from its history, mailing progress from its counters,
// and schedule firings from their rows.
import { z } from 'zod';

export const webhookEventTypes = [
  'message.created',
  'message.updated',
  'message.moved',
  'message.deleted',
  'mailbox.linked',
  'mailbox.live',
  'mailbox.reauth_required',
  'mailbox.unlinked',
  'notification.sent',
  'notification.delivered',
  'notification.opened',
  'notification.failed',
  'notification.dead_lettered',
  'notification.cancelled',
  'mailing.progress',
  'mailing.completed',
  'schedule.fired',
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** `webhook.test` is sent on request to one endpoint, whatever it subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test';

export const webhookEventTypeSchema = z.enum(webhookEventTypes);

/** Events about one mailbox: an endpoint filtered to a mailbox or an account receives only these. */
export const isMailEvent = (type: string) => type.startsWith('message.') || type.startsWith('mailbox.');
