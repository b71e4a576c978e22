// The account's live feed over real server-sent events: fed from what the sync applies, resumable with
// Last-Event-ID, and authenticated by a key or a stream cookie that a browser can hold without ever
// putting a key in a URL.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database } from '../../db/client.js';
import { appendEvent } from '../../lib/mailbox-sync/events.js';
import { startTestApi } from '../helpers/api.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { issueStreamCookie } from '../../api/auth/stream-cookie.js';
import { TEST_ADMIN_KEY, testConfig, unique } from '../helpers/config.js';
import { useSyncRig } from '../helpers/mailbox-sync.js';
import { openSse, type SseEvent, type SseStream } from '../helpers/sse.js';
import { deferred } from '../helpers/wait.js';

const rig = useSyncRig();

const bearer = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
interface Messages {
  mailboxId: string;
  upserted: { id: string; isRead: boolean; flagStatus: string; folder: { id: string; name: string }; subject: string }[];
  removed: string[];
}
const isMessages = (test: (d: Messages) => boolean) => (e: SseEvent) => e.event === 'messages' && test(e.data as Messages);

async function stream(accountId: string, headers: Record<string, string> = bearer, query = ''): Promise<SseStream> {
  const opened = await openSse(`${rig.api.url}/v1/accounts/${accountId}/events${query}`, headers);
  expect(opened.status).toBe(200);
  return opened.stream;
}

describe('the live feed', () => {
  it('streams the initial sync and then each change as the sync applies it', async () => {
    const address = `feed-${Date.now()}@contoso.test`;
    await rig.outlook.createMailbox(address, { messages: 120 });
    const accountId = await rig.createAccount(address);
    const events = await stream(accountId);
    const hello = await events.next((e) => e.event === 'hello');
    expect(hello.data).toMatchObject({ accountId });
    const linked = await rig.link(accountId, address);
    const mailboxId = linked.location!.searchParams.get('mailboxId')!;

    // Every message arrives once in `messages` events while the mailbox reports its progress, ending LIVE.
    await events.next((e) => e.event === 'mailbox' && (e.data as { status: string }).status === 'LIVE', 60_000);
    const seen = new Set(events.received.filter((e) => e.event === 'messages').flatMap((e) => (e.data as Messages).upserted.map((m) => m.id)));
    expect(seen.size).toBe(120);
    const ids = events.received.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids); // in order

    const [target, gone] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'markRead', id: target!.id, isRead: !target!.isRead });
    await events.next(isMessages((d) => d.upserted.some((m) => m.id === target!.id && m.isRead === !target!.isRead)));
    await rig.outlook.act(address, { type: 'move', id: target!.id, to: 'archive' });
    await events.next(isMessages((d) => d.upserted.some((m) => m.id === target!.id && m.folder.name === 'Archive')));
    await rig.outlook.act(address, { type: 'delete', id: gone!.id });
    const removal = await events.next(isMessages((d) => d.removed.includes(gone!.id)));
    expect((removal.data as Messages).mailboxId).toBe(mailboxId);
    // A move is never announced as a removal.
    expect(events.received.some((e) => e.event === 'messages' && (e.data as Messages).removed.includes(target!.id))).toBe(false);
    await rig.outlook.act(address, { type: 'createFolder', displayName: 'Travel' });
    await events.next((e) => e.event === 'folders' && (e.data as { changed: { name: string }[] }).changed.some((f) => f.name === 'Travel'));
    events.close();
  }, 90_000);

  it('resumes from Last-Event-ID with exactly what was missed, and says reset when that is no longer kept', async () => {
    const { address, accountId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    const first = await stream(accountId);
    const { lastEventId } = (await first.next((e) => e.event === 'hello')).data as { lastEventId: number };
    first.close();
    // While disconnected: three changes.
    const [a, b, c] = await rig.outlook.messages(address, 'inbox');
    for (const m of [a!, b!, c!]) await rig.outlook.act(address, { type: 'flag', id: m.id, flagStatus: 'flagged' });
    await rig.waitForMirror(address, accountId);

    const resumed = await stream(accountId, { ...bearer, 'last-event-id': String(lastEventId) });
    const flagged = new Set<string>();
    await resumed.next(
      isMessages((d) => {
        for (const u of d.upserted) if (u.flagStatus === 'flagged') flagged.add(u.id);
        return [a!, b!, c!].every((m) => flagged.has(m.id));
      }),
    );
    const replayed = resumed.received.map((e) => Number(e.id));
    expect(Math.min(...replayed)).toBeGreaterThan(lastEventId);
    resumed.close();
    // The same through the query parameter (a client reconnecting by hand).
    const byQuery = await stream(accountId, bearer, `?lastEventId=${lastEventId}`);
    await byQuery.next(isMessages((d) => d.upserted.some((u) => u.id === a!.id)));
    byQuery.close();

    // Retention dropped everything before the newest event: an old Last-Event-ID gets `reset`. The one before
    // `lastEventId`, so an event the client never saw is gone even when the three flags came as one event
    // (the one kept, right after `lastEventId`, would then be all it missed).
    await rig.api.deps.db.execute(
      sql`delete from mailbox_events where account_id = ${accountId} and id < (select max(id) from mailbox_events where account_id = ${accountId})`,
    );
    const stale = await stream(accountId, { ...bearer, 'last-event-id': String(lastEventId - 1) });
    expect((await stale.next()).event).toBe('reset');
    stale.close();
  }, 60_000);
});

