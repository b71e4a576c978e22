// The mailbox-sync benchmark's IMAP modes (BENCH_PROVIDER=imap npx tsx bench/sync/run.ts …), against the running
// stack's own Dovecot (scripts/services/dovecot.ts; STACK_PORT_OFFSET as the stack was started, or BENCH_IMAP_PORT):
//   initial — a user of BENCH_MESSAGES (50,000) messages in five folders (80% in INBOX), written straight into its
//             Maildir and indexed by Dovecot before anything is timed; linked through POST …/mailboxes/imap and
//             timed until every message is in the index and the mailbox is LIVE (after an untimed warm-up link
//             of the same user to another account). The limit, right after: a bare imapflow loop reading the
//             same folders with the same FETCH items and 2 KB previews, page after page on one connection per
//             folder, the folders at once. Then where the time goes: the same loop shaped as the provider's
//             activities read (a connection, login, EXAMINE and UID SEARCH per page), and the provider itself
//             from this process (no Temporal, no index), with each step's time per page.
//   propagation — BENCH_CHANGES (40) flag changes in INBOX (IDLE) and BENCH_FOLDER_CHANGES (20) in Archive (the
//             watcher's LIST-STATUS every IMAP_FOLDER_CHECK_SECONDS), one at a time over this process's own IMAP
//             connection: the time from the server's answer to the change being in GET …/messages and on the
//             account's live feed (SSE).
//   idle    — BENCH_MAILBOXES (1,000) users of 5 messages linked to one account, each LIVE with its IDLE watch:
//             the sync worker's RSS, the CPU per minute of the worker, Dovecot (every process of its main
//             instance) and the Temporal server over BENCH_IDLE_SECONDS (120), then the INBOX propagation in
//             random mailboxes among them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type { Database } from '../../db/client.js';
import { PREVIEW_BYTES, previewOf, textPartsOf } from '../../lib/mailbox-sync/imap/preview.js';
import { ImapMailProvider, MESSAGE_FETCH_ITEMS } from '../../lib/mailbox-sync/imap/provider.js';
import { packUids } from '../../lib/mailbox-sync/imap/uid-sets.js';
import { inRequestBatch } from '../../lib/mailbox-sync/request-batch.js';
import { addDovecotUser, doveadm, dovecotLayout } from '../../scripts/services/dovecot.js';
import { makeMessage } from '../../scripts/services/imap-mail.js';
import { openSse } from '../../test/helpers/sse.js';
import { pool, stackTarget, summarise } from '../lib.js';
import { stackCpuSecondsWindow, stackProcesses } from '../processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const { apiUrl, apiKey } = stackTarget();
const auth = { authorization: `Bearer ${apiKey}` };
const offset = Number(process.env.STACK_PORT_OFFSET ?? 0);
const imapHost = '127.0.0.1';
const imapPort = Number(process.env.BENCH_IMAP_PORT ?? 1143 + offset);
const layout = dovecotLayout(join(root, '.data', 'stack'));
const caPem = () => readFileSync(layout.caFile, 'utf8');
const pageSize = Number(process.env.SYNC_PAGE_SIZE ?? 500);
const pagesPerActivity = Number(process.env.SYNC_PAGES_PER_ACTIVITY ?? 8);
/** The workflow's requests at once for one mailbox (IMAP_CONNECTIONS_PER_MAILBOX less two). */
const lanes = Math.max(1, Number(process.env.IMAP_CONNECTIONS_PER_MAILBOX ?? 8) - 2);
const folderCheckSeconds = Number(process.env.IMAP_FOLDER_CHECK_SECONDS ?? 15);

/** The stack's processes a sync runs through (this checkout's only: other stacks may share the machine). */
const groups: Record<string, RegExp> = {
  elasticsearch: /org\.elasticsearch\.bootstrap|elasticsearch-\d/,
  'sync worker': /workers\/mailbox-sync\.[jt]s/,
  dovecot: /dovecot -F -c \S*\/dovecot\.conf/,
  'temporal dev server': /start-dev/,
  postgres: /\/bin\/postgres |^postgres:/,
  api: /api\/server\.[jt]s/,
  'this bench': /bench\/sync\/run\.ts/,
};
const cpuWindow = () => stackCpuSecondsWindow(groups, root);
const describeCpu = (cpu: Record<string, number>, per?: { seconds: number }) =>
  Object.entries(cpu)
    .filter(([, s]) => s > 0.05)
    .map(([name, s]) => `${name} ${per ? (s / per.seconds).toFixed(2) : s.toFixed(1)}${per ? '' : ' s'}`)
    .join(', ') + (per ? ' cores' : '');

