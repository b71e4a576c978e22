// What the operator's console needs beyond the notification list: counts per status for a filter, cancel,
// batch retries, the live feed of status changes, and the overview. Mounted before the notification routes,
// so `/v1/notifications/counts` is not taken for a notification id.
import { z } from '@hono/zod-openapi';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { cancelNotification } from '../../../lib/notifications/cancel.js';
import type { NotificationChange } from '../../../lib/notifications/feed.js';
import { COUNT_CAP, COUNTED_NEWEST, countByStatus, type RetryFilters } from '../../../lib/notifications/list.js';
import { notificationOverview } from '../../../lib/notifications/overview.js';
import { priorities } from '../../../lib/notifications/policy.js';
import { getRetryBatch, MAX_BATCH_RETRY, startRetryBatch, type RetryBatchRow } from '../../../lib/notifications/retries.js';
import { notificationStatuses } from '../../../lib/notifications/status.js';
import { listMailings } from '../../../lib/mailings/service.js';
import { mailboxStatusCounts } from '../../../lib/mailbox-sync/mailboxes.js';
import { issueStreamCookie, NOTIFICATION_EVENTS_PATH, NOTIFICATION_STREAM } from '../../auth/stream-cookie.js';
import { tenantOf } from '../../auth/tenant.js';
import type { AppDeps, Principal } from '../../context.js';
import { errorResponse } from '../../errors.js';
import { filterFields, filterQuery, toFilters } from '../../notifications/filters.js';
import { notificationSchema, toView } from '../../notifications/view.js';
import { KEEPALIVE_MS, wakeable } from '../../event-stream.js';
import { mailingSchema } from '../../mailings/view.js';
import { byId, createRouter, foundOr404, json, jsonBody, routesTagged } from '../../openapi.js';

const route = routesTagged('Notifications');
const overviewRoute = routesTagged('Overview');

const idParam = z.object({ id: z.string().min(1).max(64).openapi({ example: 'ntf_01jd9z8x5m3q7c2v4b6n8k0p1r' }) });

const retryBatchSchema = z
  .object({
    id: z.string(),
    filters: z.record(z.string(), z.unknown()),
    max: z.number().int(),
    total: z.number().int().nullable().openapi({ description: 'How many matched when the batch began; null until then' }),
    retried: z.number().int(),
    skipped: z.number().int().openapi({ description: 'No longer failed or dead-lettered when their turn came (another retry got there first)' }),
    done: z.boolean(),
    createdAt: z.string().datetime(),
    finishedAt: z.string().datetime().nullable(),
  })
  .openapi('NotificationRetryBatch');

const batchView = (b: RetryBatchRow): z.infer<typeof retryBatchSchema> => ({
  id: b.id,
  filters: b.filters as Record<string, unknown>,
  max: b.max,
  total: b.total,
  retried: b.retried,
  skipped: b.processed - b.retried,
  done: b.finishedAt !== null,
  createdAt: b.createdAt.toISOString(),
  finishedAt: b.finishedAt?.toISOString() ?? null,
});

const { status: _status, late: _late, ...retryFilterFields } = filterFields;
const retryBody = z
  .object({
    ...retryFilterFields,
    status: z.enum(['FAILED', 'DEAD_LETTERED']).optional().openapi({ description: 'Default: both' }),
    late: z.boolean().optional(),
    max: z.number().int().min(1).max(MAX_BATCH_RETRY).default(MAX_BATCH_RETRY),
  })
  .strict()
  .openapi('NotificationRetryRequest');

const minutePoint = z.object({
  minute: z.string().datetime(),
  sent: z.number().int(),
  late: z.number().int(),
  meanLatencyMs: z.number(),
  maxLatencyMs: z.number(),
});
const overviewSchema = z
  .object({
    at: z.string().datetime(),
    countCap: z.number().int().openapi({ description: 'Backlogs are counted up to this (and one more, which reads as "more than")' }),
    priorities: z.array(
      z.object({
        priority: z.enum(priorities),
        deadlineMs: z.number().int(),
        backlog: z.number().int(),
        oldestWaitingAt: z.string().datetime().nullable(),
        oldestWaitingMs: z.number().int().nullable(),
        sentLastHour: z.number().int(),
        lateLastHour: z.number().int(),
      }),
    ),
    providers: z.array(
      z.object({
        channel: z.enum(['EMAIL', 'SMS', 'PUSH']),
        provider: z.string(),
        sentLastHour: z.number().int(),
        sentPerMinute: z.number(),
        failedLastHour: z.number().int(),
        throttledLastHour: z.number().int(),
        circuit: z.object({ state: z.string(), workers: z.number().int(), since: z.string().datetime() }).nullable(),
      }),
    ),
    series: z.record(z.enum(priorities), z.array(minutePoint)),
    mailings: z.array(mailingSchema).openapi({ description: 'Mailings in progress (pending, parsing, sending or paused), as GET /v1/mailings shows them' }),
    mailboxes: z.record(z.string(), z.number().int()).openapi({ description: 'Linked mailboxes by status' }),
  })
  .openapi('Overview');

