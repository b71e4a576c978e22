// Mailbox-sync benchmarks against the running stack (npm start):
//   initial — link a simulated mailbox of BENCH_MESSAGES (10,000) messages and time its initial sync
//             (link → every message in the index, mailbox LIVE), after an untimed one as big
//             (BENCH_WARMUP_MESSAGES): messages indexed per second. Then, from
//             this process into a scratch index with the same mapping, a raw _bulk of the same documents:
//             page after page as the sync sends a page (the limit for one folder read link after link),
//             that chain kept up about as long as the sync ran (Elasticsearch's refreshes and merges inside
//             the window, as they were for the sync), and four pages at once (what it takes from one process).
//   propagation — BENCH_CHANGES (40) changes, one at a time, in a linked 150-message mailbox: the time from
//             the simulator's answer to the change being in GET …/messages, and to its event on the account's
//             SSE stream, p50/p99; held against 2 s with push, and the poll interval + 1 s without
//             (run the stack with `GRAPH_NOTIFICATION_URL= npm start` for polling only).
//   idle    — BENCH_MAILBOXES (5,000) linked mailboxes of 5 messages, all LIVE and idle: the sync worker's
//             RSS, the CPU seconds per minute of the worker and of the Temporal server over BENCH_IDLE_SECONDS
//             (120), and the propagation p99 of changes in random mailboxes among them.
// Usage: npx tsx bench/sync/run.ts [initial|propagation|idle]   (BENCH_PROVIDER=imap: the same modes for IMAP, bench/sync/imap.ts)
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type estypes } from '@elastic/elasticsearch';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openSse } from '../../test/helpers/sse.js';
import { pool, stackTarget, summarise } from '../lib.js';
import { act, auth, call, link, linkMailbox, outlookUrl, waitLive, withAutoConsent } from '../outlook.js';
import { cpuSecondsWindow, jitSecondsWindow } from '../processes.js';

/** The stack's processes a sync runs through: which one is the wall, and Elasticsearch's CPU per document. */
const syncProcesses: Record<string, RegExp> = {
  elasticsearch: /org\.elasticsearch\.bootstrap|elasticsearch-\d/,
  'sync worker': /workers\/sync\.[jt]s/,
  simulator: /simulators\/main\.[jt]s/,
  'temporal dev server': /start-dev/,
  postgres: /^postgres/,
  'this bench': /bench\/sync\/run\.ts/,
};
const describeCpu = ({ cpu, jit }: { cpu: Record<string, number>; jit: number }, documents: number) =>
  `CPU ${Object.entries(cpu)
    .map(([name, s]) => `${name} ${s.toFixed(1)} s`)
    .join(
      ', ',
    )}; Elasticsearch ${((cpu.elasticsearch! * 1e6) / documents).toFixed(0)} µs per document, of which its JIT compiler ${((jit * 1e6) / documents).toFixed(0)}`;

/** A window's CPU per process and Elasticsearch's JIT compiler time in it. */
function cpuAndJitWindow(): () => { cpu: Record<string, number>; jit: number } {
  const cpu = cpuSecondsWindow(syncProcesses);
  const jit = jitSecondsWindow(syncProcesses.elasticsearch!);
  return () => ({ cpu: cpu(), jit: jit() });
}

