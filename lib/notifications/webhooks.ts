// Delivery events from providers. Each event is stored once by (provider, event id) and its signature
// token once by (provider, token): a replayed request changes nothing. Status moves only forward
// (transitionStatus), so events arriving out of order (opened before delivered) end in the right state,
// and the event's own time is kept even when the status cannot move. Complaints and permanent bounces put
// the address on the owner's suppression list.
import { and, eq, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications, webhookEvents } from '../../db/schema/index.js';
import { recordEventTime, transitionStatus, type NotificationStatus } from './status.js';
import { normaliseAddress, suppressAddress } from './suppressions.js';

export type DeliveryEvent = 'delivered' | 'opened' | 'failed' | 'complained' | 'other';

export interface ProviderEvent {
  provider: string;
  eventId: string;
  signatureToken: string;
  event: DeliveryEvent;
  /** Provider-reported detail: failed events say whether they are permanent. */
  permanent?: boolean;
  reason?: string;
  /** The address the event is about (a complaint or bounce suppresses it). */
  recipient?: string;
  providerMessageId: string | null;
  notificationId: string | null;
  occurredAt: Date;
  payload: unknown;
}

export type EventOutcome = 'applied' | 'recorded' | 'duplicate' | 'replayed' | 'unknown-message';

/** Provider message ids arrive with or without angle brackets (`<id@domain>` vs `id@domain`). */
export function normaliseMessageId(id: string): string {
  return id.trim().replace(/^<|>$/g, '');
}

export async function applyProviderEvent(db: Database, e: ProviderEvent): Promise<EventOutcome> {
  const messageId = e.providerMessageId ? normaliseMessageId(e.providerMessageId) : null;
  const [target] = await db
    .select({
      id: notifications.id,
      owner: notifications.owner,
      channel: notifications.channel,
      recipients: notifications.recipients,
      recipient: notifications.recipient,
    })
    .from(notifications)
    .where(or(messageId ? eq(notifications.providerMessageId, messageId) : sql`false`, e.notificationId ? eq(notifications.id, e.notificationId) : sql`false`))
    .limit(1);

  const inserted = await db
    .insert(webhookEvents)
    .values({
      provider: e.provider,
      eventId: e.eventId,
      signatureToken: e.signatureToken,
      event: e.event,
      notificationId: target?.id ?? null,
      providerMessageId: messageId,
      occurredAt: e.occurredAt,
      payload: e.payload,
    })
    .onConflictDoNothing()
    .returning({ eventId: webhookEvents.eventId });
  if (inserted.length === 0) {
    const [sameToken] = await db
      .select({ eventId: webhookEvents.eventId })
      .from(webhookEvents)
      .where(and(eq(webhookEvents.provider, e.provider), eq(webhookEvents.signatureToken, e.signatureToken)));
    return sameToken ? 'replayed' : 'duplicate';
  }
  if (!target) return 'unknown-message';

  const suppression = e.event === 'complained' ? 'complained' : e.event === 'failed' && e.permanent ? 'bounced' : null;
  if (suppression && target.channel === 'EMAIL') {
    // The event names the address; it must be one this notification was sent to (a tenant suppresses only its own recipients).
    const sentTo = (target.recipients ?? [target.recipient]).map(normaliseAddress);
    const addresses = e.recipient && sentTo.includes(normaliseAddress(e.recipient)) ? [e.recipient] : sentTo;
    for (const address of addresses) {
      await suppressAddress(db, { owner: target.owner, address, reason: suppression, detail: e.reason ?? null, notificationId: target.id });
    }
  }

  const to: NotificationStatus | null =
    e.event === 'delivered' ? 'DELIVERED' : e.event === 'opened' ? 'OPENED' : e.event === 'failed' && e.permanent ? 'FAILED' : null;
  if (!to) return 'recorded';
  const change = await transitionStatus(db, target.id, to, {
    reason: `${e.provider} ${e.event}`,
    at: e.occurredAt,
    ...(to === 'FAILED' ? { errorMessage: e.reason ?? 'the provider reported a permanent failure' } : {}),
  });
  if (!change.applied && (to === 'DELIVERED' || to === 'OPENED')) await recordEventTime(db, target.id, to, e.occurredAt);
  return change.applied ? 'applied' : 'recorded';
}