const changeEvent = z
  .object({
    event: z.enum(['hello', 'changes', 'revoked']).optional(),
    data: z.string().optional(),
    id: z.string().optional(),
    retry: z.number().int().optional(),
  })
  .openapi('NotificationServerSentEvent');

/** Streams the tenant's changes until the client goes or its key is revoked. */
async function pumpChanges(deps: AppDeps, principal: Principal, stream: SSEStreamingApi): Promise<void> {
  const tenant = principal.tenantId;
  const queue: NotificationChange[][] = [];
  const signal = wakeable();
  const unsubscribe = await deps.notificationFeed.subscribe(tenant, (changes) => {
    queue.push(changes);
    signal.wake();
  });
  let revoked = false;
  const unwatch = deps.access.watch(principal, () => {
    revoked = true;
    signal.wake();
  });
  stream.onAbort(signal.wake);
  try {
    // After `hello` the client reloads its list; what changes from then on follows as `changes`.
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ at: new Date().toISOString() }), retry: 2_000 });
    while (!stream.aborted && !revoked) {
      const changes = queue.shift();
      if (changes) {
        const data = changes.map((c) => ({ seq: c.seq, from: c.from, to: c.to, at: c.at.toISOString(), notification: toView(c.notification) }));
        await stream.writeSSE({ event: 'changes', id: String(changes[changes.length - 1]!.seq), data: JSON.stringify(data) });
        continue;
      }
      await signal.wait(KEEPALIVE_MS);
      // A comment line keeps proxies from closing an idle stream.
      if (queue.length === 0 && !stream.aborted && !revoked) await stream.write(': keepalive\n\n');
    }
    if (revoked) await stream.writeSSE({ event: 'revoked', data: JSON.stringify({ reason: 'the API key of this stream was revoked or its tenant disabled' }) });
  } finally {
    unwatch();
    unsubscribe();
  }
}

