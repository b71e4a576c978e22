// Uploading a mailing is one unit (a failed workflow start stores nothing) and idempotent with an
// Idempotency-Key (a retried or concurrent duplicate upload is the same mailing, and mails nobody twice).
import { Readable } from 'node:stream';
import { eq, like } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { mailings } from '../../db/schema/index.js';
import { newId } from '../../lib/ids.js';
import { mailingWorkflowId, startMailingWorkflow } from '../../lib/mailings/start-workflow.js';
import { useMailingRig } from '../helpers/mailings.js';
import { unique } from '../helpers/config.js';
import { waitUntil } from '../helpers/wait.js';

const rig = useMailingRig({ ratePerSecond: 40 });

const list = (n: number, tag: string) => `email\n${Array.from({ length: n }, (_, i) => `${tag}-${i}@example.com`).join('\n')}\n`;

function post(csv: string, headers: Record<string, string> = {}, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('file', new Blob([csv], { type: 'text/csv' }), 'list.csv');
  return rig.api.request('/v1/mailings', { method: 'POST', body: form, headers });
}

describe('Idempotency-Key on POST /v1/mailings', () => {
  it('answers a repeated upload with the same mailing (200), and mails each recipient once', async () => {
    await rig.sim.reset();
    const key = unique('upload');
    const csv = list(10, 'idem');
    const first = await post(csv, { 'idempotency-key': key }, { name: 'signups' });
    expect(first.status).toBe(202);
    const created = (await first.json()) as { id: string; duplicate: boolean };
    expect(created.duplicate).toBe(false);
    const again = await post(csv, { 'idempotency-key': key }, { name: 'signups' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: created.id, duplicate: true });
    const done = await rig.waitFor(created.id, (m) => m.status === 'COMPLETED');
    expect(done.counts.sent).toBe(10);
    const { sends, duplicates } = await rig.sim.ledger();
    expect(sends).toHaveLength(10);
    expect(duplicates).toEqual([]);
    // Without a key, the same file is another mailing.
    const plain = await post(csv);
    expect(plain.status).toBe(202);
    expect(((await plain.json()) as { id: string }).id).not.toBe(created.id);
  }, 60_000);

  it('refuses the same key with a different upload (422), file or fields', async () => {
    const key = unique('upload');
    const first = await post(list(3, 'conflict'), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const otherFile = await post(list(4, 'conflict'), { 'idempotency-key': key });
    expect(otherFile.status).toBe(422);
    expect(await otherFile.json()).toMatchObject({ status: 422, detail: expect.stringContaining(id) as string });
    expect((await post(list(3, 'conflict'), { 'idempotency-key': key }, { hasHeader: 'false' })).status).toBe(422);
    expect((await post(list(3, 'conflict'), { 'idempotency-key': 'has space' })).status).toBe(400);
  });

  it('collapses concurrent duplicates into one mailing', async () => {
    const key = unique('upload');
    const csv = list(5, 'race');
    const responses = await Promise.all(Array.from({ length: 6 }, () => post(csv, { 'idempotency-key': key })));
    const bodies = await Promise.all(responses.map(async (r) => ({ ...((await r.json()) as { id: string }), http: r.status })));
    expect(bodies.filter((b) => b.http === 202)).toHaveLength(1);
    expect(bodies.filter((b) => b.http === 200)).toHaveLength(5);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    const rows = await rig.api.deps.db
      .select({ id: mailings.id })
      .from(mailings)
      .where(like(mailings.idempotencyKey, `%:${key}`));
    expect(rows).toHaveLength(1);
  });
});

describe("the workflow started inside the upload's transaction", () => {
  it('waits for its row when it runs before the commit, then parses and sends', async () => {
    const { deps } = rig.api;
    const id = newId('mlg');
    const blob = await deps.blobs.put(Readable.from([Buffer.from(list(2, 'early'))]), { kind: 'mailing-csv', contentType: 'text/csv', filename: 'early.csv' });
    await startMailingWorkflow(deps.temporal, deps.config, id);
    // The first parse attempt finds no row and fails; the next waits for its retry.
    await waitUntil('a parse attempt that found no row', async () => {
      const pending = (await deps.temporal.workflow.getHandle(mailingWorkflowId(id)).describe()).raw.pendingActivities ?? [];
      return pending.some((a) => (a.attempt ?? 0) >= 2) ? true : undefined;
    });
    await deps.db.insert(mailings).values({
      id,
      owner: 'admin',
      name: 'early',
      blobId: blob.id,
      workflowId: mailingWorkflowId(id),
      status: 'PARSING',
      options: { hasHeader: true, emailColumn: null, delimiter: null },
    });
    expect((await rig.waitFor(id, (m) => m.status === 'COMPLETED', 30_000)).counts.sent).toBe(2);
  }, 45_000);
});

describe('a failed workflow start', () => {
  it('stores nothing (503), and the retried upload then goes through', async () => {
    const workflow = rig.api.deps.temporal.workflow;
    const start = workflow.start.bind(workflow);
    const before = (await rig.api.deps.db.select({ id: mailings.id }).from(mailings)).length;
    const key = unique('upload');
    workflow.start = () => Promise.reject(new Error('Temporal is unreachable'));
    try {
      const refused = await post(list(2, 'nostart'), { 'idempotency-key': key });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ detail: expect.stringContaining('nothing was stored') as string });
    } finally {
      workflow.start = start;
    }
    expect((await rig.api.deps.db.select({ id: mailings.id }).from(mailings)).length).toBe(before); // no mailing left PARSING
    const retried = await post(list(2, 'nostart'), { 'idempotency-key': key });
    expect(retried.status).toBe(202);
    const { id } = (await retried.json()) as { id: string };
    expect((await rig.waitFor(id, (m) => m.status === 'COMPLETED')).counts.sent).toBe(2);
    const [row] = await rig.api.deps.db.select({ status: mailings.status }).from(mailings).where(eq(mailings.id, id));
    expect(row?.status).toBe('COMPLETED');
  });
});
