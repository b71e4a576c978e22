// Mailbox-sync test rig: the Outlook simulator, the real API and the real sync worker role on the real
// Temporal server, with a client that links mailboxes through the whole OAuth dance and compares the
// index with the simulator's mailbox.
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerInterceptors } from '@temporalio/worker';
import { and, asc, eq, gt } from 'drizzle-orm';
import { mailboxEvents, mailPendingRemovals } from '../../db/schema/index.js';
import type { z } from '@hono/zod-openapi';
import type { mailboxDetailSchema } from '../../api/mailboxes/schemas.js';
import type { MessageChange, MessageSummary } from '../../lib/mailbox-sync/events.js';
import type { OutlookSimulatorOptions } from '../../simulators/outlook/server.js';
import { startTestApi, type TestApi } from './api.js';
import { testConfig, unique } from './config.js';
import { startOutlook, type OutlookSim } from './outlook.js';
import { useRig, withRig } from './rig.js';
import { waitFor } from './wait.js';
import type { Role } from '../../workers/roles.js';
import { startRoleWorkers, type RunningWorkers } from './workers.js';

export const CALLBACK_URL = 'http://localhost:3000/web/accounts.html';

/** A message as the API lists it: the live feed's summary, with its change key. */
export interface MessageView extends MessageSummary {
  changeKey: string | null;
}
/** A mailbox as GET /v1/mailboxes/{id} answers (its documented schema). */
export type MailboxDetail = z.infer<typeof mailboxDetailSchema>;
/** A live-feed event as recorded in mailbox_events; `seq` is its number in the account's feed. */
export interface RecordedEvent {
  seq: number;
  type: string;
  data: { changes?: MessageChange[] } & Record<string, unknown>;
}

export interface SyncRigOptions {
  outlook?: OutlookSimulatorOptions;
  env?: Record<string, string>;
  workers?: boolean;
  /** The worker roles beside mailbox sync (webhooks, for one). */
  moreRoles?: Role[];
  /**
   * Settings that name the API's own URL (PUBLIC_BASE_URL, OAUTH_CALLBACK_ALLOWLIST), which a port-0 API only
   * knows after it listens: with this, the API is reached through a front port opened first (`rig.publicUrl`),
   * as a production API sits behind the proxy that PUBLIC_BASE_URL names, and these settings join `env`.
   */
  publicEnv?: (publicUrl: string) => Record<string, string>;
}

export interface SyncRig {
  api: TestApi;
  /** Where a browser reaches the API: the front port with `publicEnv`, otherwise `api.url`. */
  publicUrl: string;
  /** Cuts every connection through the front port (a network drop, a proxy restart); only with `publicEnv`. */
  dropConnections(): void;
  outlook: OutlookSim;
  env: Record<string, string>;
  workers: RunningWorkers | undefined;
  startWorkers(extraEnv?: Record<string, string>, interceptors?: WorkerInterceptors): Promise<void>;
  stopWorkers(): Promise<void>;
  createAccount(email: string, key?: string): Promise<string>;
  /**
   * The OAuth dance through the API: the link request (with the admin key, or `auth`), Microsoft's consent
   * (given at once, whatever the rig's consent setting), the callback. Answers the callback's redirect.
   */
  link(
    accountId: string,
    loginHint: string,
    options?: { callbackUrl?: string; auth?: string },
  ): Promise<{ status: number; location: URL | null; body: string }>;
  /** A simulated mailbox with `messages` messages, a local account for it, linked. */
  linkNew(options?: { messages?: number }): Promise<{ address: string; accountId: string; mailboxId: string }>;
  mailbox(mailboxId: string): Promise<MailboxDetail>;
  /** The message's removal waiting in PostgreSQL for a round to confirm it (none once resolved). */
  pendingRemovals(mailboxId: string, messageId: string): Promise<(typeof mailPendingRemovals.$inferSelect)[]>;
  /** The mailbox's live-feed events recorded after `afterSeq` (all by default), in order. */
  feed(mailboxId: string, afterSeq?: number): Promise<RecordedEvent[]>;
  /** Every indexed message of the account, through the API (with the admin key, or `auth`). */
  messages(accountId: string, query?: Record<string, string>, auth?: string): Promise<MessageView[]>;
  waitForMailbox(mailboxId: string, predicate: (m: MailboxDetail) => boolean, timeoutMs?: number): Promise<MailboxDetail>;
  /** Waits until the index holds exactly the simulator's mailbox: same ids, folders, read and flag states. */
  waitForMirror(address: string, accountId: string, timeoutMs?: number, auth?: string): Promise<MessageView[]>;
  close(): Promise<void>;
}

