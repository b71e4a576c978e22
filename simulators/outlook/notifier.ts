// Delivers change and lifecycle notifications the way Graph's webhook channel does: batched per URL,
// POSTed as JSON, delivered once the receiver answers 2xx within the timeout, otherwise retried with
// exponential backoff and then given up. Change notifications can also be lost on purpose, so the
// engine's tests can prove its safety poll catches what push missed. Everything runs after the user
// action that caused it has answered.
import { randomUUID } from 'node:crypto';
import type { RuntimeConfig, Stats } from './config.js';
import { TENANT_ID } from './grants.js';
import { defaultId, type Mailbox, type MessageChange } from './store.js';
import { isLive, type ChangeType, type LifecycleEvent, type NotificationRecord, type Subscription, type Subscriptions } from './subscriptions.js';

/** What the notifier uses of the simulator (its context has it all). */
export interface NotifierContext {
  subscriptions: Subscriptions;
  stats: Stats;
  config: RuntimeConfig;
}

/** Graph puts at most this many notifications in one POST. */
const MAX_BATCH = 100;

interface Item {
  subscription: Subscription;
  body: Record<string, unknown>;
  changeType: ChangeType | null;
  lifecycleEvent: LifecycleEvent | null;
  messageId: string | null;
}
interface Batch {
  url: string;
  items: Item[];
  timer?: NodeJS.Timeout;
}

