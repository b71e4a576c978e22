// Push: the mailbox's Graph subscription (or IMAP watch), made and renewed by the workflow like any other request. A
// provider that will not subscribe it is `unavailable` (polling goes on); one that lost it is `gone`.
import {
  forgetSubscription,
  currentSubscription,
  newClientState,
  notificationUrl,
  renewedSubscription,
  saveSubscription,
} from '../../lib/mailbox-sync/subscriptions.js';
import { ProviderRequestError, SubscriptionGoneError } from '../../lib/mailbox-sync/provider.js';
import type { Config } from '../../lib/config.js';
import { IMAP_WATCH_RENEW_BEFORE_MS, IMAP_WATCH_TTL_MS } from '../../lib/mailbox-sync/imap/settings.js';
import type { ActivityDeps } from '../deps.js';
import { heartbeating } from './heartbeat.js';
import type { ProviderAccess } from './provider-errors.js';
import type { SubscriptionOutcome } from './types.js';

/** How long a subscription lives and how early it is renewed: Graph's, or an IMAP watch's. */
function subscriptionTimes(config: Config, provider: 'outlook' | 'imap'): { lifetimeMs: number; renewBeforeMs: number } {
  if (provider === 'imap') return { lifetimeMs: IMAP_WATCH_TTL_MS, renewBeforeMs: IMAP_WATCH_RENEW_BEFORE_MS };
  return { lifetimeMs: config.GRAPH_SUBSCRIPTION_SECONDS * 1000, renewBeforeMs: config.GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS * 1000 };
}

export function createPushActivities({ db, config, logger }: ActivityDeps, { mailboxOrGone, fromProvider }: ProviderAccess) {
  return {
    /**
     * Subscribes the mailbox to push (Graph validates the webhook first), unless a subscription with
     * time left is on record (a new run, a restarted worker). A refusal is `unavailable`: polling goes on.
     */
    ensureSubscription: (input: { mailboxId: string; discard?: string }) =>
      heartbeating(async (): Promise<SubscriptionOutcome> => {
        const mailbox = await mailboxOrGone(input.mailboxId);
        // IMAP's watch needs no URL: a sync worker holds the connection.
        const url = mailbox.provider === 'imap' ? 'imap-idle' : notificationUrl(config);
        if (!url) return { outcome: 'unavailable', reason: 'no notification URL (GRAPH_NOTIFICATION_URL)' };
        if (input.discard) await forgetSubscription(db, input.discard);
        const { lifetimeMs, renewBeforeMs } = subscriptionTimes(config, mailbox.provider);
        const existing = await currentSubscription(db, mailbox.id);
        if (existing && existing.expiresAt.getTime() - Date.now() > renewBeforeMs) {
          return { outcome: 'subscribed', subscriptionId: existing.subscriptionId, expiresAt: existing.expiresAt.getTime() };
        }
        const clientState = newClientState();
        const expiresAt = new Date(Date.now() + lifetimeMs);
        const result = await fromProvider(mailbox, async (provider, signal) => {
          if (!provider.push) return { outcome: 'unavailable' as const, reason: `${provider.name} has no push` };
          try {
            return await provider.push.subscribe({ notificationUrl: url, clientState, expiresAt }, signal);
          } catch (error) {
            if (error instanceof ProviderRequestError) return { outcome: 'unavailable' as const, reason: error.message };
            throw error;
          }
        });
        if ('outcome' in result) return result.outcome === 'expired' ? { outcome: 'unavailable', reason: 'unexpected expiry' } : result;
        await saveSubscription(db, { mailboxId: mailbox.id, subscriptionId: result.id, clientState, expiresAt: new Date(result.expiresAt) });
        logger.info({ mailboxId: mailbox.id, subscriptionId: result.id, expiresAt: result.expiresAt }, 'push subscription created');
        return { outcome: 'subscribed', subscriptionId: result.id, expiresAt: Date.parse(result.expiresAt) };
      }),

    renewSubscription: (input: { mailboxId: string; subscriptionId: string }) =>
      heartbeating(async (): Promise<SubscriptionOutcome> => {
        const mailbox = await mailboxOrGone(input.mailboxId);
        const expiresAt = new Date(Date.now() + subscriptionTimes(config, mailbox.provider).lifetimeMs);
        const result = await fromProvider(mailbox, async (provider, signal) => {
          try {
            return await provider.push!.renew(input.subscriptionId, expiresAt, signal);
          } catch (error) {
            if (error instanceof SubscriptionGoneError) return { outcome: 'gone' as const };
            throw error;
          }
        });
        if ('outcome' in result) {
          if (result.outcome === 'gone') await forgetSubscription(db, input.subscriptionId);
          return result.outcome === 'expired' ? { outcome: 'gone' } : result;
        }
        await renewedSubscription(db, input.subscriptionId, new Date(result.expiresAt));
        return { outcome: 'subscribed', subscriptionId: result.id, expiresAt: Date.parse(result.expiresAt) };
      }),
  };
}
