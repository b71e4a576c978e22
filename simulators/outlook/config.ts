// The simulator's runtime settings (changed through PUT /_control/config), its counters and the log of
// Graph requests that tests assert on.
import { z } from 'zod';

export interface OutlookSimulatorOptions {
  port?: number;
  host?: string;
  /** When set, the token endpoint requires exactly these. */
  clientId?: string;
  clientSecret?: string;
  accessTokenLifetimeSeconds?: number;
  /** Outlook allows 4 concurrent requests per app and mailbox. */
  maxConcurrentPerMailbox?: number;
  consent?: 'prompt' | 'auto' | 'deny';
  /** A sign-in with an unknown login_hint creates that mailbox. */
  autoCreateMailboxes?: boolean;
  /** Messages seeded into an auto-created mailbox. */
  seedOnCreate?: number;
  /** The origin of every link the simulator emits (the engine rewrites it to the simulator). */
  graphOrigin?: string;
  /** Change-notification settings that survive `POST /_control/reset` (tests shorten Graph's timeouts). */
  notifications?: Partial<NotificationSettings>;
}

const count = z.number().int().min(0);

/** Change notifications: Graph's documented limits by default; tests shorten the timeouts. */
function notificationSettingsShape() {
  return {
    /** Graph requires https notification URLs; the simulator also takes http (local receivers) unless set. */
    requireHttps: z.boolean(),
    /** Outlook messages: 4230 minutes (under 3 days). */
    maxSubscriptionMinutes: z.number().int().min(1).max(525_600),
    /** The notificationUrl must echo the validation token within this (Graph: 10 s). */
    validationTimeoutMs: z.number().int().min(1).max(120_000),
    /** A notification counts as delivered on a 2xx within this (Graph: 3 s). */
    notificationTimeoutMs: z.number().int().min(1).max(120_000),
    /** Notifications for one URL produced within this window go in one POST (at most 100). */
    notificationBatchMs: count.max(60_000),
    /** Retries of a failed POST, after base, 2×base, 4×base… milliseconds. */
    notificationRetries: count.max(10),
    notificationRetryBaseMs: count.max(600_000),
    /** The next n change notifications are dropped, never posted (loss on purpose). */
    dropNotificationsNext: count,
    dropNotificationRate: z.number().min(0).max(1),
    /** Emit reauthorizationRequired this long before a subscription expires (null: never). */
    reauthorizeBeforeMinutes: z.number().min(0).max(525_600).nullable(),
  };
}
const notificationSettingsSchema = z.object(notificationSettingsShape());
export type NotificationSettings = z.infer<typeof notificationSettingsSchema>;

const NOTIFICATION_DEFAULTS: NotificationSettings = {
  requireHttps: false,
  maxSubscriptionMinutes: 4230,
  validationTimeoutMs: 10_000,
  notificationTimeoutMs: 3_000,
  notificationBatchMs: 50,
  notificationRetries: 3,
  notificationRetryBaseMs: 1_000,
  dropNotificationsNext: 0,
  dropNotificationRate: 0,
  reauthorizeBeforeMinutes: null,
};
export const configPatchSchema = z
  .object({
    consent: z.enum(['prompt', 'auto', 'deny']),
    autoCreateMailboxes: z.boolean(),
    seedOnCreate: count.max(1_000_000),
    maxConcurrentPerMailbox: z.number().int().min(1).max(1_000),
    latencyMs: count.max(120_000),
    /** Message-delta requests of these folders (ids or well-known names) wait until released: tests force an order. */
    holdFolders: z.array(z.string().min(1)).max(100),
    /**
     * Message-delta requests of these folders are answered on arrival, from the mailbox as it is then, and the
     * answer is delivered only when released: a page fetched before a change and applied after it.
     */
    holdAnsweredFolders: z.array(z.string().min(1)).max(100),
    /**
     * The mail store's clock stands still at this second (ISO 8601): every change made meanwhile gets the same
     * lastModifiedDateTime, as changes within one second do on Graph. null: the real clock.
     */
    clockFrozenAt: z.iso.datetime({ offset: true }).nullable(),
    throttleNext: z
      .object({ count, status: z.union([z.literal(429), z.literal(503)]).default(429), retryAfterSeconds: count.max(3_600).default(1) })
      .nullable(),
    emptyPagesNext: count,
    replayNext: count,
    staleNext: z.object({ messageId: z.string().min(1) }).nullable(),
    /** An action, not a setting: every delta and next token issued so far answers as expired. */
    expireDeltaTokens: z.literal(true),
    expiredTokenStatus: z.object({ status: z.number().int().min(400).max(499), code: z.string().min(1) }),
    tokenEndpointFailNext: z.object({ count, status: z.number().int().min(400).max(599), error: z.string().min(1).optional() }).nullable(),
    accessTokenLifetimeSeconds: z.number().int().min(1).max(86_400),
    ...notificationSettingsShape(),
  })
  .partial()
  .strict();