/** The machine's load (1-minute average): it is shared, and figures drift with it. */
const load = () => `machine load ${loadavg()[0]!.toFixed(1)}`;
const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
const met = (ok: boolean) => (ok ? '**met**' : '**not met**');

async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...auth, ...init.headers } });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface BenchUser {
  user: string;
  password: string;
}

function newUser(prefix: string): BenchUser {
  const user = `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}@bench.mailflow.local`;
  const password = randomBytes(12).toString('base64url');
  addDovecotUser(layout.passwdDir, user, password);
  return { user, password };
}

async function connect(u: BenchUser): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: imapHost,
    port: imapPort,
    doSTARTTLS: true,
    tls: { ca: caPem() },
    auth: { user: u.user, pass: u.password },
    qresync: true,
    disableAutoIdle: true,
    logger: false,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Writes `folders` (name → count) straight into the user's Maildir: a file per message named as Maildir names
 * them (flags in the name), its arrival as the file's time, owned by Dovecot's mail user; then Dovecot indexes
 * them (doveadm), so the timed part finds a mailbox as a server that has had the mail for a while has it.
 * APPEND fsyncs every message (about 11 ms each here); this takes a few seconds for 50,000.
 */
async function seedMaildir(u: BenchUser, folders: Record<string, number>): Promise<void> {
  const home = join(layout.mailDir, u.user);
  const owner = statSync(layout.mailDir);
  const others = Object.keys(folders).filter((f) => f !== 'INBOX');
  if (others.length > 0) {
    // Dovecot makes the home and the folders (and subscribes them).
    const client = await connect(u);
    try {
      for (const folder of others) await client.mailboxCreate(folder);
    } finally {
      await client.logout().catch(() => client.close());
    }
  }
  const now = Math.floor(Date.now() / 1000) * 1000;
  for (const [folder, count] of Object.entries(folders)) {
    const dir = folder === 'INBOX' ? home : join(home, `.${folder.split('/').join('.')}`);
    for (const part of ['', 'cur', 'new', 'tmp']) {
      if (!existsSync(join(dir, part))) {
        mkdirSync(join(dir, part), { recursive: true });
        chownSync(join(dir, part), owner.uid, owner.gid);
      }
    }
    if (dir !== home && !existsSync(join(dir, 'maildirfolder'))) throw new Error(`Dovecot did not make ${folder} where expected (${dir})`);
    for (let i = 0; i < count; i++) {
      const date = new Date(now - (count - 1 - i) * 900_000 - (i % 7) * 61_000);
      const m = makeMessage({ owner: u.user, folder, index: i, seed: u.user, date });
      const flags = [m.flags.includes('\\Flagged') ? 'F' : '', m.flags.includes('\\Answered') ? 'R' : '', m.flags.includes('\\Seen') ? 'S' : ''].join('');
      const file = join(dir, 'cur', `${Math.floor(date.getTime() / 1000)}.M${i}P${process.pid}.bench:2,${flags}`);
      writeFileSync(file, m.raw);
      chownSync(file, owner.uid, owner.gid);
      utimesSync(file, date, date);
    }
  }
  const status = doveadm(layout.configFile, ['mailbox', 'status', '-u', u.user, 'messages', '*']);
  const counted = [...status.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const expected = Object.values(folders).reduce((a, b) => a + b, 0);
  if (counted < expected) throw new Error(`Dovecot counts ${counted} messages for ${u.user}, expected ${expected}: ${status}`);
}

interface MailboxSummary {
  id: string;
  status: string;
  sync: { messagesIndexed: number };
}
interface MailboxDetail {
  folders: { id: string; name: string }[];
  sync: { progress: { phase: string } | null };
}

async function newAccount(prefix: string): Promise<string> {
  const account = await call<{ id: string }>(`${apiUrl}/v1/accounts`, {
    method: 'POST',
    body: JSON.stringify({ email: `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}@bench.mailflow.local` }),
  });
  return account.id;
}

/** POST /v1/accounts/{id}/mailboxes/imap, as a person links the mailbox (STARTTLS, the stack's CA trusted). */
async function linkImap(accountId: string, u: BenchUser): Promise<string> {
  const linked = await call<{ id: string }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes/imap`, {
    method: 'POST',
    body: JSON.stringify({ host: imapHost, port: imapPort, tls: 'starttls', username: u.user, password: u.password }),
  });
  return linked.id;
}

/** Links the user to a new account and waits until its mailbox is LIVE with `messages` indexed. */
async function syncMailbox(u: BenchUser, messages: number): Promise<{ accountId: string; mailboxId: string; linkSeconds: number; syncSeconds: number }> {
  const t0 = performance.now();
  const accountId = await newAccount('bench-imap');
  const mailboxId = await linkImap(accountId, u);
  const linked = performance.now();
  // Watched through a PostgreSQL-only route, so the watching costs the index nothing.
  for (;;) {
    const { data } = await call<{ data: MailboxSummary[] }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes`);
    const m = data.find((x) => x.id === mailboxId)!;
    if (m.status === 'LIVE' && m.sync.messagesIndexed >= messages) break;
    if (performance.now() - linked > 1_800_000) throw new Error(`no LIVE after 30 minutes: ${JSON.stringify(m)}`);
    // Once a second (the bench's polling is not the stack's load), ten times a second near the end.
    await sleep(m.sync.messagesIndexed < messages * 0.97 ? 1_000 : 100);
  }
  return { accountId, mailboxId, linkSeconds: (linked - t0) / 1000, syncSeconds: (performance.now() - linked) / 1000 };
}