type Summary = { id: string; folderId: string; isRead: boolean; flagStatus: string };
const key = (m: Summary) => `${m.id}|${m.folderId}|${m.isRead}|${m.flagStatus}`;

export { until } from './wait.js';

/** Every change the events name, in order. */
export const changesIn = (events: RecordedEvent[]): MessageChange[] => events.flatMap((e) => e.data.changes ?? []);

/** A rig of its own for one test (its own limits and settings), closed whatever the test does. */
export const withSyncRig = (options: SyncRigOptions, test: (rig: SyncRig) => Promise<void>): Promise<void> => withRig(() => startSyncRig(options), test);

/** The file's one rig: started before its first test, closed after its last. */
export const useSyncRig = (options: SyncRigOptions = {}): SyncRig => useRig(() => startSyncRig(options), 60_000);

/** A TCP port that forwards every connection to the API once `target` names the API's port. */
async function startFront() {
  let port = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drop = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    target(apiUrl: string) {
      port = Number(new URL(apiUrl).port);
    },
    drop,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        drop();
      }),
  };
}

export async function startSyncRig(options: SyncRigOptions = {}): Promise<SyncRig> {
  const outlook = await startOutlook({ consent: 'auto', ...options.outlook });
  const front = options.publicEnv ? await startFront() : undefined;
  const env: Record<string, string> = {
    TASK_QUEUE_PREFIX: `${unique('sync')}-`,
    ...outlook.env,
    OAUTH_CALLBACK_ALLOWLIST: 'http://localhost:3000/web/',
    SYNC_POLL_INTERVAL_SECONDS: '1',
    SYNC_PAGE_SIZE: '50',
    // A rig that cannot reach the test Dovecot (no IMAP_ALLOW_HOSTS) runs no IDLE watcher: watches are rows of
    // the shared test database, and one leased here would never come up, holding another file's IMAP mailbox.
    ...(options.env?.IMAP_ALLOW_HOSTS ? {} : { IMAP_WATCHES_PER_WORKER: '0' }),
    ...options.env,
    ...(front ? options.publicEnv!(front.url) : {}),
  };
  const api = await startTestApi(env);
  front?.target(api.url);
  const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const rig: SyncRig = {
    api,
    outlook,
    env,
    workers: undefined,
    publicUrl: front?.url ?? api.url,
    dropConnections() {
      if (!front) throw new Error('dropConnections needs the front port: start the rig with publicEnv');
      front.drop();
    },
    async startWorkers(extraEnv = {}, interceptors) {
      rig.workers = await startRoleWorkers(testConfig({ ...env, ...extraEnv }), ['mailbox-sync', ...(options.moreRoles ?? [])], interceptors);
    },
    async stopWorkers() {
      await rig.workers?.stop();
      rig.workers = undefined;
    },
    async createAccount(email, auth) {
      const response = await api.request('/v1/accounts', { ...json({ email }), ...(auth ? { auth } : {}) });
      if (response.status !== 201) throw new Error(`create account: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    },
    async link(accountId, loginHint, { callbackUrl = CALLBACK_URL, auth }: { callbackUrl?: string; auth?: string } = {}) {
      const started = await api.request(`/v1/accounts/${accountId}/mailboxes/outlook`, { ...json({ callbackUrl, loginHint }), ...(auth ? { auth } : {}) });
      if (started.status !== 201) throw new Error(`link: ${started.status} ${await started.text()}`);
      const { authorizationUrl } = (await started.json()) as { authorizationUrl: string };
      let consent = await fetch(authorizationUrl, { redirect: 'manual' });
      if (consent.status === 200) {
        // The consent page (a simulator set to prompt): accept it as the mailbox asked for, as a user would.
        const form = new URLSearchParams(new URL(authorizationUrl).searchParams);
        form.set('account', loginHint);
        form.set('action', 'accept');
        consent = await fetch(new URL(authorizationUrl).origin + new URL(authorizationUrl).pathname, { method: 'POST', body: form, redirect: 'manual' });
      }
      const back = new URL(consent.headers.get('location') ?? 'http://invalid/');
      const callback = await api.request(`/v1/oauth/outlook/callback${back.search}`, { auth: null, redirect: 'manual' });
      const location = callback.headers.get('location');
      return { status: callback.status, location: location ? new URL(location) : null, body: await callback.text() };
    },
    async linkNew({ messages = 0 } = {}) {
      const address = `${unique('user')}@contoso.test`.toLowerCase();
      await outlook.createMailbox(address, { messages });
      const accountId = await rig.createAccount(address);
      const linked = await rig.link(accountId, address);
      const mailboxId = linked.location?.searchParams.get('mailboxId');
      if (linked.status !== 302 || !mailboxId) throw new Error(`link did not complete: ${linked.status} ${linked.body}`);
      return { address, accountId, mailboxId };
    },
    async mailbox(mailboxId) {
      const response = await api.request(`/v1/mailboxes/${mailboxId}`);
      if (response.status !== 200) throw new Error(`mailbox ${mailboxId}: ${response.status} ${await response.text()}`);
      return (await response.json()) as MailboxDetail;
    },
    pendingRemovals(mailboxId, messageId) {
      return api.deps.db
        .select()
        .from(mailPendingRemovals)
        .where(and(eq(mailPendingRemovals.mailboxId, mailboxId), eq(mailPendingRemovals.messageId, messageId)));
    },
    feed(mailboxId, afterSeq = 0) {
      return api.deps.db
        .select({ seq: mailboxEvents.seq, type: mailboxEvents.type, data: mailboxEvents.data })
        .from(mailboxEvents)
        .where(and(eq(mailboxEvents.mailboxId, mailboxId), gt(mailboxEvents.seq, afterSeq)))
        .orderBy(asc(mailboxEvents.seq));
    },
    async messages(accountId, query = {}, auth) {
      const all: MessageView[] = [];
      let cursor: string | null = null;
      do {
        const params = new URLSearchParams({ limit: '200', ...query, ...(cursor ? { cursor } : {}) });
        const response = await api.request(`/v1/accounts/${accountId}/messages?${params}`, auth ? { auth } : {});
        if (response.status !== 200) throw new Error(`messages: ${response.status} ${await response.text()}`);
        const page = (await response.json()) as { data: MessageView[]; nextCursor: string | null };
        all.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    },
    waitForMailbox(mailboxId, predicate, timeoutMs = 60_000) {
      return waitFor(`mailbox ${mailboxId}`, () => rig.mailbox(mailboxId), predicate, timeoutMs, 250);
    },
    async waitForMirror(address, accountId, timeoutMs = 60_000, auth) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [expected, indexed] = await Promise.all([outlook.messages(address), rig.messages(accountId, {}, auth)]);
        const want = expected.map(key).sort();
        const have = indexed.map((m) => key({ id: m.id, folderId: m.folder.id, isRead: m.isRead, flagStatus: m.flagStatus })).sort();
        if (want.length === have.length && want.every((k, i) => k === have[i])) return indexed;
        if (Date.now() > deadline) {
          const missing = want.filter((k) => !have.includes(k)).slice(0, 5);
          const extra = have.filter((k) => !want.includes(k)).slice(0, 5);
          throw new Error(
            `index does not mirror ${address}: ${want.length} expected, ${have.length} indexed; missing ${JSON.stringify(missing)}; unexpected ${JSON.stringify(extra)}`,
          );
        }
        await sleep(300);
      }
    },
    async close() {
      await rig.workers?.stop();
      await front?.close();
      await api.close();
      await outlook.close();
    },
  };
  if (options.workers !== false) await rig.startWorkers();
  return rig;
}