export type ConfigPatch = z.input<typeof configPatchSchema>;
export type RuntimeConfig = Required<Omit<z.infer<typeof configPatchSchema>, 'expireDeltaTokens'>>;

export function initialConfig(o: OutlookSimulatorOptions): RuntimeConfig {
  return {
    consent: o.consent ?? 'prompt',
    autoCreateMailboxes: o.autoCreateMailboxes ?? false,
    seedOnCreate: o.seedOnCreate ?? 0,
    maxConcurrentPerMailbox: o.maxConcurrentPerMailbox ?? 4,
    latencyMs: 0,
    holdFolders: [],
    holdAnsweredFolders: [],
    clockFrozenAt: null,
    throttleNext: null,
    emptyPagesNext: 0,
    replayNext: 0,
    staleNext: null,
    expiredTokenStatus: { status: 410, code: 'SyncStateNotFound' },
    tokenEndpointFailNext: null,
    accessTokenLifetimeSeconds: o.accessTokenLifetimeSeconds ?? 3600,
    ...NOTIFICATION_DEFAULTS,
    ...notificationSettingsSchema
      .partial()
      .strict()
      .parse(o.notifications ?? {}),
  };
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string[];
  prefer: string[];
  mailbox: string | null;
  /** The page asked for: its $skiptoken or $deltatoken (null for a first page). */
  cursor: string | null;
  status: number;
  startedAt: number;
  endedAt: number;
  /** The client closed the connection before the answer (an aborted fetch): it never read this page. */
  clientAborted: boolean;
}

/** What GET /_control/stats answers: every counter of the simulator's Stats. */
export type StatsView = ReturnType<Stats['toJSON']>;

export class Stats {
  graphRequests = 0;
  byStatus: Record<string, number> = {};
  maxConcurrent: Record<string, number> = {};
  concurrencyRefusals: Record<string, number> = {};
  /** Requests refused by throttling: the concurrency limit and throttleNext. */
  throttled = 0;
  tokensIssued = 0;
  refreshes = 0;
  codesIssued = 0;
  /** Change and lifecycle notifications, counted per notification (a batch of 3 posted twice is 6 posted). */
  notificationsPosted = 0;
  notificationsAcknowledged = 0;
  /** Attempts answered with a non-2xx, an error or a timeout. */
  notificationsFailed = 0;
  /** Dropped on purpose (dropNotificationsNext, dropNotificationRate): never posted. */
  notificationsDropped = 0;
  /** Given up after the last retry. */
  notificationsAbandoned = 0;
  /** HTTP POSTs of notification batches (each attempt). */
  notificationRequests = 0;
  validationRequests = 0;
  /** Message-delta answers made on arrival and waiting for their release (holdAnsweredFolders). */
  heldAnswers = 0;
  private log: RequestRecord[] = [];

  record(entry: RequestRecord): void {
    this.graphRequests += 1;
    this.byStatus[entry.status] = (this.byStatus[entry.status] ?? 0) + 1;
    this.log.push(entry);
    // Trimmed in chunks: one splice per 1,000 requests instead of a shift per request.
    if (this.log.length > 6_000) this.log.splice(0, this.log.length - 5_000);
  }

  requests(mailbox?: string, limit = 5_000): RequestRecord[] {
    const all = this.log.length > 5_000 ? this.log.slice(-5_000) : this.log;
    const matching = mailbox ? all.filter((r) => r.mailbox === mailbox) : all;
    return matching.slice(-limit);
  }

  toJSON() {
    const { graphRequests, byStatus, maxConcurrent, concurrencyRefusals, throttled, tokensIssued, refreshes, codesIssued } = this;
    const {
      notificationsPosted,
      notificationsAcknowledged,
      notificationsFailed,
      notificationsDropped,
      notificationsAbandoned,
      notificationRequests,
      validationRequests,
    } = this;
    return {
      graphRequests,
      byStatus,
      maxConcurrent,
      concurrencyRefusals,
      throttled,
      tokensIssued,
      refreshes,
      codesIssued,
      notificationsPosted,
      notificationsAcknowledged,
      notificationsFailed,
      notificationsDropped,
      notificationsAbandoned,
      notificationRequests,
      validationRequests,
      heldAnswers: this.heldAnswers,
    };
  }
}