type Step = 'connect' | 'select' | 'search' | 'fetch' | 'previews';
interface BareRead {
  messages: number;
  seconds: number;
  pages: number;
  /** Milliseconds spent in each step, summed over the lanes. */
  steps: Record<Step, number>;
}

/**
 * Reads every folder with the provider's FETCH items (UID, FLAGS, ENVELOPE, INTERNALDATE, RFC822.SIZE,
 * BODYSTRUCTURE, THREADID) a page of UIDs at a time in ascending order, then each page's 2 KB previews of the
 * first text part (one FETCH per part number), decoded as the provider decodes them; folders at once up to the
 * workflow's lanes. `perPage`: a new connection (STARTTLS, login), EXAMINE and UID SEARCH for every page, as
 * the provider's activities do; otherwise one connection per folder and one SEARCH.
 */
async function bareRead(u: BenchUser, folders: string[], perPage: boolean): Promise<BareRead> {
  const steps: Record<Step, number> = { connect: 0, select: 0, search: 0, fetch: 0, previews: 0 };
  const timed = async <T>(step: Step, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      steps[step] += performance.now() - t;
    }
  };
  let messages = 0;
  let pages = 0;
  const open = async (folder: string) => {
    const client = await timed('connect', () => connect(u));
    await timed('select', () => client.mailboxOpen(folder, { readOnly: true }));
    return client;
  };
  const search = (client: ImapFlow, after: number) =>
    timed('search', async () => {
      const found = await client.search({ uid: `${after + 1}:*` }, { uid: true });
      return (Array.isArray(found) ? found : []).filter((uid) => uid > after).sort((a, b) => a - b);
    });
  const readPage = async (client: ImapFlow, uids: number[]) => {
    const fetched: FetchMessageObject[] = [];
    await timed('fetch', async () => {
      for await (const m of client.fetch(packUids(uids), MESSAGE_FETCH_ITEMS, { uid: true })) fetched.push(m);
    });
    const { parts, byPart } = textPartsOf(fetched);
    let previews = 0;
    await timed('previews', async () => {
      for (const [part, partUids] of byPart) {
        for await (const m of client.fetch(packUids(partUids), { uid: true, bodyParts: [{ key: part, start: 0, maxLength: PREVIEW_BYTES }] }, { uid: true })) {
          const raw = m.bodyParts ? [...m.bodyParts.values()][0] : undefined;
          const textPart = parts.get(m.uid);
          if (raw && textPart && previewOf(raw, textPart)) previews++;
        }
      }
    });
    if (previews === 0 && fetched.length > 0) throw new Error('no previews read');
    messages += fetched.length;
    pages++;
  };
  const t0 = performance.now();
  await pool(folders.length, lanes, async (i) => {
    const folder = folders[i]!;
    if (!perPage) {
      const client = await open(folder);
      const uids = await search(client, 0);
      for (let at = 0; at < uids.length; at += pageSize) await readPage(client, uids.slice(at, at + pageSize));
      await client.logout().catch(() => client.close());
      return;
    }
    for (let after = 0; ;) {
      const client = await open(folder);
      const uids = await search(client, after);
      const take = uids.slice(0, pageSize);
      if (take.length > 0) await readPage(client, take);
      await client.logout().catch(() => client.close());
      if (uids.length <= pageSize) return;
      after = take.at(-1)!;
    }
  });
  return { messages, seconds: (performance.now() - t0) / 1000, pages, steps };
}