export const notificationConsoleRoutes = createRouter()
  .openapi(
    route.get('/v1/notifications/counts', 'countNotifications', 'read', {
      summary: `How the notifications matching the filters divide by status (the newest ${COUNTED_NEWEST.toLocaleString('en')} + 1 when more match)`,
      request: { query: filterQuery },
      responses: {
        200: {
          description: 'Counts per status',
          content: json(
            z.object({
              counts: z.record(z.enum(notificationStatuses), z.number().int()).openapi({ description: 'Per status, among the newest `cap` + 1 matches' }),
              capped: z.boolean().openapi({ description: 'More than `cap` match: the counts describe the newest of them' }),
              cap: z.number().int(),
            }),
          ),
        },
      },
    }),
    async (c) => c.json({ ...(await countByStatus(c.var.deps.db, tenantOf(c.var.principal), toFilters(c.req.valid('query')))), cap: COUNTED_NEWEST }, 200),
  )
  .openapi(
    route.post('/v1/notifications/{id}/cancel', 'cancelNotification', 'send', {
      summary: 'Cancel a notification not sent yet (PENDING or RETRYING)',
      description:
        'The row says CANCELLED at once and the run is cancelled; an attempt already talking to the provider may still be accepted, and then the notification says SENT.',
      request: { params: idParam },
      responses: {
        ...foundOr404('Cancelled', notificationSchema),
        409: errorResponse(409, 'Already sent, failed or cancelled'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await cancelNotification(c.var.deps, tenantOf(c.var.principal), id);
      c.var.logger.info({ notificationId: id, status: row.status }, 'notification cancelled');
      return c.json(toView(row), 200);
    },
  )
  .openapi(
    route.post('/v1/notifications/retries', 'startNotificationRetries', 'send', {
      summary: `Retry every failed or dead-lettered notification matching a filter (at most ${MAX_BATCH_RETRY.toLocaleString('en')} a batch)`,
      description:
        'Starts a batch: what matches now is retried a chunk at a time, each notification at most once even when batches overlap. Follow it with GET /v1/notifications/retries/{id}.',
      request: { body: jsonBody(retryBody) },
      responses: { 202: { description: 'Started', content: json(retryBatchSchema) } },
    }),
    async (c) => {
      const { max, type, since, until, ...rest } = c.req.valid('json');
      // Stored and carried by the workflow as JSON: times as ISO strings, absent filters left out.
      const filters = JSON.parse(
        JSON.stringify({ ...rest, channel: type, since: since && new Date(since).toISOString(), until: until && new Date(until).toISOString() }),
      ) as RetryFilters;
      const batch = await startRetryBatch(c.var.deps, tenantOf(c.var.principal), filters, max);
      c.var.logger.info({ batchId: batch.id, max: batch.max }, 'notification retry batch started');
      return c.json(batchView(batch), 202);
    },
  )
  .openapi(
    route.get('/v1/notifications/retries/{id}', 'getNotificationRetries', 'read', {
      summary: "A batch retry's progress",
      ...byId(z.object({ id: z.string().min(1).max(64).openapi({ example: 'rtb_01jd9z8x5m3q7c2v4b6n8k0p1r' }) }), 'The batch', retryBatchSchema),
    }),
    async (c) => c.json(batchView(await getRetryBatch(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('param').id)), 200),
  )
  .openapi(
    route.post('/v1/notifications/events/session', 'openNotificationEventSession', 'read', {
      summary: "A stream cookie for the tenant's notification changes, for browsers (EventSource cannot send an Authorization header)",
      description: `Sets an HttpOnly, SameSite=Strict cookie scoped to ${NOTIFICATION_EVENTS_PATH}, valid for an hour; it dies with the API key that asked for it.`,
      responses: { 200: { description: 'Cookie set', content: json(z.object({ expiresAt: z.string().datetime(), eventsUrl: z.string() })) } },
    }),
    (c) => {
      const cookie = issueStreamCookie(c.var.deps.config, NOTIFICATION_STREAM, c.var.principal!.credential);
      c.header('Set-Cookie', cookie.header);
      return c.json({ expiresAt: cookie.expiresAt.toISOString(), eventsUrl: NOTIFICATION_EVENTS_PATH }, 200);
    },
  )
  .openapi(
    route.get(NOTIFICATION_EVENTS_PATH, 'streamNotificationChanges', 'read', {
      summary: "The tenant's notification status changes as they happen (server-sent events)",
      description:
        'Events: `hello` (the stream starts: load the list now; what changes afterwards follows), `changes` (a JSON array of {seq, from, to, at, notification}, the notification as the list shows it), `revoked` (the key was revoked or its tenant disabled: the stream ends). A reconnecting client gets `hello` again and reloads. Changes arrive in the order of their status history; one that commits late (up to 10 s) still arrives.',
      responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: changeEvent } } } },
    }),
    (c) => {
      const { deps } = c.var;
      const principal = c.var.principal!;
      return streamSSE(
        c,
        (stream) => pumpChanges(deps, principal, stream),
        (error) => {
          c.var.logger.warn({ err: error }, 'notification stream ended with an error');
          return Promise.resolve();
        },
      );
    },
  )
  .openapi(
    overviewRoute.get('/v1/overview', 'getOverview', 'read', {
      summary: 'Whether the deadlines hold: backlog and deliveries per priority, providers, mailings in progress, mailboxes by status',
      description: 'Read from counters and indexes, never by counting the notifications table: cheap to refresh every few seconds.',
      responses: { 200: { description: 'The overview', content: json(overviewSchema) } },
    }),
    async (c) => {
      const { db } = c.var.deps;
      const tenant = tenantOf(c.var.principal);
      const [n, mailings, mailboxes] = await Promise.all([notificationOverview(db, tenant), listMailings(db, tenant, 20), mailboxStatusCounts(db, tenant)]);
      const inProgress = mailings.filter((m) => ['PENDING', 'PARSING', 'SENDING', 'PAUSED'].includes(m.status));
      return c.json(
        {
          at: n.at.toISOString(),
          countCap: COUNT_CAP,
          priorities: n.priorities.map((p) => ({ ...p, oldestWaitingAt: p.oldestWaitingAt?.toISOString() ?? null })),
          providers: n.providers.map((p) => ({ ...p, circuit: p.circuit ? { ...p.circuit, since: p.circuit.since.toISOString() } : null })),
          series: Object.fromEntries(
            Object.entries(n.series).map(([priority, points]) => [priority, points.map((pt) => ({ ...pt, minute: pt.minute.toISOString() }))]),
          ) as Record<(typeof priorities)[number], z.infer<typeof minutePoint>[]>,
          mailings: inProgress,
          mailboxes,
        },
        200,
      );
    },
  );
