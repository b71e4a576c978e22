// From a recorded row (webhook_outbox) to the webhook events it means. A row can mean none (a status no one
// subscribes to), one, or several (a page of mail changes).
import type { MessageChange } from '../mailbox-sync/events.js';
import type { WebhookEventType } from './event-types.js';

export interface OutboxRow {
  id: number;
  owner: string;
  source: string;
  orderingKey: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

export interface WebhookEvent {
  type: WebhookEventType;
  /** The tenant whose event it is. */
  owner: string;
  /** The lane: events of one key reach an endpoint one after another, in the order they were recorded. */
  orderingKey: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** A `messages` or `reload` live-feed event as the outbox copies it, with the account it belongs to. */
interface RecordedMailEvent {
  accountId: string;
  data: { mailboxId: string; removed?: string[]; changes?: MessageChange[] };
}

const mailboxEventTypes: Record<string, WebhookEventType | undefined> = {
  LINKED: 'mailbox.linked',
  LIVE: 'mailbox.live',
  REAUTH_REQUIRED: 'mailbox.reauth_required',
  UNLINKED: 'mailbox.unlinked',
};

const notificationEventTypes: Record<string, WebhookEventType | undefined> = {
  SENT: 'notification.sent',
  DELIVERED: 'notification.delivered',
  OPENED: 'notification.opened',
  FAILED: 'notification.failed',
  DEAD_LETTERED: 'notification.dead_lettered',
  CANCELLED: 'notification.cancelled',
};

function mailEvents(row: OutboxRow): WebhookEvent[] {
  const { accountId, data } = row.data as unknown as RecordedMailEvent;
  const base = { accountId, mailboxId: data.mailboxId };
  const event = (type: WebhookEventType, fields: Record<string, unknown>): WebhookEvent => ({
    type,
    owner: row.owner,
    orderingKey: row.orderingKey,
    occurredAt: row.occurredAt,
    data: { ...base, ...fields },
  });
  const changes = (data.changes ?? []).map((change) => {
    if (change.kind === 'created') return event('message.created', { message: change.message });
    if (change.kind === 'moved')
      return event('message.moved', { message: change.message, from: change.from, to: change.message.folder, changed: change.changed });
    return event('message.updated', { message: change.message, changed: change.changed });
  });
  return [...changes, ...(data.removed ?? []).map((messageId) => event('message.deleted', { messageId }))];
}

export function eventsOf(row: OutboxRow): WebhookEvent[] {
  const one = (type: WebhookEventType | undefined): WebhookEvent[] =>
    type ? [{ type, owner: row.owner, orderingKey: row.orderingKey, occurredAt: row.occurredAt, data: row.data }] : [];
  switch (row.source) {
    case 'mail':
      return mailEvents(row);
    case 'mailbox':
      return one(mailboxEventTypes[String(row.data.status)]);
    case 'notification':
      return one(notificationEventTypes[String(row.data.status)]);
    case 'mailing_progress':
      return one('mailing.progress');
    case 'mailing':
      return one('mailing.completed');
    case 'schedule':
      return one('schedule.fired');
    default:
      return [];
  }
}

/**
 * Progress is a state, not a step: of a mailing's progress events in one batch only the last is kept (an
 * ingest can update the counters thousands of times a minute).
 */
export function coalesceProgress(events: WebhookEvent[]): WebhookEvent[] {
  const last = new Map<string, WebhookEvent>();
  for (const e of events) if (e.type === 'mailing.progress') last.set(e.orderingKey, e);
  return events.filter((e) => e.type !== 'mailing.progress' || last.get(e.orderingKey) === e);
}
