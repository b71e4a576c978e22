// Push for one mailbox's workflow: keeps a Graph subscription alive (created, renewed before it expires,
// created again after it is removed) and says whether push is healthy, so polling can slow to a safety
// net. Deterministic workflow code: it only schedules activities and reads workflow time.
import type { SubscriptionOutcome, SyncSettings } from '../activities/mailbox-sync.js';

interface Subscription {
  subscriptionId: string | null;
  expiresAt: number | null;
  retryAt: number;
}
/**
 * What a run hands the next. `discarded` (a subscription Graph removed, not to be taken from the record again)
 * and `renewNow` (a reauthorizationRequired not yet acted on) are absent from older runs' state: none, false.
 */
export interface PushState extends Subscription {
  discarded?: string;
  renewNow?: boolean;
  /** The IMAP watcher's last word: its connection is down (absent from older runs' state: not down). */
  interrupted?: boolean;
}
/**
 * Graph's lifecycle notifications, and the IMAP watcher's: `interrupted` when its watch cannot connect,
 * `restored` when it is connected again.
 */
export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed' | 'interrupted' | 'restored';

interface PushActivities {
  ensureSubscription(input: { mailboxId: string; discard?: string }): Promise<SubscriptionOutcome>;
  renewSubscription(input: { mailboxId: string; subscriptionId: string }): Promise<SubscriptionOutcome>;
}

export class MailboxPush {
  private state: Subscription;
  private renewNow: boolean;
  /** A subscription Graph removed: never to be reused from the record. */
  private discarded: string | undefined;
  /** The watch is subscribed but its connection is down: nothing is pushed, so folders are polled as without push. */
  private interrupted: boolean;

  constructor(
    private readonly settings: SyncSettings['push'],
    carried: PushState | undefined,
  ) {
    const { discarded, renewNow, interrupted, ...state } = carried ?? { subscriptionId: null, expiresAt: null, retryAt: 0 };
    this.state = state;
    this.discarded = discarded;
    this.renewNow = renewNow ?? false;
    this.interrupted = interrupted ?? false;
  }

  /** A live subscription: notifications arrive, so the folders' polls are only a safety net. */
  healthy(now: number): boolean {
    return this.settings !== null && this.state.subscriptionId !== null && (this.state.expiresAt ?? 0) > now && !this.interrupted;
  }

  /** The poll interval for caught-up folders. */
  pollIntervalMs(now: number, pollingOnlyMs: number): number {
    return this.healthy(now) ? this.settings!.pollIntervalMs : pollingOnlyMs;
  }

  /** When upkeep (a subscribe or a renewal) is due, or undefined when push is off. */
  dueAt(): number | undefined {
    if (this.settings === null) return undefined;
    if (this.state.subscriptionId === null || this.state.expiresAt === null) return this.state.retryAt;
    const renewal = this.state.expiresAt - this.settings.renewBeforeMs;
    return this.renewNow ? Math.min(this.state.retryAt, renewal) : renewal;
  }

  /** Runs the upkeep that is due; answers `reauth` when the grant is gone (the workflow waits for a re-link). */
  async upkeep(activities: PushActivities, mailboxId: string, now: () => number): Promise<{ reauth?: string; failed?: string }> {
    const { subscriptionId } = this.state;
    const outcome =
      subscriptionId === null
        ? await activities.ensureSubscription({ mailboxId, ...(this.discarded ? { discard: this.discarded } : {}) })
        : await activities.renewSubscription({ mailboxId, subscriptionId });
    this.renewNow = false;
    switch (outcome.outcome) {
      case 'subscribed':
        this.state = { subscriptionId: outcome.subscriptionId, expiresAt: outcome.expiresAt, retryAt: 0 };
        this.discarded = undefined;
        return {};
      case 'gone':
        this.state = { subscriptionId: null, expiresAt: null, retryAt: now() };
        return {};
      case 'unavailable':
        this.state = { subscriptionId: null, expiresAt: null, retryAt: now() + this.settings!.retryMs };
        return { failed: outcome.reason };
      case 'reauth':
        this.state = { subscriptionId: null, expiresAt: null, retryAt: now() };
        return { reauth: outcome.reason };
    }
  }

  /** A failed upkeep (its activity gave up): try again later, polling meanwhile. */
  failed(now: number): void {
    this.state = { ...this.state, retryAt: now + this.settings!.retryMs };
    this.renewNow = this.state.subscriptionId !== null;
  }

  /** Graph's lifecycle events; each one also warrants a full round (what was missed is read by delta). */
  lifecycle(event: LifecycleEvent, now: number): void {
    if (event === 'reauthorizationRequired') {
      this.renewNow = true;
      this.state = { ...this.state, retryAt: now };
    }
    if (event === 'interrupted' || event === 'restored') this.interrupted = event === 'interrupted';
    if (event === 'subscriptionRemoved') {
      this.discarded = this.state.subscriptionId ?? undefined;
      this.state = { subscriptionId: null, expiresAt: null, retryAt: now };
    }
  }

  /** The state for the next run: a removal or a renewal not yet acted on is acted on there. */
  carry(): PushState {
    return {
      ...this.state,
      ...(this.discarded ? { discarded: this.discarded } : {}),
      ...(this.renewNow ? { renewNow: true } : {}),
      ...(this.interrupted ? { interrupted: true } : {}),
    };
  }
}