/** What Elasticsearch did over a window, from its node stats: which requests the sync's documents cost. */
function elasticsearchWorkWindow(es: Client): () => Promise<string> {
  type Indices = estypes.IndicesStatsShardStats;
  const read = async () => {
    const stats = await es.nodes.stats({ metric: 'indices' });
    const sum = (pick: (i: Indices) => number | undefined) => Object.values(stats.nodes).reduce((n, node) => n + (pick(node.indices as Indices) ?? 0), 0);
    return {
      indexed: sum((i) => i.indexing?.index_total),
      indexMs: sum((i) => i.indexing?.index_time_in_millis),
      deleted: sum((i) => i.indexing?.delete_total),
      refreshes: sum((i) => i.refresh?.total),
      refreshMs: sum((i) => i.refresh?.total_time_in_millis),
      searches: sum((i) => i.search?.query_total),
      searchMs: sum((i) => (i.search?.query_time_in_millis ?? 0) + (i.search?.fetch_time_in_millis ?? 0)),
      gets: sum((i) => i.get?.total),
      mergeMs: sum((i) => i.merges?.total_time_in_millis),
      flushes: sum((i) => i.flush?.total),
    };
  };
  const before = read();
  return async () => {
    const [a, b] = await Promise.all([before, read()]);
    const d = Object.fromEntries(Object.keys(b).map((k) => [k, b[k as keyof typeof b] - a[k as keyof typeof a]])) as typeof b;
    return (
      `Elasticsearch did: ${d.indexed} index ops (${d.indexMs} ms), ${d.deleted} deletes, ${d.refreshes} refreshes (${d.refreshMs} ms), ` +
      `${d.searches} searches (${d.searchMs} ms), ${d.gets} gets, ${d.flushes} flushes, merges ${d.mergeMs} ms`
    );
  };
}

const { apiUrl } = stackTarget();
const elasticsearchUrl = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
const indexPrefix = process.env.ELASTICSEARCH_INDEX_PREFIX ?? 'mailflow';
const pageSize = Number(process.env.SYNC_PAGE_SIZE ?? 500);

interface MailboxSummary {
  id: string;
  status: string;
  sync: { messagesIndexed: number };
}

