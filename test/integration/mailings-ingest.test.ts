// The set-based ingest, the token made at first send, and the counters the triggers keep, against the
// real database: lanes in parallel keep the first copy of an address; a parse that crashes past its last
// checkpoint resumes to exactly the rows of an uninterrupted one; a token never changes across attempts;
// the counters on the mailings row equal a recount after ingest, sends, a refusal and a cancel.
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../activities/deps.js';
import { createMailingActivities } from '../../activities/mailings.js';
import { connectDatabase, type DbHandle } from '../../db/client.js';
import { mailingRecipients, mailings } from '../../db/schema/index.js';
import { BlobStore } from '../../lib/blob-store.js';
import { Encryptor } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { MailIndex } from '../../lib/mail-index/types.js';
import { countsOf, recentSendsQuery } from '../../lib/mailings/counts.js';
import { countingSendOutcomes, mailingMetrics, type RecipientOutcome } from '../../lib/mailings/metrics.js';
import { ingestMailingCsv, type IngestCheckpoint } from '../../lib/mailings/ingest.js';
import { ProviderUnavailableError, RecipientRefusedError, type MailingMessage, type MailingProvider } from '../../lib/mailings/provider.js';
import { recipientToken, tokenHash } from '../../lib/mailings/send-token.js';
import { SecretStore } from '../../lib/secret-store.js';
import { testConfig } from '../helpers/config.js';

const config = testConfig();
let database: DbHandle;
let deps: ActivityDeps;
beforeAll(() => {
  database = connectDatabase(config.DATABASE_URL, { max: 4 });
  const encryptor = new Encryptor(config.ENCRYPTION_KEYS);
  deps = {
    config,
    db: database.db,
    encryptor,
    logger: pino({ level: 'silent' }),
    blobs: new BlobStore(database.db),
    secrets: new SecretStore(database.db, encryptor),
    mailIndex: {} as MailIndex,
  };
});
afterAll(async () => {
  await database?.close();
});

/** 300 rows: every 7th invalid, and addresses repeated (other case, other spacing) near and far. */
function list(): string {
  const lines = ['name,email'];
  for (let i = 1; i <= 300; i++) {
    const email =
      i % 7 === 0
        ? `not-an-address-${i}`
        : i % 11 === 0
          ? ` USER${i - 10}@Example.COM` // a copy of a row 10 earlier (another batch, maybe another lane)
          : i % 13 === 0
            ? `user${i - 1}@example.com` // a copy of the row just before (same batch)
            : `user${i}@example.com`;
    lines.push(`n${i},${email}`);
  }
  return `${lines.join('\n')}\n`;
}

async function newMailing(csv: string): Promise<{ id: string; blobId: string }> {
  const blob = await deps.blobs.put(Readable.from([Buffer.from(csv)]), { kind: 'mailing-csv', contentType: 'text/csv' });
  const id = newId('mlg');
  await database.db.insert(mailings).values({
    id,
    owner: 'admin',
    blobId: blob.id,
    options: { hasHeader: true, emailColumn: null, delimiter: null },
    workflowId: `mailing-${id}`,
    status: 'PARSING',
  });
  return { id, blobId: blob.id };
}

const ingest = (m: { id: string; blobId: string }, extra: { lanes?: number; resume?: IngestCheckpoint; onCheckpoint?: (c: IngestCheckpoint) => void } = {}) =>
  ingestMailingCsv(database.db, {
    mailingId: m.id,
    open: (start) => deps.blobs.read(m.blobId, start),
    parse: { hasHeader: true, emailColumn: null, delimiter: null },
    batchSize: 16,
    onCheckpoint: () => undefined,
    ...extra,
  });

const rowsOf = async (id: string) =>
  await database.db
    .select({
      row: mailingRecipients.rowNumber,
      email: mailingRecipients.email,
      status: mailingRecipients.status,
      reason: mailingRecipients.reason,
    })
    .from(mailingRecipients)
    .where(eq(mailingRecipients.mailingId, id))
    .orderBy(asc(mailingRecipients.rowNumber));

async function recount(id: string) {
  const rows = await database.db
    .select({ status: mailingRecipients.status, n: sql<number>`count(*)::int` })
    .from(mailingRecipients)
    .where(eq(mailingRecipients.mailingId, id))
    .groupBy(mailingRecipients.status);
  const by = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
  const total = rows.reduce((sum, r) => sum + r.n, 0);
  return {
    total,
    valid: total - by('INVALID') - by('DUPLICATE'),
    invalid: by('INVALID'),
    duplicate: by('DUPLICATE'),
    queued: by('QUEUED'),
    sending: by('SENDING'),
    sent: by('SENT'),
    failed: by('FAILED'),
    cancelled: by('CANCELLED'),
    unknown: by('UNKNOWN'),
  };
}
const counters = (id: string) => countsOf(database.db, id);

