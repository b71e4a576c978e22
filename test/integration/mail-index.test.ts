// The mail index contract: one suite run against Elasticsearch and PostgreSQL alike, so the sync engine and
// the API behave the same whichever backend a deployment has. Each test works in mailboxes of its own.
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { createMailIndex, InvalidCursorError, type MailboxDoc, type MailIndex, type MessageDoc, type MessagePage } from '../../lib/mail-index/index.js';
import { testConfig, unique } from '../helpers/config.js';
import { at, messageDoc as message, T0 } from '../helpers/message-docs.js';

type Backend = 'postgres' | 'elasticsearch';

const config = testConfig();
const database = connectDatabase(config.DATABASE_URL, { max: 4 });
const elasticsearchUrl = inject('services').ELASTICSEARCH_URL;
const elasticsearch = elasticsearchUrl ? new Client({ node: elasticsearchUrl }) : undefined;
// Under the run's prefix (the global teardown removes leftovers); afterAll deletes them by name too.
const runPrefix = `${config.ELASTICSEARCH_INDEX_PREFIX}-mi-${randomBytes(3).toString('hex')}`;
const prefixesUsed = new Set<string>();

function openIndex(backend: Backend, prefix = runPrefix): MailIndex {
  if (backend === 'postgres') return createMailIndex({ ...config, ELASTICSEARCH_URL: undefined }, database.db);
  prefixesUsed.add(prefix);
  return createMailIndex({ ...config, ELASTICSEARCH_INDEX_PREFIX: prefix }, database.db, { elasticsearch });
}

afterAll(async () => {
  if (elasticsearch) {
    const indices = [...prefixesUsed].flatMap((prefix) => [`${prefix}-messages-v1`, `${prefix}-mailboxes-v1`]);
    if (indices.length > 0) await elasticsearch.indices.delete({ index: indices, ignore_unavailable: true });
    await elasticsearch.close();
  }
  await database.close();
});

const minutes = (n: number) => at(T0 + n * 60_000);
const ids = (page: MessagePage) => page.data.map((doc) => doc.messageId);

/** The contract's order, computed here: receivedAt newest first with undated last, then messageId by code unit. */
function expectedOrder(docs: MessageDoc[]): string[] {
  const time = (doc: MessageDoc) => (doc.receivedAt === null ? -Infinity : Date.parse(doc.receivedAt));
  return [...docs].sort((a, b) => time(b) - time(a) || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0)).map((doc) => doc.messageId);
}

async function upsertInPages(index: MailIndex, docs: MessageDoc[], pageSize = 500): Promise<void> {
  for (let i = 0; i < docs.length; i += pageSize) {
    const result = await index.upsertMessages(docs.slice(i, i + pageSize));
    expect(result.stale).toBe(0);
  }
}

// Without Elasticsearch (the run's services say so at its start), the contract runs on PostgreSQL alone.
const backends: { backend: Backend }[] = elasticsearch ? [{ backend: 'postgres' }, { backend: 'elasticsearch' }] : [{ backend: 'postgres' }];