/** Links a mailbox and waits until its sync is LIVE with every message indexed; answers link and sync seconds. */
async function syncMailbox(messages: number): Promise<{ mailboxId: string; linkSeconds: number; syncSeconds: number }> {
  const t0 = performance.now();
  const { mailboxId, accountId } = await linkMailbox(messages);
  const linked = performance.now();
  // Watched through a PostgreSQL-only route, at 10 Hz, so the watching costs the index nothing.
  for (;;) {
    const { data } = await call<{ data: MailboxSummary[] }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes`, { headers: auth });
    const m = data.find((x) => x.id === mailboxId)!;
    if (m.status === 'LIVE' && m.sync.messagesIndexed >= messages) break;
    await sleep(100);
  }
  return { mailboxId, linkSeconds: (linked - t0) / 1000, syncSeconds: (performance.now() - linked) / 1000 };
}

async function initial(): Promise<void> {
  const messages = Number(process.env.BENCH_MESSAGES ?? 10_000);
  // A freshly started Elasticsearch spends seconds of CPU compiling its hot code (JIT): a warm-up as big
  // as the timed mailbox, so the sync and the raw chain after it are both measured warm.
  const warmup = Number(process.env.BENCH_WARMUP_MESSAGES ?? messages);
  console.log(
    `initial sync: a ${messages.toLocaleString('en')}-message mailbox, Graph pages of ${pageSize}, ${process.env.SYNC_PAGES_PER_ACTIVITY ?? 'the default'} page(s) per activity (as the stack was started)`,
  );
  if (warmup > 0) {
    const warming = jitSecondsWindow(syncProcesses.elasticsearch!);
    const w = await syncMailbox(warmup);
    console.log(
      `  warm-up: ${warmup.toLocaleString('en')} messages in ${w.syncSeconds.toFixed(2)} s (not counted); Elasticsearch's JIT compiler ${warming().toFixed(1)} s CPU in it`,
    );
  }
  const es = new Client({ node: elasticsearchUrl });
  const syncCpu = cpuAndJitWindow();
  const syncWork = elasticsearchWorkWindow(es);
  const { mailboxId, linkSeconds, syncSeconds: seconds } = await syncMailbox(messages);
  const rate = messages / seconds;
  console.log(`  link ${linkSeconds.toFixed(2)} s; sync ${seconds.toFixed(2)} s = ${rate.toFixed(0)} messages/s indexed; ${describeCpu(syncCpu(), messages)}`);
  console.log(`  ${await syncWork()}`);

  // The limit: the same documents, bulk-indexed raw from this process.
  const docs: Record<string, unknown>[] = [];
  let after: (string | number)[] | undefined;
  for (;;) {
    const page = await es.search<Record<string, unknown>>({
      index: `${indexPrefix}-messages`,
      routing: mailboxId,
      size: 5_000,
      query: { term: { mailboxId } },
      sort: [{ messageId: 'asc' }],
      ...(after ? { search_after: after } : {}),
    });
    docs.push(...page.hits.hits.map((h) => h._source!));
    if (page.hits.hits.length < 5_000) break;
    after = page.hits.hits[page.hits.hits.length - 1]!.sort as (string | number)[];
  }
  const mapping = await es.indices.getMapping({ index: `${indexPrefix}-messages` });
  const pages = Array.from({ length: Math.ceil(docs.length / pageSize) }, (_, i) => docs.slice(i * pageSize, (i + 1) * pageSize));
  const bulk = async (index: string, part: Record<string, unknown>[], idSuffix = '') => {
    const operations = part.flatMap((d) => [
      { index: { _id: `${d.mailboxId as string}:${d.messageId as string}${idSuffix}`, routing: d.mailboxId as string } },
      d,
    ]);
    if ((await es.bulk({ index, operations })).errors) throw new Error('raw bulk had errors');
  };
  /** One page as the sync sends it: split into concurrent requests of 250 documents. */
  const sendPage = (index: string, page: Record<string, unknown>[], idSuffix = '') =>
    Promise.all(Array.from({ length: Math.ceil(page.length / 250) }, (_, i) => bulk(index, page.slice(i * 250, (i + 1) * 250), idSuffix)));
  /** Writes every page (`written` documents in all) into a scratch index with the same mapping; answers docs/s. */
  const raw = async (write: (index: string) => Promise<void>, written = docs.length) => {
    const scratch = `bench-raw-bulk-${Date.now()}`;
    await es.indices.create({ index: scratch, mappings: Object.values(mapping)[0]!.mappings, settings: { number_of_replicas: 0 } });
    try {
      const t = performance.now();
      await write(scratch);
      return written / ((performance.now() - t) / 1000);
    } finally {
      await es.indices.delete({ index: scratch });
    }
  };
  // One folder's chain: page after page, each page as the sync sends it (split into concurrent requests of 250).
  const chain = async (index: string) => {
    for (const page of pages) await sendPage(index, page);
  };
  await raw(chain); // untimed: this request path warmed up as the sync's was
  const chained = await raw(chain);
  // The same chain kept up about as long as the sync ran: the documents again under new ids, pass after pass.
  // A burst of two or three seconds leaves Elasticsearch's refreshes and segment merges for after its
  // window; a run as long as the sync's pays for them inside it, as the sync did.
  const passes = Math.min(5, Math.max(2, Math.round((seconds * chained) / docs.length)));
  const sustainedCpu = cpuAndJitWindow();
  const sustainedWork = elasticsearchWorkWindow(es);
  const sustained = await raw(async (index) => {
    for (let pass = 0; pass < passes; pass++) {
      for (const page of pages) await sendPage(index, page, `:${pass}`);
    }
  }, docs.length * passes);
  const sustainedCpuUsed = sustainedCpu();
  const sustainedWorkDone = await sustainedWork();
  // The same chain into the messages index itself (its size, segments and refreshes as the sync met them),
  // under a scratch mailbox id that nothing reads, removed afterwards.
  const messagesIndex = `${indexPrefix}-messages`;
  const { count: indexed } = await es.count({ index: messagesIndex });
  const scratchMailbox = `bench-raw-${Date.now()}`;
  const sameIndex = await (async () => {
    const t = performance.now();
    try {
      for (const page of pages)
        await sendPage(
          messagesIndex,
          page.map((d) => ({ ...d, mailboxId: scratchMailbox })),
        );
      return docs.length / ((performance.now() - t) / 1000);
    } finally {
      // Only the server core runs here (no _delete_by_query): the scratch documents go by id.
      for (let i = 0; i < docs.length; i += 5_000) {
        await es.bulk({
          index: messagesIndex,
          refresh: i + 5_000 >= docs.length,
          operations: docs.slice(i, i + 5_000).map((d) => ({ delete: { _id: `${scratchMailbox}:${d.messageId as string}`, routing: scratchMailbox } })),
        });
      }
    }
  })();
  // What Elasticsearch takes from one process: four whole pages in flight at once.
  const ceiling = await raw(async (index) => {
    await pool(pages.length, 4, (i) => bulk(index, pages[i]!));
  });
  await es.close();
  console.log(
    `  limit: raw _bulk of the same ${docs.length.toLocaleString('en')} documents, page after page as the sync sends them: ${chained.toFixed(0)} docs/s; ratio ${(rate / chained).toFixed(2)}`,
  );
  console.log(
    `  the same raw chain kept up for ${passes} passes (${(docs.length * passes).toLocaleString('en')} documents, about as long as the sync ran): ${sustained.toFixed(0)} docs/s; ratio ${(rate / sustained).toFixed(2)}; ${describeCpu(sustainedCpuUsed, docs.length * passes)}`,
  );
  console.log(`    ${sustainedWorkDone}`);
  console.log(
    `  the same raw chain into the messages index itself (${indexed.toLocaleString('en')} documents in it): ${sameIndex.toFixed(0)} docs/s; ratio ${(rate / sameIndex).toFixed(2)}`,
  );
  console.log(`  ceiling: raw _bulk, four pages of ${pageSize} in flight at once: ${ceiling.toFixed(0)} docs/s; ratio ${(rate / ceiling).toFixed(2)}`);
}