/**
 * The provider itself, from this process: folderChanges, then each folder's messageChanges to the end in
 * batches of SYNC_PAGES_PER_ACTIVITY pages, folders at once up to the lanes.
 */
async function providerRead(u: BenchUser): Promise<{ messages: number; seconds: number; pages: number }> {
  const provider = new ImapMailProvider({
    mailboxId: 'bench',
    target: { host: imapHost, port: imapPort, tls: 'starttls', username: u.user, auth: 'password' },
    secret: () => Promise.resolve({ password: u.password }),
    policy: { allowHosts: [imapHost], allowPlaintext: false, qresync: true, ca: [...rootCertificates, caPem()], timeoutMs: 20_000 },
    db: undefined as unknown as Database,
  });
  const signal = new AbortController().signal;
  const t0 = performance.now();
  const tree = await provider.folderChanges(null, signal);
  let messages = 0;
  let pages = 0;
  await pool(tree.changed.length, lanes, async (i) => {
    const folder = tree.changed[i]!;
    // As the sync's activities read them: a batch of pages in a row on one connection.
    let cursor: string | null = null;
    for (let caughtUp = false; !caughtUp;) {
      await inRequestBatch(async () => {
        for (let n = 0; n < pagesPerActivity && !caughtUp; n++) {
          const page = await provider.messageChanges(folder.id, cursor, { pageSize, folderName: folder.name }, signal);
          messages += page.changed.length;
          pages++;
          cursor = page.cursor;
          caughtUp = page.caughtUp;
        }
      });
    }
  });
  return { messages, seconds: (performance.now() - t0) / 1000, pages };
}

