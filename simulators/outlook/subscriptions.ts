// Graph subscriptions on Outlook messages: what one covers (the whole mailbox or one folder), the
// registry of them, their Graph JSON and control view, and the log of every notification posted or
// dropped. Removed and expired subscriptions stay in the registry (Graph answers 404 for them) so the
// control API can still show what happened to them.
import type { Mailbox } from './store.js';

export type ChangeType = 'created' | 'updated' | 'deleted';
export const CHANGE_TYPES: readonly ChangeType[] = ['created', 'updated', 'deleted'];
export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

/** Per notification: `posted` counts every attempt (a retry posts again), `failed` every failed attempt,
 * `dropped` the ones dropped on purpose, `abandoned` the ones given up after the last retry. */
export interface DeliveryCounters {
  posted: number;
  acknowledged: number;
  failed: number;
  dropped: number;
  abandoned: number;
}

export interface Subscription {
  id: string;
  mailboxId: string;
  address: string;
  applicationId: string;
  /** As the client sent it: Graph echoes the resource unchanged. */
  resource: string;
  /** The folder resolved at creation (a well-known name stays on its folder); null for the whole mailbox. */
  folderId: string | null;
  changeTypes: ChangeType[];
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  latestSupportedTlsVersion: string;
  /** Created with `Prefer: IdType="ImmutableId"`: notifications then carry immutable ids. */
  immutableIds: boolean;
  expiresAt: number;
  createdAt: number;
  renewedAt: number | null;
  reauthorizedAt: number | null;
  removedAt: number | null;
  removedBy: 'delete' | 'subscriptionRemoved' | 'revoke' | null;
  /** The expiry a reauthorizationRequired was sent for; renewing moves the expiry and so re-arms it. */
  reauthorizationSentFor: number | null;
  counters: DeliveryCounters;
}

export interface NotificationRecord {
  subscriptionId: string;
  mailbox: string;
  changeType: ChangeType | null;
  lifecycleEvent: LifecycleEvent | null;
  messageId: string | null;
  url: string;
  /** Epoch ms of the attempt (of the drop, for a dropped one). */
  postedAt: number;
  /** The receiver's HTTP status, or why there is none. */
  status: number | 'dropped' | 'timeout' | 'error';
  latencyMs: number | null;
  /** 1 for the first POST, 2 for the first retry…; 0 for a notification dropped before any POST. */
  attempt: number;
  batchSize: number;
}

export const isLive = (s: Subscription, now = Date.now()) => s.removedAt === null && s.expiresAt > now;

export class Subscriptions {
  private byId = new Map<string, Subscription>();
  private records: NotificationRecord[] = [];

  add(subscription: Subscription): void {
    this.byId.set(subscription.id, subscription);
  }

  all(): Subscription[] {
    return [...this.byId.values()];
  }

  /** A live subscription the caller may see: Graph scopes them to the app and the signed-in user. */
  owned(id: string, mailboxId: string, applicationId: string): Subscription | undefined {
    const s = this.byId.get(id.toLowerCase());
    return s && isLive(s) && s.mailboxId === mailboxId && s.applicationId === applicationId ? s : undefined;
  }

  liveFor(mailboxId: string): Subscription[] {
    const now = Date.now();
    return this.all().filter((s) => s.mailboxId === mailboxId && isLive(s, now));
  }

  remove(subscription: Subscription, by: NonNullable<Subscription['removedBy']>): void {
    subscription.removedAt = Date.now();
    subscription.removedBy = by;
  }

  record(entry: NotificationRecord): void {
    this.records.push(entry);
    // Trimmed in chunks, like the request log.
    if (this.records.length > 6_000) this.records.splice(0, this.records.length - 5_000);
  }

  notifications(query: { mailbox?: string; subscriptionId?: string; limit?: number } = {}): NotificationRecord[] {
    const all = this.records.length > 5_000 ? this.records.slice(-5_000) : this.records;
    const matching = all.filter((r) => (!query.mailbox || r.mailbox === query.mailbox) && (!query.subscriptionId || r.subscriptionId === query.subscriptionId));
    return matching.slice(-(query.limit ?? 5_000));
  }

  reset(): void {
    this.byId.clear();
    this.records = [];
  }
}

/**
 * The messages a resource path covers, or why Graph would refuse it: `me/messages`, `users/{id}/messages`
 * (this mailbox's id or address), and a folder's `…/mailFolders('{id}')/messages` or `…/mailFolders/{id}/messages`
 * with an id or a well-known name. Keywords in any case, with or without a leading slash.
 */
export function parseResource(resource: string, mb: Mailbox): { folderId: string | null } | { error: string } {
  let path = resource.trim();
  try {
    path = decodeURIComponent(path);
  } catch {
    /* kept as sent */
  }
  const unsupported = { error: `The resource '${resource}' is not supported: use me/messages, users/{id}/messages or me/mailFolders('{id}')/messages.` };
  if (path.includes('?')) return unsupported;
  const parts = `/${path}`
    .replace(/\/(\w+)\('([^'/]*)'\)/g, '/$1/$2')
    .split('/')
    .filter(Boolean);
  if (parts[0]?.toLowerCase() === 'users' && parts[1] && [mb.id, mb.address].includes(parts[1].toLowerCase())) parts.splice(0, 2, 'me');
  const key = parts.map((p, i) => (i === 2 ? '{}' : p.toLowerCase())).join('/');
  if (key === 'me/messages') return { folderId: null };
  if (key !== 'me/mailfolders/{}/messages') return unsupported;
  const folder = mb.folder(parts[2]!);
  return folder ? { folderId: folder.id } : { error: `The mail folder '${parts[2]!}' was not found in the mailbox.` };
}

/** `created,updated` → the change types, or undefined for an empty list or an unknown value. */
export function parseChangeTypes(value: string): ChangeType[] | undefined {
  const types = value.split(',').map((t) => t.trim());
  if (types.length === 0 || !types.every((t): t is ChangeType => (CHANGE_TYPES as readonly string[]).includes(t))) return undefined;
  return [...new Set(types)];
}

const isoMs = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The subscription as Graph returns it. */
export function renderSubscription(s: Subscription) {
  return {
    id: s.id,
    resource: s.resource,
    applicationId: s.applicationId,
    changeType: s.changeTypes.join(','),
    clientState: s.clientState,
    notificationUrl: s.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    expirationDateTime: isoMs(s.expiresAt),
    creatorId: s.mailboxId,
    includeResourceData: false,
    latestSupportedTlsVersion: s.latestSupportedTlsVersion,
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

/** What the control API shows: the Graph fields plus state, times and delivery counters. */
export function subscriptionView(s: Subscription, now = Date.now()) {
  const state: 'active' | 'expired' | 'removed' = s.removedAt !== null ? 'removed' : s.expiresAt <= now ? 'expired' : 'active';
  return {
    ...renderSubscription(s),
    mailbox: s.address,
    folderId: s.folderId,
    immutableIds: s.immutableIds,
    state,
    createdDateTime: isoMs(s.createdAt),
    renewedDateTime: isoMs(s.renewedAt),
    reauthorizedDateTime: isoMs(s.reauthorizedAt),
    removedDateTime: isoMs(s.removedAt),
    removedBy: s.removedBy,
    delivery: { ...s.counters },
  };
}
export type SubscriptionView = ReturnType<typeof subscriptionView>;