/**
 * Flips read state of random messages one at a time and times each until the account's SSE stream
 * carries it and GET …/messages shows it. One stream per account serves many mailboxes.
 */
async function measurePropagation(accountId: string, mailboxes: { address: string; mailboxId: string }[], changes: number) {
  const opened = await openSse(`${apiUrl}/v1/accounts/${accountId}/events`, auth);
  await opened.stream.next((e) => e.event === 'hello');
  const sse: number[] = [];
  const api: number[] = [];
  for (let i = 0; i < changes; i++) {
    const { address, mailboxId } = mailboxes[Math.floor(Math.random() * mailboxes.length)]!;
    const inbox = await call<{ id: string; isRead: boolean }[]>(`${outlookUrl}/_control/mailboxes/${encodeURIComponent(address)}/messages?folder=inbox`);
    const target = inbox[Math.floor(Math.random() * inbox.length)]!;
    const t0 = performance.now();
    await act(address, { type: 'markRead', id: target.id, isRead: !target.isRead });
    const sseDone = opened.stream
      .next(
        (e) =>
          e.event === 'messages' &&
          (e.data as { upserted: { id: string; isRead: boolean }[] }).upserted.some((m) => m.id === target.id && m.isRead === !target.isRead),
        120_000,
      )
      .then(() => sse.push(performance.now() - t0));
    const apiDone = (async () => {
      for (;;) {
        const page = await call<{ data: { id: string; isRead: boolean }[] }>(`${apiUrl}/v1/accounts/${accountId}/messages?mailboxId=${mailboxId}&limit=200`, {
          headers: auth,
        });
        if (page.data.some((m) => m.id === target.id && m.isRead === !target.isRead)) {
          api.push(performance.now() - t0);
          return;
        }
        await sleep(50);
      }
    })();
    await Promise.all([sseDone, apiDone]);
    await sleep(300);
  }
  opened.stream.close();
  return { sse: summarise(sse), api: summarise(api) };
}

const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;

async function propagation(): Promise<void> {
  const changes = Number(process.env.BENCH_CHANGES ?? 40);
  const { mailboxId, accountId, address } = await linkMailbox(150);
  const progress = await waitLive(mailboxId);
  const push = progress.push.healthy;
  const limit = push ? 2_000 : progress.push.pollIntervalMs + 1_000;
  console.log(
    `propagation: ${changes} changes, ${push ? 'push (Graph notifications)' : `polling only, every ${ms(progress.push.pollIntervalMs)}`}; limit p99 ≤ ${ms(limit)}`,
  );
  const { sse, api } = await measurePropagation(accountId, [{ address, mailboxId }], changes);
  console.log(`  to the SSE stream:    p50 ${ms(sse.p50)}  p99 ${ms(sse.p99)}  max ${ms(sse.max)}`);
  console.log(`  to GET …/messages:    p50 ${ms(api.p50)}  p99 ${ms(api.p99)}  max ${ms(api.max)}   (limit ${ms(limit)})`);
}