describe.each(backends)('mail index on $backend', ({ backend }) => {
  const index = openIndex(backend);
  beforeAll(() => index.ensureReady());
  afterAll(() => index.close());

  it('reports its backend', () => {
    expect(index.backend).toBe(backend);
  });

  it('ensureReady is idempotent and safe from several processes at once', async () => {
    const prefix = `${runPrefix}-fresh`;
    const processes = [openIndex(backend, prefix), openIndex(backend, prefix), openIndex(backend, prefix)];
    await Promise.all(processes.map((p) => p.ensureReady()));
    await processes[0]!.ensureReady();
    await processes[0]!.ensureReady();
    if (backend === 'elasticsearch') {
      for (const kind of ['messages', 'mailboxes']) {
        const alias = `${prefix}-${kind}`;
        const physical = `${alias}-v1`;
        const aliases = await elasticsearch!.indices.getAlias({ name: alias });
        expect(Object.keys(aliases)).toEqual([physical]);
        expect(aliases[physical]!.aliases[alias]).toMatchObject({ is_write_index: true });
        const settings = await elasticsearch!.indices.getSettings({ index: physical });
        expect(settings[physical]!.settings!.index!.refresh_interval).toBe('1s');
        const mapping = await elasticsearch!.indices.getMapping({ index: physical });
        expect(mapping[physical]!.mappings.dynamic).toBe('strict');
      }
    }
    // Works through the fresh aliases straight away.
    const mailboxId = unique('mbx');
    expect(await processes[1]!.upsertMessages([message(mailboxId, 'm1')])).toMatchObject({ written: 1, stale: 0 });
    await Promise.all(processes.map((p) => p.close()));
  });

  it('stores every field and reads it back the same, nulls and arrays included', async () => {
    const mailboxId = unique('mbx');
    const full = message(mailboxId, 'AAMkAGI2TG93AAA=', {
      subject: 'Quarterly numbers',
      from: { name: 'Jane Doe', address: 'jane.doe@example.com' },
      to: [
        { name: 'Robin', address: 'robin@example.test' },
        { name: '', address: 'ops@example.test' },
      ],
      cc: [{ name: 'Kim', address: 'kim@example.test' }],
      receivedAt: '2024-03-01T09:15:30.250Z',
      isRead: true,
      flagStatus: 'flagged',
      bodyPreview: 'Numbers attached — ünïcödé too',
      hasAttachments: true,
      syncSeq: 42,
      folderId: 'AQMkADAwATM0MDAAMS1iNT',
      folderName: 'Finance/Reports',
      lastModifiedAt: '2024-03-02T10:00:00.000Z',
    });
    const sparse = message(mailboxId, 'sparse', {
      subject: '',
      from: null,
      to: [],
      cc: [],
      receivedAt: null,
      bodyPreview: '',
      conversationId: null,
      internetMessageId: null,
      changeKey: null,
      flagStatus: 'complete',
    });
    expect(await index.upsertMessages([full, sparse])).toMatchObject({ written: 2, stale: 0 });
    await index.refresh();
    expect(await index.getMessage(mailboxId, full.messageId)).toEqual(full);
    expect(await index.getMessage(mailboxId, 'sparse')).toEqual(sparse);
    expect(await index.getMessage(mailboxId, 'unknown')).toBeUndefined();
    expect(await index.getMessage(unique('mbx'), full.messageId)).toBeUndefined();
  });

  it('returns dates in canonical ISO form and refuses a message without a valid lastModifiedAt', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([message(mailboxId, 'm1', { receivedAt: '2024-03-01T09:15:30Z', lastModifiedAt: '2024-03-01T11:15:30+02:00' })]);
    await index.refresh();
    expect(await index.getMessage(mailboxId, 'm1')).toMatchObject({ receivedAt: '2024-03-01T09:15:30.000Z', lastModifiedAt: '2024-03-01T09:15:30.000Z' });
    await expect(index.upsertMessages([message(mailboxId, 'm2', { lastModifiedAt: 'yesterday' })])).rejects.toThrow(TypeError);
  });

  it('is idempotent: a replayed message stays one document', async () => {
    const mailboxId = unique('mbx');
    const doc = message(mailboxId, 'm1');
    expect(await index.upsertMessages([doc])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([doc])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([doc, doc])).toMatchObject({ written: 2, stale: 0 });
    expect(await index.upsertMessages([])).toMatchObject({ written: 0, stale: 0 });
    await index.refresh();
    expect(await index.countMessages(mailboxId)).toBe(1);
  });

  it('never lets an older version overwrite a newer one, and lets an equal version rewrite syncSeq', async () => {
    const mailboxId = unique('mbx');
    const newer = message(mailboxId, 'm1', { subject: 'second edit', lastModifiedAt: minutes(10), syncSeq: 2 });
    const older = message(mailboxId, 'm1', { subject: 'first edit', lastModifiedAt: minutes(5), syncSeq: 3 });
    expect(await index.upsertMessages([newer])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([older])).toMatchObject({ written: 0, stale: 1 });
    expect(await index.getMessage(mailboxId, 'm1')).toMatchObject({ subject: 'second edit', syncSeq: 2 });

    expect(await index.upsertMessages([{ ...newer, syncSeq: 7 }])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.getMessage(mailboxId, 'm1')).toMatchObject({ subject: 'second edit', syncSeq: 7 });

    // Within one call too, in either order.
    const mixed = await index.upsertMessages([{ ...newer, syncSeq: 8 }, older]);
    expect(mixed).toMatchObject({ written: 1, stale: 1 });
    // What changed in the index: the newest copy, once.
    expect(mixed.applied.map((d) => [d.messageId, d.syncSeq])).toEqual([[newer.messageId, 8]]);
    expect((await index.upsertMessages([older])).applied).toEqual([]);
    expect(await index.upsertMessages([older, { ...newer, syncSeq: 9 }])).toMatchObject({ written: 1, stale: 1 });
    expect(await index.getMessage(mailboxId, 'm1')).toMatchObject({ subject: 'second edit', syncSeq: 9 });
    await index.refresh();
    expect(await index.countMessages(mailboxId)).toBe(1);
  });

  it('breaks a tie of versions by syncSeq: of two copies with one lastModifiedAt, the later fetch wins in either order', async () => {
    const mailboxId = unique('mbx');
    // Graph's whole seconds: a move in the same second as the change before it keeps the version. The copy
    // fetched before the move (syncSeq 10) shows the old folder, the one fetched after (11) the new one.
    const before = (id: string) => message(mailboxId, id, { folderId: 'inbox', folderName: 'Inbox', isRead: true, lastModifiedAt: minutes(3), syncSeq: 10 });
    const after = (id: string) => message(mailboxId, id, { folderId: 'archive', folderName: 'Archive', isRead: true, lastModifiedAt: minutes(3), syncSeq: 11 });

    // In fetch order: the later copy overwrites.
    expect(await index.upsertMessages([before('in-order')])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([after('in-order')])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.getMessage(mailboxId, 'in-order')).toEqual(after('in-order'));

    // The earlier fetch applied last (a page held back): refused, changing nothing.
    await index.upsertMessages([after('late-page')]);
    const late = await index.upsertMessages([before('late-page')]);
    expect(late).toMatchObject({ written: 0, stale: 1 });
    expect(late.applied).toEqual([]);
    expect(await index.getMessage(mailboxId, 'late-page')).toEqual(after('late-page'));
    // A replay of what is stored is still written (idempotent), and the tie holds after it.
    expect(await index.upsertMessages([after('late-page')])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([before('late-page')])).toMatchObject({ written: 0, stale: 1 });

    // Both copies in one call, in either order.
    for (const [id, copies] of [
      ['one-call-a', [before('one-call-a'), after('one-call-a')]],
      ['one-call-b', [after('one-call-b'), before('one-call-b')]],
    ] as const) {
      const result = await index.upsertMessages([...copies]);
      expect(result).toMatchObject({ written: 1, stale: 1 });
      expect(result.applied).toEqual([after(id)]);
      expect(await index.getMessage(mailboxId, id)).toEqual(after(id));
    }

    // The version still comes first: a newer one wins whatever its syncSeq, an older one loses whatever its syncSeq.
    const newer = message(mailboxId, 'late-page', { folderId: 'inbox', lastModifiedAt: at(T0 + 3 * 60_000 + 1), syncSeq: 5 });
    expect(await index.upsertMessages([newer])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([{ ...after('late-page'), syncSeq: 99 }])).toMatchObject({ written: 0, stale: 1 });
    expect(await index.getMessage(mailboxId, 'late-page')).toEqual(newer);

    // A renamed folder rewrote its messages: ties are still decided by syncSeq there.
    await index.renameFolder(mailboxId, 'archive', 'Archive 2024');
    const renamed = { ...after('in-order'), folderName: 'Archive 2024' };
    expect(await index.getMessage(mailboxId, 'in-order')).toEqual(renamed);
    expect(await index.upsertMessages([before('in-order')])).toMatchObject({ written: 0, stale: 1 });
    expect(await index.upsertMessages([{ ...renamed, syncSeq: 12 }])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.getMessage(mailboxId, 'in-order')).toEqual({ ...renamed, syncSeq: 12 });
    await index.refresh();
    expect(await index.countMessages(mailboxId)).toBe(4);
  });

  it('keeps a message moved to another folder as one document', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([message(mailboxId, 'm1')]);
    const moved = message(mailboxId, 'm1', { folderId: 'archive', folderName: 'Archive', lastModifiedAt: minutes(1), syncSeq: 2 });
    expect(await index.upsertMessages([moved])).toMatchObject({ written: 1, stale: 0 });
    await index.refresh();
    expect(await index.countMessages(mailboxId)).toBe(1);
    expect(await index.folderCounts(mailboxId)).toEqual({ archive: { total: 1, unread: 1 } });
    expect(await index.getMessage(mailboxId, 'm1')).toEqual(moved);
  });

  it('reads the current state of messages by id, a write just made included, and only those of the mailbox', async () => {
    const mailboxId = unique('mbx');
    const otherMailbox = unique('mbx');
    const full = message(mailboxId, 'full', { isRead: true, flagStatus: 'flagged', receivedAt: '2024-03-01T09:15:30Z' });
    const sparse = message(mailboxId, 'sparse', { subject: '', from: null, receivedAt: null, flagStatus: 'complete' });
    await index.upsertMessages([full, sparse, message(otherMailbox, 'elsewhere')]);
    const state = (doc: MessageDoc) => ({
      messageId: doc.messageId,
      folderId: doc.folderId,
      folderName: doc.folderName,
      subject: doc.subject,
      from: doc.from,
      receivedAt: doc.receivedAt === null ? null : new Date(doc.receivedAt).toISOString(),
      isRead: doc.isRead,
      flagStatus: doc.flagStatus,
    });
    // No refresh: a page's read sees the page written just before it.
    expect(await index.currentStates(mailboxId, ['full', 'sparse', 'unknown', 'elsewhere', 'full'])).toEqual(
      new Map([
        ['full', state(full)],
        ['sparse', state(sparse)],
      ]),
    );
    const moved = message(mailboxId, 'full', { folderId: 'archive', folderName: 'Archive', isRead: false, lastModifiedAt: minutes(1), syncSeq: 2 });
    await index.upsertMessages([moved]);
    expect((await index.currentStates(mailboxId, ['full'])).get('full')).toEqual(state(moved));
    expect(await index.currentStates(otherMailbox, ['full', 'sparse'])).toEqual(new Map());
    expect(await index.currentStates(mailboxId, [])).toEqual(new Map());
  });

  it('reads the current state of more than 1,000 messages at once', async () => {
    const mailboxId = unique('mbx');
    const docs = Array.from({ length: 1_050 }, (_, i) => message(mailboxId, `m-${i}`));
    await upsertInPages(index, docs);
    const states = await index.currentStates(mailboxId, [...docs.map((d) => d.messageId), 'unknown']);
    expect(states.size).toBe(1_050);
    expect(states.get('m-1049')).toMatchObject({ folderId: 'inbox', subject: 'Lunch on Friday', isRead: false });
  });

  it('removes a candidate only while it is still in its folder and not written after its seq', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([
      message(mailboxId, 'gone', { syncSeq: 5 }),
      message(mailboxId, 'moved', { folderId: 'archive', syncSeq: 5 }),
      message(mailboxId, 'rewritten', { syncSeq: 9 }),
      message(mailboxId, 'bystander', { syncSeq: 1 }),
    ]);
    await index.refresh();
    const removed = await index.removeMessages(mailboxId, [
      { messageId: 'gone', folderId: 'inbox', seq: 5 }, // same seq: still the removal's
      { messageId: 'moved', folderId: 'inbox', seq: 10 }, // now in another folder
      { messageId: 'rewritten', folderId: 'inbox', seq: 8 }, // written after the removal was seen
      { messageId: 'never-indexed', folderId: 'inbox', seq: 10 },
    ]);
    expect(removed).toEqual(['gone']);
    await index.refresh();
    expect(await index.getMessage(mailboxId, 'gone')).toBeUndefined();
    expect(await index.getMessage(mailboxId, 'moved')).toBeDefined();
    expect(await index.getMessage(mailboxId, 'rewritten')).toBeDefined();
    expect(await index.countMessages(mailboxId)).toBe(3);
    expect(await index.removeMessages(mailboxId, [])).toEqual([]);
  });

  it('makes a write searchable before it returns when asked (visibleNow), for upserts and removals', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([message(mailboxId, 'seen-at-once', { syncSeq: 1 })], { visibleNow: true });
    expect((await index.searchMessages({ mailboxIds: [mailboxId], limit: 10 })).data.map((d) => d.messageId)).toEqual(['seen-at-once']);
    expect(await index.removeMessages(mailboxId, [{ messageId: 'seen-at-once', folderId: 'inbox', seq: 1 }], { visibleNow: true })).toEqual(['seen-at-once']);
    expect((await index.searchMessages({ mailboxIds: [mailboxId], limit: 10 })).data).toEqual([]);
  });

  it('sweeps a folder below a seq and deletes a folder, paging past 1,000 messages, touching nothing else', async () => {
    const mailboxId = unique('mbx');
    const otherMailbox = unique('mbx');
    const id = (i: number) => `msg-${String(i).padStart(5, '0')}`;
    const big = Array.from({ length: 2_150 }, (_, i) =>
      message(mailboxId, id(i), {
        folderId: 'big',
        folderName: 'Big',
        syncSeq: i < 1_100 ? 10 : i < 1_150 ? 15 : 20,
      }),
    );
    const small = Array.from({ length: 5 }, (_, i) => message(mailboxId, `small-${i}`, { folderId: 'small', syncSeq: 10 }));
    const elsewhere = Array.from({ length: 5 }, (_, i) => message(otherMailbox, id(i), { folderId: 'big', syncSeq: 10 }));
    await upsertInPages(index, [...big, ...small, ...elsewhere]);
    await index.refresh();
    expect(await index.countMessages(mailboxId)).toBe(2_155);

    expect(await index.sweepFolder(mailboxId, 'big', 15)).toBe(1_100);
    await index.refresh();
    expect(await index.folderCounts(mailboxId)).toEqual({ big: { total: 1_050, unread: 1_050 }, small: { total: 5, unread: 5 } });
    expect(await index.getMessage(mailboxId, id(1_100))).toMatchObject({ syncSeq: 15 }); // at the seq: kept
    expect(await index.countMessages(otherMailbox)).toBe(5);

    expect(await index.deleteFolderMessages(mailboxId, 'big')).toBe(1_050);
    await index.refresh();
    expect(await index.folderCounts(mailboxId)).toEqual({ small: { total: 5, unread: 5 } });
    expect(await index.countMessages(otherMailbox)).toBe(5);
    expect(await index.deleteFolderMessages(mailboxId, 'big')).toBe(0);
  });

  it('renames a folder on its messages only, and the next sync still writes them', async () => {
    const mailboxId = unique('mbx');
    const otherMailbox = unique('mbx');
    const inFolder = [1, 2, 3].map((i) => message(mailboxId, `f-${i}`, { folderId: 'f1', folderName: 'Old', syncSeq: 4 }));
    await index.upsertMessages([
      ...inFolder,
      message(mailboxId, 'g-1', { folderId: 'f2', folderName: 'Other' }),
      message(otherMailbox, 'f-1', { folderId: 'f1', folderName: 'Old' }),
    ]);
    await index.refresh();
    await index.renameFolder(mailboxId, 'f1', 'Renamed');
    await index.refresh();
    for (const doc of inFolder) expect(await index.getMessage(mailboxId, doc.messageId)).toEqual({ ...doc, folderName: 'Renamed' });
    expect(await index.getMessage(mailboxId, 'g-1')).toMatchObject({ folderName: 'Other' });
    expect(await index.getMessage(otherMailbox, 'f-1')).toMatchObject({ folderName: 'Old' });

    // A re-listed copy (same version) still rewrites its syncSeq, and a newer version still lands.
    expect(await index.upsertMessages([{ ...inFolder[0]!, folderName: 'Renamed', syncSeq: 99 }])).toMatchObject({ written: 1, stale: 0 });
    expect(await index.upsertMessages([{ ...inFolder[1]!, folderName: 'Renamed', lastModifiedAt: at(T0 + 1), syncSeq: 100 }])).toMatchObject({
      written: 1,
      stale: 0,
    });
    expect(await index.getMessage(mailboxId, 'f-1')).toMatchObject({ syncSeq: 99 });
    expect(await index.getMessage(mailboxId, 'f-2')).toMatchObject({ syncSeq: 100 });
    await index.renameFolder(mailboxId, 'f1', 'Renamed');
    await index.renameFolder(mailboxId, 'no-such-folder', 'Whatever');
  });

  it('deletes a mailbox: its messages and its document, and no other mailbox', async () => {
    const [gone, kept] = [unique('mbx'), unique('mbx')];
    await index.upsertMessages([message(gone, 'm1'), message(gone, 'm2', { folderId: 'archive' }), message(kept, 'm1')]);
    await index.putMailbox(mailbox(gone));
    await index.putMailbox(mailbox(kept));
    await index.refresh();
    await index.deleteMailbox(gone);
    await index.refresh();
    expect(await index.countMessages(gone)).toBe(0);
    expect(await index.getMessage(gone, 'm1')).toBeUndefined();
    expect(await index.getMailbox(gone)).toBeUndefined();
    expect(await index.countMessages(kept)).toBe(1);
    expect(await index.getMailbox(kept)).toEqual(mailbox(kept));
    await index.deleteMailbox(unique('mbx'));
  });

  it('lists newest first, undated last, ties by messageId in byte order', async () => {
    const mailboxId = unique('mbx');
    const docs = [
      message(mailboxId, 'older', { receivedAt: minutes(60) }),
      message(mailboxId, 'a-tie', { receivedAt: minutes(180) }),
      message(mailboxId, 'B-tie', { receivedAt: minutes(180) }),
      message(mailboxId, '_tie', { receivedAt: minutes(180) }),
      message(mailboxId, 'newest', { receivedAt: minutes(300) }),
      message(mailboxId, 'undated-2', { receivedAt: null }),
      message(mailboxId, 'undated-1', { receivedAt: null }),
    ];
    await index.upsertMessages(docs);
    await index.refresh();
    const page = await index.searchMessages({ mailboxIds: [mailboxId], limit: 50 });
    expect(ids(page)).toEqual(['newest', 'B-tie', '_tie', 'a-tie', 'older', 'undated-1', 'undated-2']);
    expect(ids(page)).toEqual(expectedOrder(docs));
    expect(page.nextCursor).toBeNull();
  });

  it('filters by folder, read state and flag', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([
      message(mailboxId, 'i1', { receivedAt: minutes(4), isRead: true, flagStatus: 'flagged' }),
      message(mailboxId, 'i2', { receivedAt: minutes(3) }),
      message(mailboxId, 'i3', { receivedAt: minutes(2), flagStatus: 'complete' }),
      message(mailboxId, 'a1', { receivedAt: minutes(1), folderId: 'archive', isRead: true }),
    ]);
    await index.refresh();
    const search = async (filters: { folderId?: string; isRead?: boolean; flagged?: boolean }) =>
      ids(await index.searchMessages({ mailboxIds: [mailboxId], limit: 10, ...filters }));
    expect(await search({ folderId: 'inbox' })).toEqual(['i1', 'i2', 'i3']);
    expect(await search({ folderId: 'archive' })).toEqual(['a1']);
    expect(await search({ folderId: 'nowhere' })).toEqual([]);
    expect(await search({ isRead: false })).toEqual(['i2', 'i3']);
    expect(await search({ isRead: true })).toEqual(['i1', 'a1']);
    expect(await search({ flagged: true })).toEqual(['i1']);
    expect(await search({ flagged: false })).toEqual(['i2', 'i3', 'a1']);
    expect(await search({ folderId: 'inbox', isRead: false, flagged: false })).toEqual(['i2', 'i3']);
  });

  it('matches every word of the text against the subject, the sender name and the sender address', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([
      message(mailboxId, 't1', { receivedAt: minutes(4), subject: 'Quarterly report for March', from: { name: 'Jane Doe', address: 'jane.doe@example.com' } }),
      message(mailboxId, 't2', { receivedAt: minutes(3), subject: 'Lunch plans', from: { name: 'Mark Smith', address: 'mark@corp.test' } }),
      message(mailboxId, 't3', { receivedAt: minutes(2), subject: 'Re: budget', from: null }),
      message(mailboxId, 't4', { receivedAt: minutes(1), subject: '100% done', from: { name: 'Ops', address: 'ops@corp.test' } }),
    ]);
    await index.refresh();
    const search = async (text: string) => ids(await index.searchMessages({ mailboxIds: [mailboxId], limit: 10, text }));
    expect(await search('quarterly')).toEqual(['t1']); // a whole word of the subject
    expect(await search('QUARTERLY Report')).toEqual(['t1']); // any case, every word
    expect(await search('budget')).toEqual(['t3']);
    expect(await search('jane')).toEqual(['t1']); // a word of the sender's name
    expect(await search('Smith')).toEqual(['t2']);
    expect(await search('jane.doe@example.com')).toEqual(['t1']); // the full address
    expect(await search('jane.doe')).toEqual(['t1']); // its local part
    expect(await search('mark')).toEqual(['t2']);
    expect(await search('quarterly jane')).toEqual(['t1']); // words from different fields
    expect(await search('100%')).toEqual(['t4']);
    expect(await search('zebra')).toEqual([]); // a word that appears nowhere
    expect(await search('quarterly zebra')).toEqual([]);
    expect(await search('   ')).toEqual(['t1', 't2', 't3', 't4']); // blank: no text filter
  });

  it('honours the limit and ends with a null cursor', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([1, 2, 3, 4, 5].map((i) => message(mailboxId, `m${i}`, { receivedAt: minutes(i) })));
    await index.refresh();
    const first = await index.searchMessages({ mailboxIds: [mailboxId], limit: 2 });
    expect(ids(first)).toEqual(['m5', 'm4']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const exact = await index.searchMessages({ mailboxIds: [mailboxId], limit: 5 });
    expect(ids(exact)).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
    expect(exact.nextCursor).toBeNull();
    expect((await index.searchMessages({ mailboxIds: [mailboxId], limit: 10 })).nextCursor).toBeNull();
  });

  it('pages through 250 messages, 40 at a time, with no duplicate and no gap, in the contract order', async () => {
    const mailboxId = unique('mbx');
    // Ties on receivedAt, mixed-case ids (byte order differs from a locale's) and 25 undated messages across a page boundary.
    const docs = Array.from({ length: 250 }, (_, i) =>
      message(mailboxId, `${['A', 'b', '_'][i % 3]!}${String(i).padStart(3, '0')}`, {
        receivedAt: i % 10 === 0 ? null : minutes(i % 37),
      }),
    );
    await upsertInPages(index, docs, 100);
    await index.refresh();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await index.searchMessages({ mailboxIds: [mailboxId], limit: 40, ...(cursor ? { cursor } : {}) });
      expect(page.data.length).toBeLessThanOrEqual(40);
      seen.push(...ids(page));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBe(7);
    expect(new Set(seen).size).toBe(250);
    expect(seen).toEqual(expectedOrder(docs));
  });

  it('refuses a cursor it did not make', async () => {
    const mailboxId = unique('mbx');
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of ['not a cursor!', 'e30', encode([1, 2]), encode(['x', 'y']), encode([null, '']), encode([1e20, 'm1']), encode({ r: 1 })]) {
      await expect(index.searchMessages({ mailboxIds: [mailboxId], limit: 10, cursor })).rejects.toThrow(InvalidCursorError);
    }
  });

  it('finds nothing for an empty list of mailboxes', async () => {
    expect(await index.searchMessages({ mailboxIds: [], limit: 10 })).toEqual({ data: [], nextCursor: null });
  });

  it('searches several mailboxes of one account as one list', async () => {
    const [a, b] = [unique('mbx'), unique('mbx')];
    await index.upsertMessages([
      message(a, 'x1', { receivedAt: minutes(1) }),
      message(a, 'x3', { receivedAt: minutes(3) }),
      message(b, 'y2', { receivedAt: minutes(2) }),
      message(b, 'y4', { receivedAt: minutes(4) }),
    ]);
    await index.refresh();
    expect(ids(await index.searchMessages({ mailboxIds: [a, b], limit: 10 }))).toEqual(['y4', 'x3', 'y2', 'x1']);
    expect(ids(await index.searchMessages({ mailboxIds: [a], limit: 10 }))).toEqual(['x3', 'x1']);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await index.searchMessages({ mailboxIds: [a, b], limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...ids(page));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['y4', 'x3', 'y2', 'x1']);
  });

  it('counts messages, in total and unread per folder', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([
      message(mailboxId, 'i1'),
      message(mailboxId, 'i2'),
      message(mailboxId, 'i3', { isRead: true }),
      message(mailboxId, 'a1', { folderId: 'archive', isRead: true }),
      message(mailboxId, 'a2', { folderId: 'archive', isRead: true }),
      message(mailboxId, 's1', { folderId: 'sent' }),
    ]);
    await index.refresh();
    expect(await index.folderCounts(mailboxId)).toEqual({
      inbox: { total: 3, unread: 2 },
      archive: { total: 2, unread: 0 },
      sent: { total: 1, unread: 1 },
    });
    expect(await index.countMessages(mailboxId)).toBe(6);
    const unknown = unique('mbx');
    expect(await index.folderCounts(unknown)).toEqual({});
    expect(await index.countMessages(unknown)).toBe(0);
  });

  it('stores and replaces the mailbox document', async () => {
    const mailboxId = unique('mbx');
    await index.putMailbox(mailbox(mailboxId));
    await index.refresh();
    expect(await index.getMailbox(mailboxId)).toEqual(mailbox(mailboxId));
    const updated: MailboxDoc = { ...mailbox(mailboxId), displayName: null, lastSyncAt: null, errors: [], folders: [], phase: 'initial' };
    await index.putMailbox(updated);
    await index.refresh();
    expect(await index.getMailbox(mailboxId)).toEqual(updated);
    expect(await index.getMailbox(unique('mbx'))).toBeUndefined();
  });

  it.runIf(backend === 'elasticsearch')('routes every message document by its mailbox', async () => {
    const mailboxId = unique('mbx');
    await index.upsertMessages([message(mailboxId, 'm1')]);
    await index.refresh();
    const alias = `${runPrefix}-messages`;
    const stored = await elasticsearch!.get({ index: alias, id: `${mailboxId}:m1`, routing: mailboxId });
    expect(stored._routing).toBe(mailboxId);
    expect(stored._index).toBe(`${alias}-v1`);
    const hits = await elasticsearch!.search({ index: alias, query: { term: { mailboxId } } });
    expect(hits.hits.hits.map((hit) => hit._routing)).toEqual([mailboxId]);
    // The mapping requires routing: a write without it is refused rather than landing on another shard.
    await expect(elasticsearch!.index({ index: alias, id: `${mailboxId}:m2`, document: message(mailboxId, 'm2') })).rejects.toThrow(/routing/);
  });

  it.runIf(backend === 'elasticsearch')('fails a page with a refused document, naming the index and not the content', async () => {
    const mailboxId = unique('mbx');
    // A keyword beyond Lucene's 32,766-byte term limit: Elasticsearch refuses the document and quotes its value.
    const refused = message(mailboxId, 'm2', { folderId: `secret-${'x'.repeat(40_000)}` });
    const failure = await index.upsertMessages([message(mailboxId, 'm1'), refused]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    const text = (failure as Error).message;
    expect(text).toContain(`${runPrefix}-messages`);
    expect(text).toContain('document_parsing_exception');
    expect(text).not.toContain('secret-');
    expect(text).not.toContain('xxxx');
  });
});

function mailbox(mailboxId: string): MailboxDoc {
  return {
    accountId: 'acc-contract',
    mailboxId,
    provider: 'outlook',
    address: 'me@example.test',
    displayName: 'Me',
    folders: [
      { id: 'inbox', name: 'Inbox', parentId: null, total: 3, unread: 1 },
      { id: 'reports', name: 'Reports', parentId: 'inbox', total: 0, unread: 0 },
    ],
    syncStatus: 'LIVE',
    phase: 'steady',
    messagesIndexed: 3,
    lastSyncAt: minutes(30),
    errors: [{ at: minutes(20), message: 'Graph answered 503' }],
    updatedAt: minutes(31),
  };
}