describe('authentication of the feed', () => {
  it('takes a stream cookie for that account only, never on another route, and not after its key is revoked', async () => {
    const { accountId } = await rig.linkNew({ messages: 1 });
    const session = await rig.api.request(`/v1/accounts/${accountId}/events/session`, { method: 'POST' });
    expect(session.status).toBe(200);
    const setCookie = session.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`Path=/v1/accounts/${accountId}/events`));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TEST_ADMIN_KEY);
    const cookie = setCookie.split(';')[0]!;
    const withCookie = await openSse(`${rig.api.url}/v1/accounts/${accountId}/events`, { cookie });
    expect(withCookie.status).toBe(200);
    expect((await withCookie.stream.next()).event).toBe('hello');
    withCookie.stream.close();

    const other = await rig.createAccount(`other-${Date.now()}@contoso.test`);
    const refusals: [string, Record<string, string>][] = [
      [`/v1/accounts/${other}/events`, { cookie }], // another account's feed
      [`/v1/accounts/${accountId}`, { cookie }], // another route
      [`/v1/accounts/${accountId}/events`, { cookie: cookie.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')) }], // tampered
      [
        `/v1/accounts/${accountId}/events`,
        { cookie: issueStreamCookie(rig.api.deps.config, accountId, 'admin', Date.now() - 7_200_000).header.split(';')[0]! },
      ], // expired
      [`/v1/accounts/${accountId}/events`, {}], // nothing
    ];
    for (const [path, headers] of refusals) expect((await fetch(`${rig.api.url}${path}`, { headers })).status, `${path} ${JSON.stringify(headers)}`).toBe(401);

    // A tenant's cookie dies with its key.
    const created = (await (await rig.api.request('/v1/api-keys', json({ name: 'page' }))).json()) as { id: string; key: string };
    const theirs = await rig.createAccount(`theirs-${Date.now()}@contoso.test`, created.key);
    const theirCookie = (await rig.api.request(`/v1/accounts/${theirs}/events/session`, { method: 'POST', auth: created.key })).headers
      .get('set-cookie')!
      .split(';')[0]!;
    expect((await openSse(`${rig.api.url}/v1/accounts/${theirs}/events`, { cookie: theirCookie })).status).toBe(200);
    expect((await rig.api.request(`/v1/accounts/${accountId}/events/session`, { method: 'POST', auth: created.key })).status).toBe(404);
    await rig.api.request(`/v1/api-keys/${created.id}`, { method: 'DELETE' });
    expect((await fetch(`${rig.api.url}/v1/accounts/${theirs}/events`, { headers: { cookie: theirCookie } })).status).toBe(401);
    expect((await rig.api.request(`/v1/accounts/${accountId}/events/session`, { method: 'POST', auth: null })).status).toBe(401);
    expect((await rig.api.request(`/v1/accounts/${accountId}/events?lastEventId=x`)).status).toBe(400);
  }, 60_000);
});

