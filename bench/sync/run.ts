// Mailbox-sync benchmarks against the running stack (npm start):
//   initial — link a simulated mailbox of BENCH_MESSAGES (10,000) messages and time its initial sync
//             (link → every message in the index, mailbox LIVE): messages indexed per second. Then, from
//             this process into a scratch index with the same mapping, a raw _bulk of the same documents:
//             page after page as the sync sends a page (the limit for one folder read link after link),
//             and four pages at once (what Elasticsearch takes from one process).
// Usage: npx tsx bench/sync/run.ts [initial]
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import { pool, stackTarget } from '../lib.js';

const { apiUrl, apiKey } = stackTarget();
const outlookUrl = process.env.OUTLOOK_SIM_URL ?? 'http://127.0.0.1:4030';
const elasticsearchUrl = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
const indexPrefix = process.env.ELASTICSEARCH_INDEX_PREFIX ?? 'mailflow';
const pageSize = Number(process.env.SYNC_PAGE_SIZE ?? 200);
const auth = { authorization: `Bearer ${apiKey}` };

async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return await response.json() as T;
}

/** A simulated mailbox with `messages` messages, linked to a new local account through the OAuth dance. */
async function linkMailbox(messages: number): Promise<{ mailboxId: string; accountId: string; address: string }> {
  const address = `bench-${Date.now()}@contoso.example`;
  await call(`${outlookUrl}/_control/mailboxes`, { method: 'POST', body: JSON.stringify({ address, messages }) });
  const before = await call<{ consent: string }>(`${outlookUrl}/_control/config`);
  await call(`${outlookUrl}/_control/config`, { method: 'PUT', body: JSON.stringify({ consent: 'auto' }) });
  try {
    const account = await call<{ id: string }>(`${apiUrl}/v1/accounts`, { method: 'POST', headers: auth, body: JSON.stringify({ email: address }) });
    const { authorizationUrl } = await call<{ authorizationUrl: string }>(`${apiUrl}/v1/accounts/${account.id}/mailboxes/outlook`, {
      method: 'POST', headers: auth, body: JSON.stringify({ callbackUrl: `${apiUrl}/web/` }),
    });
    const consent = await fetch(authorizationUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    const callback = await fetch(`${apiUrl}/v1/oauth/outlook/callback${back.search}`, { redirect: 'manual' });
    const mailboxId = new URL(callback.headers.get('location') ?? 'http://x/').searchParams.get('mailboxId');
    if (callback.status !== 302 || !mailboxId) throw new Error(`link failed: ${callback.status} ${await callback.text()}`);
    return { mailboxId, accountId: account.id, address };
  } finally {
    await call(`${outlookUrl}/_control/config`, { method: 'PUT', body: JSON.stringify({ consent: before.consent }) });
  }
}

interface MailboxSummary { id: string; status: string; sync: { messagesIndexed: number } }

async function initial(): Promise<void> {
  const messages = Number(process.env.BENCH_MESSAGES ?? 10_000);
  console.log(`initial sync: a ${messages.toLocaleString('en')}-message mailbox, Graph pages of ${pageSize}`);
  const t0 = performance.now();
  const { mailboxId, accountId } = await linkMailbox(messages);
  const linked = performance.now();
  // Watched through a PostgreSQL-only route, at 4 Hz, so the watching costs the index nothing.
  for (;;) {
    const { data } = await call<{ data: MailboxSummary[] }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes`, { headers: auth });
    const m = data.find((x) => x.id === mailboxId)!;
    if (m.status === 'LIVE' && m.sync.messagesIndexed >= messages) break;
    await sleep(250);
  }
  const synced = performance.now();
  const seconds = (synced - linked) / 1000;
  const rate = messages / seconds;
  console.log(`  link ${((linked - t0) / 1000).toFixed(2)} s; sync ${seconds.toFixed(2)} s = ${rate.toFixed(0)} messages/s indexed`);

  // The limit: the same documents, bulk-indexed raw from this process.
  const es = new Client({ node: elasticsearchUrl });
  const docs: Record<string, unknown>[] = [];
  let after: (string | number)[] | undefined;
  for (;;) {
    const page = await es.search<Record<string, unknown>>({
      index: `${indexPrefix}-messages`, routing: mailboxId, size: 5_000, query: { term: { mailboxId } },
      sort: [{ messageId: 'asc' }], ...(after ? { search_after: after } : {}),
    });
    docs.push(...page.hits.hits.map((h) => h._source!));
    if (page.hits.hits.length < 5_000) break;
    after = page.hits.hits[page.hits.hits.length - 1]!.sort as (string | number)[];
  }
  const mapping = await es.indices.getMapping({ index: `${indexPrefix}-messages` });
  const pages = Array.from({ length: Math.ceil(docs.length / pageSize) }, (_, i) => docs.slice(i * pageSize, (i + 1) * pageSize));
  const bulk = async (index: string, part: Record<string, unknown>[]) => {
    const operations = part.flatMap((d) => [{ index: { _id: `${d.mailboxId as string}:${d.messageId as string}`, routing: d.mailboxId as string } }, d]);
    if ((await es.bulk({ index, operations })).errors) throw new Error('raw bulk had errors');
  };
  /** Writes every page into a scratch index with the same mapping; answers docs/s. */
  const raw = async (write: (index: string) => Promise<void>) => {
    const scratch = `bench-raw-bulk-${Date.now()}`;
    await es.indices.create({ index: scratch, mappings: Object.values(mapping)[0]!.mappings, settings: { number_of_replicas: 0 } });
    try {
      const t = performance.now();
      await write(scratch);
      return docs.length / ((performance.now() - t) / 1000);
    } finally {
      await es.indices.delete({ index: scratch });
    }
  };
  // One folder's chain: page after page, each page as the sync sends it (split into concurrent requests of 250).
  const chained = await raw(async (index) => {
    for (const page of pages) await Promise.all(Array.from({ length: Math.ceil(page.length / 250) }, (_, i) => bulk(index, page.slice(i * 250, (i + 1) * 250))));
  });
  // What Elasticsearch takes from one process: four whole pages in flight at once.
  const ceiling = await raw(async (index) => { await pool(pages.length, 4, (i) => bulk(index, pages[i]!)); });
  await es.close();
  console.log(`  limit: raw _bulk of the same ${docs.length.toLocaleString('en')} documents, page after page as the sync sends them: ${chained.toFixed(0)} docs/s; ratio ${(rate / chained).toFixed(2)}`);
  console.log(`  ceiling: raw _bulk, four pages of ${pageSize} in flight at once: ${ceiling.toFixed(0)} docs/s; ratio ${(rate / ceiling).toFixed(2)}`);
}

const mode = process.argv[2] ?? 'initial';
if (mode === 'initial') await initial();
else throw new Error(`unknown mode ${mode}: expected initial`);
