// The process environment, parsed once at boot. Nothing else reads process.env: entry points call
// loadConfig() and pass the result down, so a bad variable stops the process with its name.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65_535);
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional());
/** An unset variable and an empty one mean the same: not configured. */
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional());

/** `kid:base64key[,kid:base64key…]`; the first key encrypts, every key decrypts (rotation). */
const encryptionKeys = z.string().transform((raw, ctx) => {
  const keys = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [id, b64] = part.split(':');
      return { id: id ?? '', key: Buffer.from(b64 ?? '', 'base64') };
    });
  const bad = keys.find((k) => !/^[A-Za-z0-9_-]{1,16}$/.test(k.id) || k.key.length !== 32);
  if (keys.length === 0 || bad) {
    ctx.addIssue({ code: 'custom', message: 'expected kid:base64(32 bytes)[,kid:base64(32 bytes)…]' });
    return z.NEVER;
  }
  return keys;
});

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(3000),
  /** The largest request body (JSON, webhooks) the API reads; uploads have their own limits. */
  API_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  PUBLIC_BASE_URL: z.string().url().default('http://localhost:3000'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** The API's own connections for CRITICAL admissions: a burst of other priorities queued for the main pool never delays one. */
  DATABASE_CRITICAL_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(2),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_URL: optionalUrl,
  /** Prepended to every task-queue name: isolates deployments (and test runs) sharing one namespace. */
  TASK_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]*$/)
    .default(''),
  ELASTICSEARCH_URL: optionalUrl,
  ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  ENCRYPTION_KEYS: encryptionKeys,
  WORKER_ROLES: z.string().default('all'),
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  // Notifications: admission limits (per user, any type), retry policy and worker capacity per priority.
  RATE_LIMIT_USER_COUNT: z.coerce.number().int().min(1).default(5),
  RATE_LIMIT_USER_WINDOW_SECONDS: z.coerce.number().int().min(1).default(60),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(1).default(24),
  // A notification whose workflow start is unconfirmed this long is started by the API's recovery sweep.
  NOTIFICATION_START_RECOVERY_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  NOTIFICATION_MAX_ATTEMPTS_CRITICAL: z.coerce.number().int().min(1).default(8),
  NOTIFICATION_MAX_ATTEMPTS_MEDIUM: z.coerce.number().int().min(1).default(10),
  NOTIFICATION_MAX_ATTEMPTS_LOW: z.coerce.number().int().min(1).default(12),
  NOTIFICATION_RETRY_INITIAL_MS_CRITICAL: z.coerce.number().int().min(1).default(250),
  NOTIFICATION_RETRY_INITIAL_MS_MEDIUM: z.coerce.number().int().min(1).default(2_000),
  NOTIFICATION_RETRY_INITIAL_MS_LOW: z.coerce.number().int().min(1).default(10_000),
  NOTIFICATION_RETRY_MAX_MS_CRITICAL: z.coerce.number().int().min(1).default(2_000),
  NOTIFICATION_RETRY_MAX_MS_MEDIUM: z.coerce.number().int().min(1).default(120_000),
  NOTIFICATION_RETRY_MAX_MS_LOW: z.coerce.number().int().min(1).default(600_000),
  /** Concurrent sends per channel worker process, per priority lane. */
  SEND_CONCURRENCY_CRITICAL: z.coerce.number().int().min(1).default(20),
  SEND_CONCURRENCY_MEDIUM: z.coerce.number().int().min(1).default(50),
  SEND_CONCURRENCY_LOW: z.coerce.number().int().min(1).default(50),
  ATTACHMENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(10 * 1024 * 1024),
  ATTACHMENTS_MAX_TOTAL_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(25 * 1024 * 1024),
  /** Provider webhooks older than this are refused as stale (replay protection with the one-time token). */
  WEBHOOK_MAX_AGE_SECONDS: z.coerce.number().int().min(1).default(300),
  // Providers (all optional: a channel without one fails its sends with a named error until configured).
  MAILGUN_API_URL: optionalUrl,
  MAILGUN_API_KEY: z.string().min(1).optional(),
  MAILGUN_DOMAIN: z.string().min(1).optional(),
  /** Verifies Mailgun's delivery webhooks; without it every webhook is refused. */
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(8).optional(),
  SMTP_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^smtps?:\/\//, 'expected smtp:// or smtps://')
      .optional(),
  ),
  EMAIL_FROM: z.string().min(3).default('Mailflow <no-reply@mailflow.local>'),
  EMAIL_PROVIDER_PRIMARY: z.enum(['mailgun', 'smtp']).default('mailgun'),
  EMAIL_PROVIDER_SECONDARY: z.enum(['mailgun', 'smtp', 'none']).default('smtp'),
  /** Consecutive transient failures of the primary that open its circuit; how long it stays open. */
  EMAIL_CIRCUIT_FAILURES: z.coerce.number().int().min(1).default(3),
  EMAIL_CIRCUIT_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  SMS_API_URL: optionalUrl,
  SMS_API_KEY: z.string().min(1).optional(),
  PUSH_API_URL: optionalUrl,
  PUSH_API_KEY: z.string().min(1).optional(),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  // CSV mailings: the seed-004 email API (or any adapter behind lib/mailings/provider.ts).
  SEED004_API_URL: optionalUrl,
  SEED004_USERNAME: z.string().min(1).optional(),
  SEED004_PASSWORD: z.string().min(1).optional(),
  /** The provider's limit, paced once for the fleet (lib/pacing/gcra.ts; the seed API: 1 per 10 s). */
  SEED004_RATE_PER_SECOND: z.coerce.number().positive().default(0.1),
  /** The window the provider counts in: it allows RATE_PER_SECOND × WINDOW_SECONDS requests in any such window. */
  SEED004_RATE_WINDOW_SECONDS: z.coerce.number().positive().default(10),
  /**
   * Slack added to each window before it is divided into evenly spaced slots. The limit is kept by the pacer's
   * lanes whatever the margin (a request leaves only a window after the answer of the request that last used
   * its lane); the margin lets that lane clear before the slot that reuses it, so a request whose round trip to
   * the provider is shorter than the margin is never held. Costs margin / window of the limit (0.5% at the
   * seed's 1 per 10 s).
   */
  SEED004_PACING_MARGIN_MS: z.coerce.number().min(0).default(50),
  /** Whether /auth/token requests take a slot too (the seed's API does not say whether it counts them). */
  SEED004_PACE_TOKEN_REQUESTS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  SEED004_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  MAILING_MAX_CSV_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(50 * 1024 * 1024),
  /** Recipients per child workflow, and how many children a mailing keeps running at once. */
  MAILING_SLICE_SIZE: z.coerce.number().int().min(1).max(1_000).default(100),
  MAILING_MAX_CHILDREN: z.coerce.number().int().min(1).max(100).default(8),
  /** Slices a mailing run starts before it continues as new, keeping its history short. */
  MAILING_SLICES_PER_RUN: z.coerce.number().int().min(1).max(2_000).default(200),
  // Scheduled mail: limits per tenant (today the schedule's owner: the API key id, or "admin").
  /** Schedules a tenant may have that are not archived (active or paused); one more is a 409. */
  SCHEDULES_MAX_ACTIVE_PER_TENANT: z.coerce.number().int().min(1).default(1_000),
  /**
   * The shortest time a schedule may leave between two firings (seconds): `every` specs, and the gaps between
   * the run times Temporal computes for cron and calendar specs. A shorter one is a 422.
   */
  SCHEDULE_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(1),
  /** POST /v1/schedules/preview per API key: it creates and deletes a Temporal Schedule per call. */
  SCHEDULE_PREVIEW_RATE_COUNT: z.coerce.number().int().min(1).default(30),
  SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  // Mailbox sync (seed 000): Outlook through the Microsoft identity platform and Graph.
  /** The Entra ID app registration; without a client id, linking Outlook answers 503 until configured. */
  OUTLOOK_CLIENT_ID: optionalText,
  OUTLOOK_CLIENT_SECRET: optionalText,
  /** `common`, `organizations`, `consumers` or a tenant id. */
  OUTLOOK_TENANT: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/)
    .default('common'),
  /** The identity platform's origin; an http:// origin (a local simulator) is reached without discovery. */
  OUTLOOK_LOGIN_URL: z.string().url().default('https://login.microsoftonline.com'),
  /** Graph's origin; another origin (a local simulator) receives the canonical Graph URLs rewritten to it. */
  OUTLOOK_GRAPH_URL: z.string().url().default('https://graph.microsoft.com'),
  /** Where Microsoft sends the browser back; default PUBLIC_BASE_URL + /v1/oauth/outlook/callback. */
  OUTLOOK_REDIRECT_URI: optionalUrl,
  /** URL prefixes a link request's callbackUrl must start with (comma-separated); default PUBLIC_BASE_URL + '/'. */
  OAUTH_CALLBACK_ALLOWLIST: optionalText,
  OAUTH_STATE_TTL_SECONDS: z.coerce.number().int().min(30).max(3_600).default(600),
  /** Seconds between delta rounds of a mailbox's folders in steady state. */
  SYNC_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(86_400).default(30),
  /** Messages per Graph delta page (`Prefer: odata.maxpagesize`). */
  SYNC_PAGE_SIZE: z.coerce.number().int().min(1).max(1_000).default(500),
  /** Graph requests in flight per mailbox (Outlook allows 4). */
  SYNC_MAX_CONCURRENT_REQUESTS: z.coerce.number().int().min(1).max(4).default(4),
  /**
   * Pages one activity may read in a row from a folder that is not caught up, each indexed and checkpointed
   * in order, the next link fetched while a page is indexed; a retried attempt goes on from its last
   * checkpoint. 1: each page its own activity (its own retry and line in the Web UI), a workflow turn
   * between pages and no overlap. A page with removals, or 5 s, ends a batch.
   */
  SYNC_PAGES_PER_ACTIVITY: z.coerce.number().int().min(1).max(100).default(8),
  /** Workflow history events before a mailbox's workflow continues as new. */
  SYNC_HISTORY_EVENTS_PER_RUN: z.coerce.number().int().min(100).max(40_000).default(2_000),
  GRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** Mailbox workflows a sync worker keeps in memory between wakes; the rest are replayed when they wake. */
  SYNC_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(250),
  /** Graph requests (activities) one sync worker runs at once, for all of its mailboxes together. */
  SYNC_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(1_000).default(40),
  /**
   * Where Graph posts change notifications (push); default PUBLIC_BASE_URL + /v1/webhooks/graph when that
   * is https (Graph calls only https endpoints). Unset on http: mailboxes are polled only.
   */
  GRAPH_NOTIFICATION_URL: optionalUrl,
  /** Seconds between delta rounds of a caught-up folder while push is healthy: the safety net for lost notifications. */
  SYNC_PUSH_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(86_400).default(3_600),
  /** A subscription's lifetime (Graph allows 4,230 minutes for mail), and how long before expiry it is renewed. */
  GRAPH_SUBSCRIPTION_SECONDS: z.coerce.number().int().min(10).max(253_800).default(252_000),
  GRAPH_SUBSCRIPTION_RENEW_BEFORE_SECONDS: z.coerce.number().int().min(5).default(3_600),
  /** Graph requests a mailbox may make per 10 minutes (Outlook allows 10,000): its workflow paces itself under this. */
  SYNC_REQUESTS_PER_10_MINUTES: z.coerce.number().int().min(10).max(10_000).default(9_000),
  /**
   * Requests a mailbox may make ahead of that pace (the lanes still cap concurrency). Any 10 minutes hold at
   * most this plus SYNC_REQUESTS_PER_10_MINUTES, so the two together stay within Outlook's 10,000; the
   * default leaves 100 for requests outside the budget (retried attempts, the profile read at link).
   */
  SYNC_REQUEST_BURST: z.coerce.number().int().min(1).max(1_000).default(900),
  // Mailbox sync over IMAP.
  /**
   * Hosts an IMAP link may name although they resolve to loopback, private, link-local or metadata addresses
   * (comma-separated names or addresses); every other such address is refused. The local stack allows its Dovecot.
   */
  IMAP_ALLOW_HOSTS: z.string().default(''),
  /** Whether a link may use an IMAP server without TLS (`tls: none`); off: implicit TLS or STARTTLS only. */
  IMAP_ALLOW_PLAINTEXT: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** A PEM file of certificate authorities trusted for IMAP servers besides the system's (a private CA). */
  IMAP_CA_FILE: optionalText,
  /** Whether to use QRESYNC where a server offers it (off: CONDSTORE and a UID comparison, for a server whose QRESYNC misbehaves). */
  IMAP_USE_QRESYNC: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Connecting, TLS and the greeting, and any one command's silence, before an IMAP connection is dropped. */
  IMAP_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(20_000),
  /** Login checks of links per tenant, login and server in each IMAP_LINK_ATTEMPTS_WINDOW_SECONDS. */
  IMAP_LINK_ATTEMPTS: z.coerce.number().int().min(1).max(10_000).default(10),
  IMAP_LINK_ATTEMPTS_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /**
   * Connections a mailbox may have open to its server at once: its sync's requests, its IDLE watch and a
   * link's login. Servers cap them per user and address (Dovecot 10, Gmail 15); the sync uses this minus two.
   */
  IMAP_CONNECTIONS_PER_MAILBOX: z.coerce.number().int().min(3).max(50).default(8),
  /** Seconds between rounds of an IMAP mailbox's folders when its IDLE watch is down (a cheap STATUS per unchanged folder). */
  IMAP_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(86_400).default(30),
  /** While the watch is up: seconds between its check of every folder (one LIST-STATUS), and the workflow's own safety-net round. */
  IMAP_FOLDER_CHECK_SECONDS: z.coerce.number().min(0.2).max(3_600).default(15),
  IMAP_WATCHED_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(86_400).default(300),
  /** IDLE is restarted this often (servers drop it after 30 minutes, some far sooner). */
  IMAP_IDLE_RESTART_SECONDS: z.coerce.number().int().min(5).max(1_740).default(300),
  /** IDLE watches one sync worker holds at most (one connection each). */
  IMAP_WATCHES_PER_WORKER: z.coerce.number().int().min(0).max(100_000).default(5_000),
  /** How long the live feed (GET /v1/accounts/{id}/events) keeps events for reconnecting pages. */
  MAILBOX_EVENTS_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(24),
  // Outbound webhooks.
  /** Hosts a webhook endpoint may name although they resolve to loopback, private, link-local or metadata addresses (comma-separated). */
  WEBHOOK_ALLOW_HOSTS: z.string().default(''),
  /** A webhook request's whole exchange (connect, send, answer) before it counts as failed. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /**
   * Seconds to wait before each retry of a failed delivery (comma-separated); the delivery is given up after
   * the last. The default (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over 27 h 40 min) is Standard Webhooks'.
   */
  WEBHOOK_RETRY_DELAYS_SECONDS: z
    .string()
    .default('5,300,1800,7200,18000,36000,36000')
    .transform((raw, ctx) => {
      const delays = raw.split(',').map((part) => Number(part.trim()));
      if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) {
        ctx.addIssue({ code: 'custom', message: 'expected comma-separated seconds, e.g. 5,300,1800' });
        return z.NEVER;
      }
      return delays;
    }),
  /** An endpoint whose deliveries have all failed for this long is disabled (the tenant sees why). */
  WEBHOOK_DISABLE_AFTER_SECONDS: z.coerce.number().min(1).default(86_400),
  /** Lanes (mailboxes, notifications, …) one endpoint is sent to at once; within a lane, one at a time. */
  WEBHOOK_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Endpoints one webhooks worker delivers to at once (each a slot while its batch runs). */
  WEBHOOK_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(1_000).default(100),
  /** How long finished deliveries are kept (listing, replay). */
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** Elasticsearch index and alias names start with this (lower case). */
  ELASTICSEARCH_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/)
    .default('mailflow'),
  ELASTICSEARCH_SHARDS: z.coerce.number().int().min(1).max(64).default(1),
  ELASTICSEARCH_REPLICAS: z.coerce.number().int().min(0).max(5).default(0),
  /** A prebuilt workflow bundle (npm start writes one; images ship one); without it a worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  /** Where a worker process serves /metrics (0: not served). */
  WORKER_METRICS_PORT: port.default(0),
  /** The interface it listens on: loopback unless the pod network (and only it) should scrape it. */
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Where a worker process serves Temporal's own SDK metrics (0: not served; unset: WORKER_METRICS_PORT + 100). */
  WORKER_SDK_METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), port.optional()),
});

