// The account's live feed as server-sent events: what the sync applied (messages, folders, mailbox
// status), in order, each with its event id. A reconnecting client sends Last-Event-ID (or
// ?lastEventId=) and misses nothing still kept; a new one gets `hello` with the current id and then what
// follows. A browser authenticates with a stream cookie from POST …/events/session, never a key in a URL.
import { z } from '@hono/zod-openapi';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { findAccount } from '../../../lib/accounts/accounts.js';
import { eventsAfter, feedPosition } from '../../../lib/mailbox-sync/events.js';
import { tenantOf } from '../../auth/tenant.js';
import { issueStreamCookie } from '../../auth/stream-cookie.js';
import type { AppDeps, Principal } from '../../context.js';
import { AppError, errorResponses } from '../../errors.js';
import { accountIdParam } from '../../mailboxes/schemas.js';
import { KEEPALIVE_MS, wakeable } from '../../event-stream.js';
import { byId, createRouter, routesTagged } from '../../openapi.js';

const route = routesTagged('Accounts');

/** An event id as the header and the query carry it: at most 15 digits, so it is an exact number. */
const eventIdText = z.string().regex(/^\d{1,15}$/, 'an event id: up to 15 digits');
const BATCH = 500;

async function ownedAccountId(deps: AppDeps, principal: Principal | undefined, id: string): Promise<string> {
  const account = await findAccount(deps.db, tenantOf(principal), id);
  if (!account) throw new AppError('not_found', `no account ${id}`);
  return account.id;
}

async function pump(deps: AppDeps, principal: Principal, accountId: string, from: number | undefined, stream: SSEStreamingApi): Promise<void> {
  const signal = wakeable();
  const unsubscribe = await deps.events.subscribe(accountId, signal.wake);
  // A client that goes is let go at once (not at the next keepalive); so is one whose key is revoked.
  let revoked = false;
  const unwatch = deps.access.watch(principal, () => {
    revoked = true;
    signal.wake();
  });
  stream.onAbort(() => {
    unsubscribe();
    signal.wake();
  });
  try {
    const position = await feedPosition(deps.db, accountId);
    let last: number;
    if (from === undefined) {
      last = position.last;
      await stream.writeSSE({ event: 'hello', id: String(last), data: JSON.stringify({ accountId, lastEventId: last }), retry: 2_000 });
    } else if (from > position.last || (position.last > from && (position.oldestKept ?? Infinity) > from + 1)) {
      // The client is past what this account ever had (an id from elsewhere), or events after `from` were
      // dropped by retention (numbers are consecutive per account): it must reload instead of replaying.
      last = position.oldestKept === undefined || from > position.last ? position.last : position.oldestKept - 1;
      await stream.writeSSE({ event: 'reset', id: String(last), data: JSON.stringify({ accountId, reason: 'events since your last one are no longer kept' }) });
    } else {
      last = from;
    }
    while (!stream.aborted && !revoked) {
      const batch = await eventsAfter(deps.db, accountId, last, BATCH);
      for (const event of batch) {
        await stream.writeSSE({ event: event.type, id: String(event.id), data: JSON.stringify(event.data) });
        last = event.id;
      }
      if (batch.length === BATCH) continue;
      await signal.wait(KEEPALIVE_MS);
      // A comment line keeps proxies from closing an idle stream.
      if (!stream.aborted && !revoked) await stream.write(': keepalive\n\n');
    }
    if (revoked)
      await stream.writeSSE({ event: 'revoked', data: JSON.stringify({ accountId, reason: 'the API key of this stream was revoked or its tenant disabled' }) });
  } finally {
    unwatch();
    unsubscribe();
  }
}

/** One event of the stream (OpenAPI 3.1: a text/event-stream schema describes each event); `data` is JSON. */
const serverSentEvent = z
  .object({
    event: z.enum(['hello', 'reset', 'messages', 'folders', 'mailbox', 'reload', 'revoked']).optional(),
    data: z.string().optional(),
    id: z.string().regex(/^\d+$/).optional(),
    retry: z.number().int().optional(),
  })
  .openapi('ServerSentEvent');

export const accountEventRoutes = createRouter()
  .openapi(
    route.post('/v1/accounts/{id}/events/session', 'openAccountEventSession', 'read', {
      summary: "A stream cookie for the account's live feed, for browsers (EventSource cannot send an Authorization header)",
      description:
        'Sets an HttpOnly, SameSite=Strict cookie scoped to /v1/accounts/{id}/events, valid for an hour; it dies with the API key that asked for it.',
      ...byId(accountIdParam, 'Cookie set', z.object({ expiresAt: z.string().datetime(), eventsUrl: z.string() })),
    }),
    async (c) => {
      const accountId = await ownedAccountId(c.var.deps, c.var.principal, c.req.valid('param').id);
      const cookie = issueStreamCookie(c.var.deps.config, accountId, c.var.principal!.credential);
      c.header('Set-Cookie', cookie.header);
      return c.json({ expiresAt: cookie.expiresAt.toISOString(), eventsUrl: `/v1/accounts/${accountId}/events` }, 200);
    },
  )
  .openapi(
    route.get('/v1/accounts/{id}/events', 'streamAccountEvents', 'read', {
      summary: "The account's live feed (server-sent events): messages, folders and mailbox status as the sync applies them",
      description:
        'Events: `hello` (a new stream: the current event id), `messages` ({mailboxId, upserted: [message summaries], removed: [ids], changes?: [{kind: created | updated | moved, message, changed: [fields], from: {id, name} of a move}]}), `folders` ({mailboxId, changed: [{id, name}], removed: [ids]}), `mailbox` (status and progress), `reload` (documents changed that no event lists — a big page was indexed, or leftovers were removed: reload the list; a big page still has its `changes`, as on `messages`), `reset` (events since Last-Event-ID are gone: reload), `revoked` (the key this stream was opened with was revoked or its tenant disabled: the stream ends). Event ids are numbered per account and delivered in order with no gaps skipped. Authenticate with a Bearer key or the stream cookie from POST …/events/session.',
      request: {
        params: accountIdParam,
        query: z.object({ lastEventId: eventIdText.optional().openapi({ description: 'As the Last-Event-ID header, for clients that reconnect by hand' }) }),
        headers: z.object({ 'last-event-id': eventIdText.optional() }),
      },
      responses: {
        200: { description: 'An event stream', content: { 'text/event-stream': { schema: serverSentEvent } } },
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const { deps } = c.var;
      const accountId = await ownedAccountId(deps, c.var.principal, c.req.valid('param').id);
      const header = c.req.valid('header')['last-event-id'];
      const query = c.req.valid('query').lastEventId;
      const from = header !== undefined ? Number(header) : query !== undefined ? Number(query) : undefined;
      c.var.logger.info({ accountId, from: from ?? null }, 'event stream opened');
      const principal = c.var.principal!;
      return streamSSE(
        c,
        (stream) => pump(deps, principal, accountId, from, stream),
        (error) => {
          c.var.logger.warn({ err: error, accountId }, 'event stream ended with an error');
          return Promise.resolve();
        },
      );
    },
  );
