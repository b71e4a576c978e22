// Push subscriptions of mailboxes (Graph change notifications): where they are kept, and how an incoming
// notification is matched to its mailbox. A notification names its subscription and echoes the secret
// clientState given when subscribing; only the secret's hash is stored, compared in constant time.
import { randomBytes } from 'node:crypto';
import { and, eq, inArray, ne } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { graphSubscriptions, mailboxes } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import { constantTimeEqual, sha256Hex } from '../crypto.js';

export const MESSAGES_RESOURCE = 'me/messages';

/** Where Graph should post, or undefined when this deployment cannot receive push (polling only). */
export function notificationUrl(config: Pick<Config, 'GRAPH_NOTIFICATION_URL' | 'PUBLIC_BASE_URL'>): string | undefined {
  if (config.GRAPH_NOTIFICATION_URL) return config.GRAPH_NOTIFICATION_URL;
  return config.PUBLIC_BASE_URL.startsWith('https://') ? `${config.PUBLIC_BASE_URL.replace(/\/$/, '')}/v1/webhooks/graph` : undefined;
}

export const newClientState = () => randomBytes(32).toString('base64url');

export async function currentSubscription(db: Database, mailboxId: string) {
  const [row] = await db.select().from(graphSubscriptions).where(eq(graphSubscriptions.mailboxId, mailboxId));
  return row;
}

/** Records a new subscription and forgets the mailbox's others (expired or removed at the provider). */
export async function saveSubscription(
  db: Database,
  input: { mailboxId: string; subscriptionId: string; clientState: string; expiresAt: Date },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .delete(graphSubscriptions)
      .where(and(eq(graphSubscriptions.mailboxId, input.mailboxId), ne(graphSubscriptions.subscriptionId, input.subscriptionId)));
    await tx
      .insert(graphSubscriptions)
      .values({
        subscriptionId: input.subscriptionId,
        mailboxId: input.mailboxId,
        clientStateHash: sha256Hex(input.clientState),
        resource: MESSAGES_RESOURCE,
        expiresAt: input.expiresAt,
      })
      .onConflictDoUpdate({ target: graphSubscriptions.subscriptionId, set: { expiresAt: input.expiresAt } });
  });
}

export async function renewedSubscription(db: Database, subscriptionId: string, expiresAt: Date): Promise<void> {
  await db.update(graphSubscriptions).set({ expiresAt, renewedAt: new Date() }).where(eq(graphSubscriptions.subscriptionId, subscriptionId));
}

export async function forgetSubscription(db: Database, subscriptionId: string): Promise<void> {
  await db.delete(graphSubscriptions).where(eq(graphSubscriptions.subscriptionId, subscriptionId));
}

export interface NotificationItem {
  subscriptionId: string;
  clientState?: string | undefined;
  lifecycleEvent?: string | undefined;
}
export interface VerifiedNotification {
  mailboxId: string;
  accountId: string;
  subscriptionId: string;
  lifecycleEvent: string | undefined;
}

export class ForgedNotificationError extends Error {
  constructor() {
    super('a notification names no subscription of ours, or carries the wrong clientState');
    this.name = 'ForgedNotificationError';
  }
}

/** Matches every item to its mailbox; one item that does not verify refuses the whole delivery. */
export async function verifyNotifications(db: Database, items: NotificationItem[]): Promise<VerifiedNotification[]> {
  const ids = [...new Set(items.map((i) => i.subscriptionId))];
  const rows =
    ids.length === 0
      ? []
      : await db
          .select({ subscription: graphSubscriptions, accountId: mailboxes.accountId })
          .from(graphSubscriptions)
          .innerJoin(mailboxes, eq(mailboxes.id, graphSubscriptions.mailboxId))
          .where(inArray(graphSubscriptions.subscriptionId, ids));
  const byId = new Map(rows.map((r) => [r.subscription.subscriptionId, r]));
  return items.map((item) => {
    const row = byId.get(item.subscriptionId);
    // The hash of whatever was presented is compared, so a missing clientState costs the same as a wrong one.
    if (!row || !constantTimeEqual(sha256Hex(item.clientState ?? ''), row.subscription.clientStateHash)) throw new ForgedNotificationError();
    return { mailboxId: row.subscription.mailboxId, accountId: row.accountId, subscriptionId: item.subscriptionId, lifecycleEvent: item.lifecycleEvent };
  });
}