/** Outlook's limit per app and mailbox: requests in any 10 minutes. */
const OUTLOOK_REQUESTS_PER_10_MINUTES = 10_000;

/** Rules across variables, checked after each variable's own. */
const configRules = configSchema.superRefine((config, ctx) => {
  if (config.SYNC_REQUEST_BURST + config.SYNC_REQUESTS_PER_10_MINUTES > OUTLOOK_REQUESTS_PER_10_MINUTES) {
    ctx.addIssue({
      code: 'custom',
      path: ['SYNC_REQUEST_BURST'],
      message: `with SYNC_REQUESTS_PER_10_MINUTES=${config.SYNC_REQUESTS_PER_10_MINUTES} a burst of ${config.SYNC_REQUEST_BURST} could make ${config.SYNC_REQUEST_BURST + config.SYNC_REQUESTS_PER_10_MINUTES} requests in 10 minutes; Outlook allows ${OUTLOOK_REQUESTS_PER_10_MINUTES}`,
    });
  }
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly variables: { name: string; problem: string }[]) {
    super(`invalid environment: ${variables.map((v) => `${v.name}: ${v.problem}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configRules.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      name: String(issue.path[0] ?? '?'),
      problem: issue.message,
    })),
  );
}

/** Which implementation backs the mail index: a real Elasticsearch when one is configured. */
export function indexBackend(config: Pick<Config, 'ELASTICSEARCH_URL'>): 'elasticsearch' | 'postgres' {
  return config.ELASTICSEARCH_URL ? 'elasticsearch' : 'postgres';
}

/** For entry points: parse or print the offending variables and exit non-zero. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`mailflow: ${error.message}`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}