describe('ingest', () => {
  it('keeps the first copy of each address (case and spaces aside) whichever lane it lands in, and every invalid row with its reason', async () => {
    const two = await newMailing(list());
    await ingest(two, { lanes: 2 });
    const rows = await rowsOf(two.id);
    expect(rows.map((r) => r.row)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const seen = new Set<string>();
    for (const r of rows) {
      if (r.status === 'INVALID') {
        expect(r.email).toMatch(/^not-an-address-/);
        expect(r.reason).toBe('no @ in the address');
        continue;
      }
      const address = r.email.toLowerCase();
      expect(r.status, `row ${r.row}`).toBe(seen.has(address) ? 'DUPLICATE' : 'QUEUED');
      seen.add(address);
    }
    expect(rows.filter((r) => r.status === 'DUPLICATE').length).toBeGreaterThan(20);
    // One lane gives the same rows: the split never changes which copy is kept.
    const one = await newMailing(list());
    await ingest(one, { lanes: 1 });
    expect(await rowsOf(one.id)).toEqual(rows);
    expect(await counters(two.id)).toEqual(await recount(two.id));
  });

  it('stores a value with a tab, a line break, a backslash, quotes, braces, commas or NULL exactly as it was in the file', async () => {
    const odd = ['tab\there', 'line\nbreak', 'back\\slash\\N', '\\N', 'NULL', 'cr\r\nlf', '{a,b}', 'say ""hi""'];
    const m = await newMailing(`email\n${odd.map((v) => `"${v}"`).join('\n')}\nok@example.com\n`);
    await ingest(m);
    const rows = await rowsOf(m.id);
    expect(rows.map((r) => [r.email, r.status])).toEqual([...odd.map((v) => [v.replaceAll('""', '"'), 'INVALID']), ['ok@example.com', 'QUEUED']]);
  });

  it('resumed after a crash past its last checkpoint, ends with the rows of an uninterrupted parse: none twice, none changed', async () => {
    const reference = await newMailing(list());
    await ingest(reference);
    const m = await newMailing(list());
    const checkpoints: IngestCheckpoint[] = [];
    // The worker "dies" at its third heartbeat: batches after the second checkpoint were already written.
    await expect(
      ingest(m, {
        onCheckpoint: (c) => {
          if (checkpoints.length === 2) throw new Error('worker died');
          checkpoints.push(c);
        },
      }),
    ).rejects.toThrow('worker died');
    const last = checkpoints[1]!;
    const pastCheckpoint = await database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(mailingRecipients)
      .where(and(eq(mailingRecipients.mailingId, m.id), gt(mailingRecipients.rowNumber, last.lastRow)));
    expect(pastCheckpoint[0]!.n).toBeGreaterThan(0); // the retry really writes over rows already there
    await ingest(m, { resume: last });
    const strip = (rows: Awaited<ReturnType<typeof rowsOf>>) => rows.map(({ row, email, status, reason }) => ({ row, email, status, reason }));
    expect(strip(await rowsOf(m.id))).toEqual(strip(await rowsOf(reference.id)));
    // A parse run again from the start changes nothing either.
    await ingest(m);
    expect(strip(await rowsOf(m.id))).toEqual(strip(await rowsOf(reference.id)));
    expect(await counters(m.id)).toEqual(await recount(m.id));
  });
});

describe('token made at first send', () => {
  it('is the same for two attempts racing and for every later one, and is what /v1/verify looks up', async () => {
    const m = await newMailing('email\nracer@example.com\n');
    await ingest(m);
    const [before] = await database.db.select().from(mailingRecipients).where(eq(mailingRecipients.mailingId, m.id));
    expect(before!.tokenSealed).toBeNull(); // nothing made at ingest
    // Both attempts read the row before either stored a token.
    const [a, b] = await Promise.all([1, 2].map(() => recipientToken(database.db, deps.encryptor, { mailingId: m.id, row: 1, sealed: null })));
    expect(a).toBe(b);
    const [after] = await database.db.select().from(mailingRecipients).where(eq(mailingRecipients.mailingId, m.id));
    expect(after!.tokenHash).toBe(tokenHash(a!));
    expect(await recipientToken(database.db, deps.encryptor, { mailingId: m.id, row: 1, sealed: after!.tokenSealed })).toBe(a);
  });
});

describe('counters', () => {
  it('leave progress nothing to count over the rows: the send rate reads the sent_at index, the last minutes only', async () => {
    const m = await newMailing('email\nx@example.com\n');
    // 50,000 rows, 20,000 of them sent over the last ten hours.
    await database.sql`
      insert into mailing_recipients (mailing_id, row_number, email, status, sent_at)
        select ${m.id}, g, 'r' || g || '@example.com', (case when g <= 20000 then 'SENT' else 'QUEUED' end)::mailing_recipient_status,
               case when g <= 20000 then now() - make_interval(secs => g * 1.8) end
          from generate_series(1, 50000) g`;
    await database.sql`analyze mailing_recipients`;
    const { sql: text, params } = recentSendsQuery(database.db, m.id).toSQL();
    const [
      {
        'QUERY PLAN': [plan],
      },
    ] = (await database.sql.unsafe(`explain (format json) ${text}`, params as never[])) as unknown as [{ 'QUERY PLAN': [{ Plan: unknown }] }];
    const nodes = JSON.stringify(plan);
    expect(nodes).toContain('"Index Name":"mailing_recipients_sent_at_idx"');
    expect(nodes).not.toContain('Seq Scan');
    const recent = (await recentSendsQuery(database.db, m.id))[0]!.n; // 300 s / 1.8 s = 166, fewer as the clock moves on
    expect(recent).toBeGreaterThanOrEqual(155);
    expect(recent).toBeLessThanOrEqual(166);
    expect(await counters(m.id)).toEqual(await recount(m.id));
  });

  /** A provider that answers as told, keeping every body it was sent. */
  function fakeProvider(answer: (to: string, attempt: number) => 'ok' | 'refuse' | 'lost'): MailingProvider & { bodies: Map<string, string[]> } {
    const bodies = new Map<string, string[]>();
    return {
      name: 'fake',
      bodies,
      send(message: MailingMessage) {
        const sent = bodies.get(message.to) ?? [];
        bodies.set(message.to, [...sent, message.body]);
        const what = answer(message.to, sent.length + 1);
        if (what === 'refuse') return Promise.reject(new RecipientRefusedError('mailbox does not exist', 422));
        if (what === 'lost') return Promise.reject(new ProviderUnavailableError('socket hang up after the request left', 'unknown'));
        return Promise.resolve({ messageId: `msg-${message.to}-${sent.length + 1}` });
      },
    };
  }

  /** The progress counter's value for each outcome. */
  const progress = async () => {
    const { values } = await mailingMetrics.recipients.get();
    return Object.fromEntries(values.map((v) => [v.labels.outcome, v.value])) as Partial<Record<RecipientOutcome, number>>;
  };

  it('equal a recount after sends, a refusal, a retried send and a cancel, and the retried send keeps its token', async () => {
    const before = await progress();
    const m = await newMailing(`email\n${Array.from({ length: 12 }, (_, i) => `c${i + 1}@example.com`).join('\n')}\nc1@EXAMPLE.com\nbroken\n`);
    await ingest(m);
    expect(await counters(m.id)).toMatchObject({ total: 14, valid: 12, queued: 12, duplicate: 1, invalid: 1 });
    await database.db.update(mailings).set({ status: 'SENDING' }).where(eq(mailings.id, m.id));
    const provider = fakeProvider((to, attempt) =>
      to === 'c2@example.com' ? 'refuse' : (to === 'c3@example.com' && attempt === 1) || to === 'c6@example.com' ? 'lost' : 'ok',
    );
    const activities = createMailingActivities(deps, () => provider);
    const send = (row: number) =>
      new MockActivityEnvironment({ startToCloseTimeoutMs: 30_000, attempt: 1 }).run(countingSendOutcomes(activities.sendToRecipient.bind(activities)), {
        mailingId: m.id,
        row,
      });
    await send(1);
    await send(2);
    await expect(send(3)).rejects.toThrow('socket hang up'); // outcome unknown: stays SENDING
    await send(4);
    expect(await counters(m.id)).toEqual(await recount(m.id));
    expect(await counters(m.id)).toMatchObject({ sent: 2, failed: 1, sending: 1, queued: 8 });
    await send(3); // the retry sends again, with the same token
    const [first, second] = provider.bodies.get('c3@example.com')!;
    expect(second).toBe(first);
    await send(5);
    await expect(send(6)).rejects.toThrow('socket hang up'); // never answered, and the mailing is cancelled
    provider.bodies.clear();
    expect(await createMailingActivities(deps, () => provider).cancelUnsent({ mailingId: m.id })).toEqual({ cancelled: 6, unknown: 1 });
    const after = await counters(m.id);
    expect(after).toEqual(await recount(m.id));
    expect(after).toMatchObject({ total: 14, sent: 4, failed: 1, cancelled: 6, unknown: 1, queued: 0, sending: 0, duplicate: 1, invalid: 1 });
    // The Prometheus progress counter saw the same outcomes.
    const counted = await progress();
    const delta = (outcome: RecipientOutcome) => (counted[outcome] ?? 0) - (before[outcome] ?? 0);
    expect((['queued', 'invalid', 'duplicate', 'sent', 'failed', 'cancelled', 'unknown'] as const).map((o) => [o, delta(o)])).toEqual([
      ['queued', 12],
      ['invalid', 1],
      ['duplicate', 1],
      ['sent', 4],
      ['failed', 1],
      ['cancelled', 6],
      ['unknown', 1],
    ]);
  });
});