export async function imapInitial(): Promise<void> {
  const total = Number(process.env.BENCH_MESSAGES ?? 50_000);
  const share = { INBOX: 0.8, Archive: 0.1, Sent: 0.06, 'Archive/2025': 0.03, Junk: 0.01 };
  const folders = Object.fromEntries(Object.entries(share).map(([f, s]) => [f, Math.round(total * s)]));
  folders.INBOX = total - Object.entries(folders).reduce((n, [f, c]) => (f === 'INBOX' ? n : n + c), 0);
  const names = Object.keys(folders);
  console.log(
    `initial sync (IMAP, Dovecot on ${imapHost}:${imapPort}, STARTTLS): ${total.toLocaleString('en')} messages in ${names.map((f) => `${f} ${folders[f]!.toLocaleString('en')}`).join(', ')}; pages of ${pageSize}, ${process.env.SYNC_PAGES_PER_ACTIVITY ?? 'the default'} page(s) per activity, ${lanes} lanes (as the stack was started)`,
  );
  const u = newUser('bench-initial');
  let t = performance.now();
  await seedMaildir(u, folders);
  console.log(`  seeded ${u.user} in ${((performance.now() - t) / 1000).toFixed(1)} s (Maildir files, indexed by doveadm; not timed)`);
  // Untimed: Dovecot's caches (its cache file learns the fields asked for; the files in the page cache), and
  // Elasticsearch's JIT on a fresh node, warmed for the sync and the limit alike.
  t = performance.now();
  const warm = await bareRead(u, names, false);
  console.log(`  warm-up: the bare read, ${warm.messages.toLocaleString('en')} messages in ${warm.seconds.toFixed(1)} s (not counted)`);
  if (process.env.BENCH_WARMUP !== '0') {
    const w = await syncMailbox(u, total);
    console.log(`  warm-up: the same user linked to another account, synced in ${w.syncSeconds.toFixed(1)} s (not counted)`);
  }

  const syncCpu = cpuWindow();
  const { linkSeconds, syncSeconds } = await syncMailbox(u, total);
  const rate = total / syncSeconds;
  const syncUsed = syncCpu();
  console.log(
    `  sync: link ${linkSeconds.toFixed(2)} s; link → LIVE with every message indexed ${syncSeconds.toFixed(2)} s = ${rate.toFixed(0)} messages/s (${load()}); CPU ${describeCpu(syncUsed)} (${describeCpu(syncUsed, { seconds: syncSeconds })})`,
  );

  const bareCpu = cpuWindow();
  const bare = await bareRead(u, names, false);
  const bareRate = bare.messages / bare.seconds;
  const bareUsed = bareCpu();
  console.log(
    `  limit: a bare imapflow read of the same folders, the same items and previews, one connection per folder, ${lanes} at once: ${bare.messages.toLocaleString('en')} in ${bare.seconds.toFixed(2)} s = ${bareRate.toFixed(0)} messages/s (${load()}); CPU ${describeCpu(bareUsed)}`,
  );
  console.log(
    `  ratio ${(rate / bareRate).toFixed(2)}: goal ≥ 0.5 ${met(rate / bareRate >= 0.5)}; ${rate.toFixed(0)} messages/s: goal ≥ 2,000 ${met(rate >= 2_000)}`,
  );

  // Where the time goes: the IMAP side alone, as the provider's activities read it.
  const perPage = await bareRead(u, names, true);
  const perStep = (s: Step, of: BareRead) => `${s} ${(of.steps[s] / of.pages).toFixed(1)}`;
  const describeSteps = (of: BareRead) => (['connect', 'select', 'search', 'fetch', 'previews'] as Step[]).map((s) => perStep(s, of)).join(', ');
  console.log(`  where the time goes, per page of ${pageSize} (ms, summed over lanes):`);
  console.log(`    bare, one connection per folder: ${describeSteps(bare)}`);
  console.log(
    `    bare, a connection per page (STARTTLS, login, EXAMINE, UID SEARCH each): ${(perPage.messages / perPage.seconds).toFixed(0)} messages/s; ${describeSteps(perPage)}`,
  );
  {
    const providerCpu = cpuWindow();
    const alone = await providerRead(u);
    const providerUsed = providerCpu();
    console.log(
      `    the provider itself from this process (no Temporal, no index), a connection per batch of pages: ${alone.messages.toLocaleString('en')} in ${alone.seconds.toFixed(2)} s = ${(alone.messages / alone.seconds).toFixed(0)} messages/s, ${((alone.seconds * 1000) / alone.pages).toFixed(0)} ms per page per lane (${load()}); CPU ${describeCpu(providerUsed)}`,
    );
  }
}

interface MessageRow {
  id: string;
  isRead: boolean;
  folder: { id: string; name: string };
}

/**
 * Flips \Seen on random messages of a folder, one at a time, over this process's own connection; times each
 * from the server's answer until the account's live feed carries it and GET …/messages shows it.
 */
async function measurePropagation(
  accountId: string,
  targets: { u: BenchUser; mailboxId: string }[],
  folder: string,
  changes: number,
  spreadMs = 1_000,
): Promise<{ sse: ReturnType<typeof summarise>; api: ReturnType<typeof summarise> }> {
  const opened = await openSse(`${apiUrl}/v1/accounts/${accountId}/events`, auth);
  await opened.stream.next((e) => e.event === 'hello');
  const clients = new Map<string, ImapFlow>();
  const folderIds = new Map<string, string>();
  const sse: number[] = [];
  const api: number[] = [];
  try {
    for (let i = 0; i < changes; i++) {
      const { u, mailboxId } = targets[Math.floor(Math.random() * targets.length)]!;
      let folderId = folderIds.get(mailboxId);
      if (!folderId) {
        const detail = await call<MailboxDetail>(`${apiUrl}/v1/mailboxes/${mailboxId}`);
        folderId = detail.folders.find((f) => f.name === folder)?.id;
        if (!folderId) throw new Error(`${mailboxId} has no folder ${folder}`);
        folderIds.set(mailboxId, folderId);
      }
      const list = `${apiUrl}/v1/accounts/${accountId}/messages?mailboxId=${mailboxId}&folderId=${encodeURIComponent(folderId)}&limit=200`;
      const { data } = await call<{ data: MessageRow[] }>(list);
      const target = data[Math.floor(Math.random() * data.length)]!;
      const uid = Number(target.id.slice(target.id.lastIndexOf('/') + 1));
      const want = !target.isRead;
      let client = clients.get(u.user);
      if (!client) {
        client = await connect(u);
        await client.mailboxOpen(folder);
        clients.set(u.user, client);
      }
      if (want) await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
      else await client.messageFlagsRemove(String(uid), ['\\Seen'], { uid: true });
      const t0 = performance.now();
      const sseDone = opened.stream
        .next(
          (e) =>
            e.event === 'messages' && (e.data as { upserted: { id: string; isRead: boolean }[] }).upserted.some((m) => m.id === target.id && m.isRead === want),
          120_000,
        )
        .then(() => sse.push(performance.now() - t0));
      const apiDone = (async () => {
        for (;;) {
          const page = await call<{ data: MessageRow[] }>(list);
          if (page.data.some((m) => m.id === target.id && m.isRead === want)) return api.push(performance.now() - t0);
          if (performance.now() - t0 > 120_000) throw new Error(`${target.id} not changed in GET …/messages after 120 s`);
          await sleep(50);
        }
      })();
      await Promise.all([sseDone, apiDone]);
      // A pause of random length: for a folder the watcher checks by LIST-STATUS, spread over its interval, so the
      // changes fall at every point of it rather than each just after the check that found the one before.
      await sleep(300 + Math.random() * spreadMs);
    }
  } finally {
    opened.stream.close();
    for (const client of clients.values()) await client.logout().catch(() => client.close());
  }
  return { sse: summarise(sse), api: summarise(api) };
}