/** What a change means to one subscription: a folder sees a move as a removal or an arrival. */
export function changeTypeFor(s: Subscription, change: MessageChange): ChangeType | undefined {
  if (s.folderId === null) return change.type;
  const from = change.fromFolderId ?? change.folderId;
  if (change.type === 'created') return change.folderId === s.folderId ? 'created' : undefined;
  if (change.type === 'deleted') return change.folderId === s.folderId ? 'deleted' : undefined;
  if (from === s.folderId) return change.folderId === s.folderId ? 'updated' : 'deleted';
  return change.folderId === s.folderId ? 'created' : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class Notifier {
  private batches = new Map<string, Batch>();
  private timers = new Set<NodeJS.Timeout>();
  /** Aborted by reset and close: in-flight posts and handshakes end, and nothing of theirs is recorded. */
  private abort = new AbortController();
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly ctx: NotifierContext) {
    this.ticker = setInterval(() => this.remindExpiring(), 500);
    this.ticker.unref();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  messageChanged(mb: Mailbox, change: MessageChange): void {
    for (const s of this.ctx.subscriptions.liveFor(mb.id)) {
      const changeType = changeTypeFor(s, change);
      if (!changeType || !s.changeTypes.includes(changeType)) continue;
      // A default id names the folder the message is in for this notification: where it left from for a deletion.
      const folderId = changeType === 'deleted' ? (change.fromFolderId ?? change.folderId) : change.folderId;
      const id = s.immutableIds ? change.message.id : defaultId(change.message.id, folderId);
      const path = `Users/${mb.id}/Messages/${id}`;
      const body = {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: iso(s.expiresAt),
        changeType,
        resource: path,
        resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': path, '@odata.etag': `W/"${change.message.changeKey}"`, id },
        ...(s.clientState !== null ? { clientState: s.clientState } : {}),
        tenantId: TENANT_ID,
      };
      const item: Item = { subscription: s, body, changeType, lifecycleEvent: null, messageId: id };
      if (this.dropOnPurpose()) this.dropped(item, s.notificationUrl);
      else this.enqueue(`change ${s.notificationUrl}`, s.notificationUrl, item);
    }
  }

  /**
   * Lifecycle notifications go to the lifecycleNotificationUrl only: Graph sends none to a subscription
   * created without one. Answers the subscriptions that had no URL to post to.
   */
  lifecycle(subscriptions: Subscription[], event: LifecycleEvent): Subscription[] {
    const without: Subscription[] = [];
    for (const s of subscriptions) {
      const url = s.lifecycleNotificationUrl;
      if (!url) {
        without.push(s);
        continue;
      }
      const body = {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: iso(s.expiresAt),
        tenantId: TENANT_ID,
        ...(s.clientState !== null ? { clientState: s.clientState } : {}),
        lifecycleEvent: event,
      };
      this.enqueue(`lifecycle ${url}`, url, { subscription: s, body, changeType: null, lifecycleEvent: event, messageId: null });
    }
    return without;
  }

  /** The mailbox's grant was revoked: every live subscription is told (subscriptionRemoved), then removed. */
  removeAll(mailboxId: string): Subscription[] {
    const live = this.ctx.subscriptions.liveFor(mailboxId);
    this.lifecycle(live, 'subscriptionRemoved');
    for (const s of live) this.ctx.subscriptions.remove(s, 'revoke');
    return live;
  }

  /**
   * Graph's validation handshake: POST `?validationToken=…` (text/plain, empty body); the endpoint must
   * answer 200, text/plain, with the decoded token, within the timeout. Answers why it failed, if it did.
   */
  async validate(url: string): Promise<string | undefined> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    // Graph keeps the URL's own query parameters and adds the token.
    target.search = `${target.search ? `${target.search}&` : '?'}validationToken=${encodeURIComponent(token)}`;
    this.ctx.stats.validationRequests += 1;
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: '',
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.ctx.config.validationTimeoutMs)]),
      });
      const text = await response.text();
      if (response.status !== 200) return `answered ${response.status}`;
      if (!(response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/plain'))
        return `answered content-type ${response.headers.get('content-type') ?? '(none)'}, not text/plain`;
      return text.trim() === token ? undefined : 'answered a body that is not the decoded validation token';
    } catch (error) {
      return error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${this.ctx.config.validationTimeoutMs} ms`
        : `request failed: ${String(error)}`;
    }
  }

  /** Forgets everything pending (POST /_control/reset). */
  reset(): void {
    this.abort.abort();
    this.abort = new AbortController();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.batches.clear();
  }

  stop(): void {
    this.reset();
    clearInterval(this.ticker);
  }

  private dropOnPurpose(): boolean {
    const config = this.ctx.config;
    if (config.dropNotificationsNext > 0) {
      config.dropNotificationsNext -= 1;
      return true;
    }
    return config.dropNotificationRate > 0 && Math.random() < config.dropNotificationRate;
  }

  private dropped(item: Item, url: string): void {
    this.ctx.stats.notificationsDropped += 1;
    item.subscription.counters.dropped += 1;
    this.ctx.subscriptions.record({ ...this.describe(item, url), postedAt: Date.now(), status: 'dropped', latencyMs: null, attempt: 0, batchSize: 0 });
  }

  private enqueue(key: string, url: string, item: Item): void {
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { url, items: [] };
      this.batches.set(key, batch);
    }
    batch.items.push(item);
    if (batch.items.length >= MAX_BATCH) this.flush(key);
    else batch.timer ??= this.later(this.ctx.config.notificationBatchMs, () => this.flush(key));
  }

  private flush(key: string): void {
    const batch = this.batches.get(key);
    if (!batch) return;
    this.batches.delete(key);
    if (batch.timer) {
      clearTimeout(batch.timer);
      this.timers.delete(batch.timer);
    }
    void this.post(batch.url, batch.items, 1);
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private async post(url: string, items: Item[], attempt: number): Promise<void> {
    const generation = this.abort.signal;
    const { stats, config } = this.ctx;
    const timeout = AbortSignal.timeout(config.notificationTimeoutMs);
    const postedAt = Date.now();
    stats.notificationRequests += 1;
    stats.notificationsPosted += items.length;
    for (const item of items) item.subscription.counters.posted += 1;
    let status: NotificationRecord['status'];
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: items.map((i) => i.body) }),
        redirect: 'manual',
        signal: AbortSignal.any([generation, timeout]),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
    } catch {
      if (generation.aborted) return;
      status = timeout.aborted ? 'timeout' : 'error';
    }
    if (generation.aborted) return;
    const latencyMs = Date.now() - postedAt;
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    const retry = !ok && attempt <= config.notificationRetries;
    for (const item of items) {
      this.ctx.subscriptions.record({ ...this.describe(item, url), postedAt, status, latencyMs, attempt, batchSize: items.length });
      const counters = item.subscription.counters;
      if (ok) counters.acknowledged += 1;
      else counters.failed += 1;
      if (!ok && !retry) counters.abandoned += 1;
    }
    if (ok) stats.notificationsAcknowledged += items.length;
    else stats.notificationsFailed += items.length;
    if (retry) this.later(config.notificationRetryBaseMs * 2 ** (attempt - 1), () => void this.post(url, items, attempt + 1));
    else if (!ok) stats.notificationsAbandoned += items.length;
  }

  private describe(item: Item, url: string) {
    const { subscription: s, changeType, lifecycleEvent, messageId } = item;
    return { subscriptionId: s.id, mailbox: s.address, changeType, lifecycleEvent, messageId, url };
  }

  /** reauthorizationRequired once per expiry, when a subscription enters the configured window. */
  private remindExpiring(): void {
    const before = this.ctx.config.reauthorizeBeforeMinutes;
    if (before === null) return;
    const now = Date.now();
    for (const s of this.ctx.subscriptions.all()) {
      if (!isLive(s, now) || s.reauthorizationSentFor === s.expiresAt || s.expiresAt - now > before * 60_000) continue;
      s.reauthorizationSentFor = s.expiresAt;
      this.lifecycle([s], 'reauthorizationRequired');
    }
  }
}