describe('gap-free delivery', () => {
  const event = (accountId: string, subject: string) => ({
    type: 'messages' as const,
    data: {
      mailboxId: 'mbx_gapfree',
      upserted: [
        {
          id: subject,
          mailboxId: 'mbx_gapfree',
          folder: { id: 'f', name: 'Inbox' },
          subject,
          from: null,
          receivedAt: null,
          isRead: false,
          flagStatus: 'notFlagged' as const,
          lastModifiedAt: new Date().toISOString(),
        },
      ],
      removed: [],
    },
  });
  const subjects = (e: SseEvent) => (e.data as Messages).upserted.map((u) => u.subject);

  it('delivers an append whose transaction commits after a later one started, in order', async () => {
    const accountId = await rig.createAccount(`${unique('gap')}@contoso.test`);
    const events = await stream(accountId);
    await events.next((e) => e.event === 'hello');
    // Writer A appends inside a transaction held open; writer B appends on another connection meanwhile.
    const other = postgres(testConfig().DATABASE_URL, { max: 2, onnotice: () => {} });
    const writerA = drizzle(other);
    const releaseA = deferred();
    const appendedA = deferred();
    const a = writerA.transaction(async (tx) => {
      await appendEvent(tx as unknown as Database, accountId, event(accountId, 'first'));
      appendedA.resolve();
      await releaseA.promise;
    });
    await appendedA.promise;
    let bDone = false;
    const b = appendEvent(rig.api.deps.db, accountId, event(accountId, 'second')).then(() => {
      bDone = true;
    });
    // B either committed already, or waits behind A: either way nothing is gained by waiting longer.
    await waitFor(async () => bDone || (await waitingOnLock(other)));
    releaseA.resolve();
    await Promise.all([a, b]);
    await other.end();
    const first = await events.next(
      isMessages((d) => d.upserted.some((u) => u.subject === 'first')),
      10_000,
    );
    const second = await events.next(
      isMessages((d) => d.upserted.some((u) => u.subject === 'second')),
      10_000,
    );
    expect(Number(first.id)).toBeLessThan(Number(second.id));
    expect(events.received.filter((e) => e.event === 'messages').flatMap(subjects)).toEqual(['first', 'second']);
    events.close();
  }, 60_000);

  it('says reset to a client resuming from before what retention dropped, even when it dropped everything', async () => {
    const accountId = await rig.createAccount(`${unique('pruned')}@contoso.test`);
    for (const subject of ['one', 'two', 'three']) await appendEvent(rig.api.deps.db, accountId, event(accountId, subject));
    const first = await stream(accountId, bearer, '?lastEventId=0');
    await first.next(isMessages((d) => d.upserted.some((u) => u.subject === 'three')));
    const seen = Number(first.received.find((e) => subjects(e).includes('one'))!.id);
    first.close();
    await rig.api.deps.db.execute(sql`delete from mailbox_events where account_id = ${accountId}`);
    const resumed = await stream(accountId, { ...bearer, 'last-event-id': String(seen) });
    const reset = await resumed.next(undefined, 10_000);
    expect(reset.event).toBe('reset');
    // Later events follow the reset, numbered after everything the account ever had.
    await appendEvent(rig.api.deps.db, accountId, event(accountId, 'four'));
    const four = await resumed.next(
      isMessages((d) => d.upserted.some((u) => u.subject === 'four')),
      10_000,
    );
    expect(Number(four.id)).toBeGreaterThan(seen + 2);
    resumed.close();
    // An id this account never reached is reset too, and ids past 15 digits are refused like the header's.
    const future = await stream(accountId, bearer, '?lastEventId=999999');
    expect((await future.next(undefined, 10_000)).event).toBe('reset');
    future.close();
    expect((await rig.api.request(`/v1/accounts/${accountId}/events?lastEventId=1234567890123456`)).status).toBe(400);
    expect((await rig.api.request(`/v1/accounts/${accountId}/events`, { headers: { 'last-event-id': '1234567890123456' } })).status).toBe(400);
  }, 60_000);

  it("refuses the admin key's stream cookie once ADMIN_API_KEY is rotated", async () => {
    const accountId = await rig.createAccount(`${unique('rotated')}@contoso.test`);
    const cookie = (await rig.api.request(`/v1/accounts/${accountId}/events/session`, { method: 'POST' })).headers.get('set-cookie')!.split(';')[0]!;
    expect((await openSse(`${rig.api.url}/v1/accounts/${accountId}/events`, { cookie })).status).toBe(200);
    const rotated = await startTestApi({ ADMIN_API_KEY: `rotated-admin-key-${'x'.repeat(24)}` });
    try {
      expect((await fetch(`${rotated.url}/v1/accounts/${accountId}/events`, { headers: { cookie } })).status).toBe(401);
    } finally {
      await rotated.close();
    }
  }, 60_000);
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

/** Whether an append is waiting for a lock (behind the held transaction). */
async function waitingOnLock(sqlClient: postgres.Sql): Promise<boolean> {
  const rows =
    await sqlClient`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%mailbox_events%' and query not like '%pg_stat_activity%' and datname = current_database()`;
  return rows.length > 0;
}

describe('several streams of one account', () => {
  it('wakes every open stream of the account at once, after another one closed (a reconnect, a second tab)', async () => {
    const { address, accountId } = await rig.linkNew({ messages: 5 });
    await rig.waitForMirror(address, accountId);
    const first = await stream(accountId);
    await first.next((e) => e.event === 'hello');
    first.close();
    await sleep(200); // the first stream's pump notices the close
    const second = await stream(accountId);
    const third = await stream(accountId);
    await Promise.all([second.next((e) => e.event === 'hello'), third.next((e) => e.event === 'hello')]);
    const [m] = await rig.outlook.messages(address, 'inbox');
    const started = Date.now();
    await rig.outlook.act(address, { type: 'flag', id: m!.id, flagStatus: 'complete' });
    const arrived = isMessages((d) => d.upserted.some((u) => u.id === m!.id && u.flagStatus === 'complete'));
    await Promise.all([second.next(arrived, 10_000), third.next(arrived, 10_000)]);
    // Woken by the notification, not by the 15 s keepalive.
    expect(Date.now() - started).toBeLessThan(8_000);
    second.close();
    third.close();
  }, 30_000);
});