function pid(pattern: string): number | undefined {
  try {
    return Number(execSync(`pgrep -of '${pattern}'`).toString().trim().split('\n')[0]);
  } catch {
    return undefined;
  }
}
const cpuSeconds = (p: number) => {
  const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
};
const rssMb = (p: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function idle(): Promise<void> {
  const count = Number(process.env.BENCH_MAILBOXES ?? 5_000);
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 120);
  // The sync role's own process (npm start runs it apart, as production does), else an all-roles one.
  const worker = pid('workers/mailbox-sync.ts') ?? pid('workers/main.ts');
  const temporal = pid('temporal server start-dev');
  if (!worker || !temporal) throw new Error('run against the local stack (npm start): no worker or Temporal process found');
  const account = await call<{ id: string }>(`${apiUrl}/v1/accounts`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ email: `idle-${Date.now()}@contoso.example` }),
  });
  const tag = Date.now().toString(36);
  const mailboxes: { address: string; mailboxId: string }[] = [];
  const t0 = performance.now();
  console.log(`idle: linking ${count.toLocaleString('en')} mailboxes of 5 messages to one account…`);
  await withAutoConsent(() =>
    pool(count, 8, async (i) => {
      const address = `idle-${tag}-${i}@contoso.example`;
      await call(`${outlookUrl}/_control/mailboxes`, { method: 'POST', body: JSON.stringify({ address, messages: 5 }) });
      mailboxes.push({ address, mailboxId: await link(account.id, address) });
      if ((i + 1) % 500 === 0) console.log(`  linked ${i + 1} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }),
  );
  for (;;) {
    const { data } = await call<{ data: { status: string }[] }>(`${apiUrl}/v1/accounts/${account.id}/mailboxes`, { headers: auth });
    const live = data.filter((m) => m.status === 'LIVE').length;
    if (live === count) break;
    console.log(`  ${live} of ${count} LIVE`);
    await sleep(10_000);
  }
  console.log(`  all ${count} LIVE after ${((performance.now() - t0) / 1000).toFixed(0)} s; settling 30 s`);
  await sleep(30_000);
  const [w0, s0] = [cpuSeconds(worker), cpuSeconds(temporal)];
  const rss: number[] = [];
  for (let t = 0; t < idleSeconds; t += 5) {
    rss.push(rssMb(worker));
    await sleep(5_000);
  }
  const minutes = idleSeconds / 60;
  console.log(
    `  idle ${idleSeconds} s: worker RSS max ${Math.max(...rss).toFixed(0)} MB (limit 1024 MB); CPU per minute: worker ${((cpuSeconds(worker) - w0) / minutes).toFixed(1)} s, Temporal server ${((cpuSeconds(temporal) - s0) / minutes).toFixed(1)} s (of 120 s the machine has)`,
  );
  const { sse, api } = await measurePropagation(account.id, mailboxes, Number(process.env.BENCH_CHANGES ?? 30));
  console.log(
    `  propagation in random mailboxes: SSE p50 ${ms(sse.p50)} p99 ${ms(sse.p99)}; GET …/messages p50 ${ms(api.p50)} p99 ${ms(api.p99)} (limit with push 2.00 s)`,
  );
}

const mode = process.argv[2] ?? 'initial';
const provider = process.env.BENCH_PROVIDER ?? 'outlook';
if (provider === 'imap') {
  const imap = await import('./imap.js');
  if (mode === 'initial') await imap.imapInitial();
  else if (mode === 'propagation') await imap.imapPropagation();
  else if (mode === 'idle') await imap.imapIdle();
  else throw new Error(`unknown mode ${mode}: expected initial, propagation or idle`);
} else if (provider !== 'outlook') throw new Error(`unknown BENCH_PROVIDER ${provider}: expected outlook or imap`);
else if (mode === 'initial') await initial();
else if (mode === 'propagation') await propagation();
else if (mode === 'idle') await idle();
else throw new Error(`unknown mode ${mode}: expected initial, propagation or idle`);