async function waitLive(mailboxId: string): Promise<void> {
  for (;;) {
    const detail = await call<MailboxDetail>(`${apiUrl}/v1/mailboxes/${mailboxId}`);
    if (detail.sync.progress?.phase === 'LIVE') return;
    await sleep(500);
  }
}

/** The stack's sync worker, this checkout's (another stack on the machine has its own). */
function syncWorkerPid(): number {
  const found = [...stackProcesses(groups, root).values()].filter(({ row }) => groups['sync worker']!.test(row.cmd));
  if (found.length === 0) throw new Error(`no sync worker of the stack in ${root}: start it with npm start`);
  return Math.min(...found.map(({ row }) => row.pid));
}

/** The sync worker's established connections to the IMAP port: its IDLE watches (and any request in flight). */
function workerImapConnections(pid: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${imapPort} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function imapPropagation(): Promise<void> {
  const changes = Number(process.env.BENCH_CHANGES ?? 40);
  const folderChanges = Number(process.env.BENCH_FOLDER_CHANGES ?? 20);
  const u = newUser('bench-propagation');
  await seedMaildir(u, { INBOX: 100, Archive: 50 });
  const accountId = await newAccount('bench-imap-propagation');
  const mailboxId = await linkImap(accountId, u);
  await waitLive(mailboxId);
  // The watch: the workflow saves it, a sync worker leases it (every 5 s) and opens its IDLE connection.
  const worker = syncWorkerPid();
  const deadline = Date.now() + 60_000;
  while (workerImapConnections(worker) < 1 && Date.now() < deadline) await sleep(500);
  await sleep(3_000);
  console.log(
    `propagation (IMAP, Dovecot on ${imapHost}:${imapPort}): a linked mailbox of 150 messages (INBOX 100, Archive 50); \\Seen flipped over a connection of this process`,
  );
  const inbox = await measurePropagation(accountId, [{ u, mailboxId }], 'INBOX', changes);
  console.log(
    `  INBOX (IDLE), ${changes} changes: live feed p50 ${ms(inbox.sse.p50)} p99 ${ms(inbox.sse.p99)} max ${ms(inbox.sse.max)}; GET …/messages p50 ${ms(inbox.api.p50)} p99 ${ms(inbox.api.p99)} max ${ms(inbox.api.max)}; goal p99 ≤ 2.00 s ${met(Math.max(inbox.sse.p99, inbox.api.p99) <= 2_000)} (${load()})`,
  );
  const limit = (folderCheckSeconds + 1) * 1000;
  const other = await measurePropagation(accountId, [{ u, mailboxId }], 'Archive', folderChanges, folderCheckSeconds * 1000);
  console.log(
    `  Archive (LIST-STATUS every ${folderCheckSeconds} s), ${folderChanges} changes: live feed p50 ${ms(other.sse.p50)} p99 ${ms(other.sse.p99)} max ${ms(other.sse.max)}; GET …/messages p50 ${ms(other.api.p50)} p99 ${ms(other.api.p99)} max ${ms(other.api.max)}; goal p99 ≤ ${ms(limit)} ${met(Math.max(other.sse.p99, other.api.p99) <= limit)} (${load()})`,
  );
}

export async function imapIdle(): Promise<void> {
  const count = Number(process.env.BENCH_MAILBOXES ?? 1_000);
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 120);
  const worker = syncWorkerPid();
  // Each IDLE session is a Dovecot mail process with an inotify instance; past the limit (per UID, and Dovecot's
  // processes share one) IDLE falls back to checking every mailbox_idle_check_interval (30 s).
  const inotify = Number(readFileSync('/proc/sys/fs/inotify/max_user_instances', 'utf8'));
  if (inotify < count + 200)
    console.log(
      `  warning: fs.inotify.max_user_instances is ${inotify}: most IDLE sessions will poll every 30 s instead (as root: sysctl -w fs.inotify.max_user_instances=4096)`,
    );
  const users: BenchUser[] = [];
  let t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const u = newUser(`idle${i}`);
    await seedMaildir(u, { INBOX: 5 });
    users.push(u);
  }
  console.log(
    `idle (IMAP): ${count.toLocaleString('en')} users of 5 messages seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s; linking them to one account…`,
  );
  const accountId = await newAccount('bench-imap-idle');
  const linked: { u: BenchUser; mailboxId: string }[] = [];
  t0 = performance.now();
  await pool(count, 8, async (i) => {
    linked.push({ u: users[i]!, mailboxId: await linkImap(accountId, users[i]!) });
    if (linked.length % 100 === 0) console.log(`  linked ${linked.length} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  });
  for (;;) {
    const { data } = await call<{ data: MailboxSummary[] }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes`);
    const live = data.filter((m) => m.status === 'LIVE').length;
    if (live === count) break;
    console.log(`  ${live} of ${count} LIVE`);
    await sleep(10_000);
  }
  console.log(`  all ${count} LIVE after ${((performance.now() - t0) / 1000).toFixed(0)} s; waiting for every IDLE watch`);
  const deadline = Date.now() + 600_000;
  let watching = workerImapConnections(worker);
  while (watching < count && Date.now() < deadline) {
    await sleep(5_000);
    watching = workerImapConnections(worker);
  }
  console.log(`  the sync worker holds ${watching} IMAP connections after ${((performance.now() - t0) / 1000).toFixed(0)} s; settling 30 s`);
  await sleep(30_000);
  const cpu = cpuWindow();
  const rss: number[] = [];
  for (let t = 0; t < idleSeconds; t += 5) {
    rss.push(rssMb(worker));
    await sleep(5_000);
  }
  const used = cpu();
  const minutes = idleSeconds / 60;
  const dovecot = [...stackProcesses(groups, root).values()].filter(({ group }) => group === 'dovecot');
  const dovecotRss = dovecot.reduce((n, { row }) => n + row.rssKb, 0) / 1024;
  console.log(
    `  idle ${idleSeconds} s, ${workerImapConnections(worker)} IMAP connections held: sync worker RSS max ${Math.max(...rss).toFixed(0)} MB (goal < 1,024 MB ${met(Math.max(...rss) < 1024)})`,
  );
  console.log(
    `  CPU per minute: sync worker ${(used['sync worker']! / minutes).toFixed(1)} s, Dovecot ${(used.dovecot! / minutes).toFixed(1)} s (${dovecot.length} processes, RSS summed ${dovecotRss.toFixed(0)} MB), Temporal server ${(used['temporal dev server']! / minutes).toFixed(1)} s, PostgreSQL ${(used.postgres! / minutes).toFixed(1)} s, Elasticsearch ${(used.elasticsearch! / minutes).toFixed(1)} s (of 120 s the machine has; ${load()})`,
  );
  const { sse, api } = await measurePropagation(accountId, linked, 'INBOX', Number(process.env.BENCH_CHANGES ?? 30));
  console.log(
    `  INBOX propagation in random mailboxes: live feed p50 ${ms(sse.p50)} p99 ${ms(sse.p99)}; GET …/messages p50 ${ms(api.p50)} p99 ${ms(api.p99)}; goal p99 ≤ 2.00 s ${met(Math.max(sse.p99, api.p99) <= 2_000)} (${load()})`,
  );
}
