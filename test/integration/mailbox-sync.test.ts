// Mailbox sync end to end: mailboxes linked through OAuth against the Outlook simulator, synced by the
// real sync worker role on the real Temporal server into the real index, then followed change by change.
// Orders that matter (a folder read before another, a change landing mid-sync) are forced with the
// simulator's folder holds and the workflow's pause, never left to timing.
import { eq } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { secrets } from '../../db/schema/index.js';
import { tokenCacheName } from '../../lib/mailbox-sync/outlook/token-cache.js';
import { syncProgressQuery } from '../../workflows/mailbox-sync.js';
import { until, type SyncRig, useSyncRig } from '../helpers/mailbox-sync.js';

const rig = useSyncRig();

const folderOf = async (address: string, wellKnown: 'inbox' | 'archive' | 'sentitems' | 'drafts' | 'deleteditems' | 'junkemail') =>
  (await rig.outlook.mailbox(address)).wellKnownFolders[wellKnown];
describe('initial sync', () => {
  it('indexes a 2,000-message mailbox in full: every folder, counts, the account id on every document', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 2_000 });
    const indexed = await rig.waitForMirror(address, accountId, 120_000);
    expect(indexed).toHaveLength(2_000);
    expect(new Set(indexed.map((m) => m.id)).size).toBe(2_000);
    const mailbox = await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    expect(mailbox.sync.messagesInIndex).toBe(2_000);
    const sim = await rig.outlook.mailbox(address);
    for (const folder of sim.folders.filter((f) => f.wellKnownName)) {
      const mine = mailbox.folders.find((f) => f.id === folder.id)!;
      expect(mine).toMatchObject({ name: folder.displayName, synced: true, total: folder.totalItemCount, unread: folder.unreadItemCount });
    }
    const doc = await rig.api.deps.mailIndex.getMessage(mailboxId, indexed[0]!.id);
    expect(doc?.accountId).toBe(accountId);
    // The mailboxes index holds the mailbox's details too.
    const mailboxDoc = await rig.api.deps.mailIndex.getMailbox(mailboxId);
    expect(mailboxDoc).toMatchObject({ accountId, address, syncStatus: 'LIVE' });
    expect(mailboxDoc!.folders.reduce((n, f) => n + f.total, 0)).toBe(2_000);
  }, 150_000);

  it('stores each message as Graph reports it: subject, sender, recipients, dates, ids', async () => {
    const { address, accountId } = await rig.linkNew({ messages: 5 });
    const [indexed] = await rig.waitForMirror(address, accountId);
    const token = await rig.outlook.accessToken(address);
    const graph = (await (await rig.outlook.graph(token, `/v1.0/me/messages/${indexed!.id}`, 'IdType="ImmutableId"')).json()) as Record<string, unknown>;
    const from = (graph.from as { emailAddress: { name: string; address: string } }).emailAddress;
    const doc = (await rig.messages(accountId)).find((m) => m.id === indexed!.id) as unknown as Record<string, unknown>;
    expect(doc).toMatchObject({
      subject: graph.subject,
      from: { name: from.name, address: from.address },
      bodyPreview: graph.bodyPreview,
      conversationId: graph.conversationId,
      internetMessageId: graph.internetMessageId,
      hasAttachments: graph.hasAttachments,
      changeKey: graph.changeKey,
      receivedAt: new Date(graph.receivedDateTime as string).toISOString(),
      lastModifiedAt: new Date(graph.lastModifiedDateTime as string).toISOString(),
    });
    expect((doc.to as unknown[]).length).toBe((graph.toRecipients as unknown[]).length);
  }, 60_000);

  it('loses nothing changed during the initial sync, in folders already synced, mid-sync and not yet read', async () => {
    await rig.outlook.configure({ latencyMs: 60, holdFolders: ['inbox'] });
    try {
      const { address, accountId, mailboxId } = await rig.linkNew({ messages: 1_500 });
      const inbox = await folderOf(address, 'inbox');
      const archive = await folderOf(address, 'archive');
      const sent = await folderOf(address, 'sentitems');
      // Every folder but the held inbox finishes its initial sync; the inbox has not been read at all.
      const early = await rig.waitForMailbox(mailboxId, (m) => m.folders.length >= 6 && m.folders.filter((f) => !f.synced).length === 1);
      expect(early.status).toBe('SYNCING');
      expect(early.folders.find((f) => f.id === inbox)!.synced).toBe(false);
      const inArchive = (await rig.outlook.messages(address, 'archive')).slice(0, 3);
      const inSent = (await rig.outlook.messages(address, 'sentitems')).slice(0, 2);
      await rig.outlook.act(address, { type: 'markRead', id: inArchive[0]!.id, isRead: !inArchive[0]!.isRead });
      await rig.outlook.act(address, { type: 'flag', id: inArchive[1]!.id, flagStatus: 'flagged' });
      await rig.outlook.act(address, { type: 'move', id: inArchive[2]!.id, to: 'inbox' });
      await rig.outlook.act(address, { type: 'delete', id: inSent[0]!.id });
      const unreadInbox = (await rig.outlook.messages(address, 'inbox')).slice(0, 3);
      await rig.outlook.act(address, { type: 'move', id: unreadInbox[0]!.id, to: 'sentitems' });

      // Release the inbox, let a few pages through, and pause while it is mid-way.
      await rig.outlook.configure({ holdFolders: [] });
      await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesInIndex >= 500);
      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/pause`, { method: 'POST' })).status).toBe(202);
      const paused = await rig.waitForMailbox(mailboxId, (m) => m.status === 'PAUSED');
      expect(paused.folders.find((f) => f.id === inbox)!.synced).toBe(false);
      expect(paused.sync.messagesInIndex).toBeLessThan(1_500);
      // While paused: changes to inbox messages both already read and still ahead of the cursor.
      const inboxNow = await rig.outlook.messages(address, 'inbox');
      for (const m of [inboxNow[0]!, inboxNow[Math.floor(inboxNow.length / 2)]!, inboxNow[inboxNow.length - 1]!]) {
        await rig.outlook.act(address, { type: 'markRead', id: m.id, isRead: !m.isRead });
      }
      await rig.outlook.act(address, { type: 'delete', id: inboxNow[1]!.id });
      await rig.outlook.act(address, { type: 'delete', id: inboxNow[inboxNow.length - 2]!.id });
      await rig.outlook.act(address, { type: 'move', id: inboxNow[2]!.id, to: archive });
      await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject: 'Arrived mid-sync' });
      await rig.outlook.act(address, { type: 'flag', id: inSent[1]!.id, flagStatus: 'complete' });
      expect(sent).toBeTruthy();

      expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resume`, { method: 'POST' })).status).toBe(202);
      const mirrored = await rig.waitForMirror(address, accountId, 90_000);
      expect(mirrored.some((m) => m.subject === 'Arrived mid-sync')).toBe(true);
      expect(new Set(mirrored.map((m) => m.id)).size).toBe(mirrored.length);
    } finally {
      await rig.outlook.configure({ latencyMs: 0, holdFolders: [] });
    }
  }, 150_000);
});

describe('following changes', () => {
  it('follows new mail, read, unread, flag, unflag, move and delete', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 40 });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const [a, b, c] = await rig.outlook.messages(address, 'inbox');
    const steps: Parameters<SyncRig['outlook']['act']>[1][] = [
      { type: 'newMail', folder: 'inbox', subject: 'Brand new', from: { name: 'Nia Novak', address: 'nia@fabrikam.test' } },
      { type: 'markRead', id: a!.id, isRead: true },
      { type: 'markRead', id: a!.id, isRead: false },
      { type: 'flag', id: b!.id, flagStatus: 'flagged' },
      { type: 'flag', id: b!.id, flagStatus: 'notFlagged' },
      { type: 'move', id: c!.id, to: 'archive' },
      { type: 'delete', id: b!.id },
    ];
    for (const step of steps) {
      await rig.outlook.act(address, step);
      await rig.waitForMirror(address, accountId, 30_000);
    }
    const [brandNew] = await rig.messages(accountId, { q: 'Brand new' });
    expect(brandNew).toMatchObject({ subject: 'Brand new', from: { name: 'Nia Novak', address: 'nia@fabrikam.test' }, folder: { name: 'Inbox' } });
    const moved = (await rig.messages(accountId)).find((m) => m.id === c!.id);
    expect(moved?.folder.name).toBe('Archive');
  }, 120_000);

  it('follows folders: created, mail moved into it, renamed, deleted with its messages', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 20 });
    await rig.waitForMirror(address, accountId);
    const created = await rig.outlook.act(address, { type: 'createFolder', displayName: 'Receipts' });
    const [first, second] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'move', id: first!.id, to: created.id });
    await rig.outlook.act(address, { type: 'move', id: second!.id, to: created.id });
    await rig.waitForMirror(address, accountId);
    await rig.outlook.act(address, { type: 'renameFolder', folder: created.id, displayName: 'Receipts 2026' });
    await rig.waitForMailbox(mailboxId, (m) => m.folders.some((f) => f.name === 'Receipts 2026'));
    expect((await rig.messages(accountId, { folderId: created.id })).map((m) => m.folder.name)).toEqual(['Receipts 2026', 'Receipts 2026']);
    await rig.outlook.act(address, { type: 'deleteFolder', folder: created.id });
    const mirrored = await rig.waitForMirror(address, accountId);
    expect(mirrored).toHaveLength(18);
    await rig.waitForMailbox(mailboxId, (m) => !m.folders.some((f) => f.id === created.id));
  }, 90_000);

  it('keeps a moved message whichever folder is read first: removal before addition, and addition before removal', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const [first, second] = await rig.outlook.messages(address, 'inbox');

    // The destination is held: the inbox's delta reports the removal first.
    await rig.outlook.configure({ holdFolders: ['archive'] });
    await rig.outlook.act(address, { type: 'move', id: first!.id, to: 'archive' });
    await until('the removal to be recorded', async () => (await rig.pendingRemovals(mailboxId, first!.id)).length > 0);
    await rig.api.deps.mailIndex.refresh();
    expect((await rig.api.deps.mailIndex.getMessage(mailboxId, first!.id))?.folderId).toBe(await folderOf(address, 'inbox'));
    await sleep(1_500); // more rounds of every other folder: still not deleted while the destination is unread
    await rig.api.deps.mailIndex.refresh();
    expect(await rig.api.deps.mailIndex.getMessage(mailboxId, first!.id)).toBeDefined();
    await rig.outlook.configure({ holdFolders: [] });
    await rig.waitForMirror(address, accountId);
    await until('the removal to be resolved', async () => (await rig.pendingRemovals(mailboxId, first!.id)).length === 0);

    // The source is held: the archive's delta reports the addition first; the late removal changes nothing.
    await rig.outlook.configure({ holdFolders: ['inbox'] });
    await rig.outlook.act(address, { type: 'move', id: second!.id, to: 'archive' });
    const archive = await folderOf(address, 'archive');
    await until('the addition to be applied', async () => {
      await rig.api.deps.mailIndex.refresh();
      return (await rig.api.deps.mailIndex.getMessage(mailboxId, second!.id))?.folderId === archive;
    });
    await rig.outlook.configure({ holdFolders: [] });
    const mirrored = await rig.waitForMirror(address, accountId);
    expect(mirrored.find((m) => m.id === second!.id)?.folder.id).toBe(archive);
    expect(mirrored).toHaveLength(10);
  }, 90_000);

  it('changes nothing on replayed items, and never lets an older version overwrite a newer one', async () => {
    const { address, accountId } = await rig.linkNew({ messages: 10 });
    await rig.waitForMirror(address, accountId);
    const [target, other] = await rig.outlook.messages(address, 'inbox');
    // Two versions a second apart (Graph's timestamps are whole seconds: within one, two changes share one).
    const second = Math.floor(Date.now() / 1000) * 1000;
    await rig.outlook.configure({ clockFrozenAt: new Date(second).toISOString() });
    await rig.outlook.act(address, { type: 'markRead', id: target!.id, isRead: !target!.isRead });
    await rig.outlook.configure({ clockFrozenAt: new Date(second + 1_000).toISOString() });
    await rig.outlook.act(address, { type: 'flag', id: target!.id, flagStatus: 'flagged' });
    await rig.outlook.configure({ clockFrozenAt: null });
    await rig.waitForMirror(address, accountId);
    // The newest version is indexed. The next page of the inbox (about another message) also carries the
    // target's previous version, and a replayed item: separate, later writes that must change nothing.
    await rig.outlook.configure({ staleNext: { messageId: target!.id }, replayNext: 1 });
    try {
      await rig.outlook.act(address, { type: 'markRead', id: other!.id, isRead: !other!.isRead });
      const mirrored = await rig.waitForMirror(address, accountId);
      const current = (await rig.outlook.messages(address, 'inbox')).find((m) => m.id === target!.id)!;
      expect(mirrored.find((m) => m.id === target!.id)).toMatchObject({ isRead: current.isRead, flagStatus: 'flagged', changeKey: current.changeKey });
      await until('the stale copy and the replay to be served', async () => {
        const config = await rig.outlook.config();
        return config.staleNext === null && config.replayNext === 0;
      });
      await sleep(1_500);
      expect((await rig.messages(accountId)).find((m) => m.id === target!.id)?.changeKey).toBe(current.changeKey);
      expect(await rig.messages(accountId)).toHaveLength(10);
    } finally {
      await rig.outlook.configure({ staleNext: null, replayNext: 0 });
    }
  }, 60_000);
});

describe('controls and the workflow', () => {
  it('answers the progress query, carries AccountId and MailboxId search attributes, and pauses and resumes', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 30 });
    await rig.waitForMirror(address, accountId);
    const live = await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE' && (m.sync.progress?.roundsCompleted ?? 0) >= 1);
    expect(live.sync.progress).toMatchObject({ phase: 'LIVE', foldersTotal: 6, foldersDone: 6 });
    const handle = rig.api.deps.temporal.workflow.getHandle(`mailbox-sync-${mailboxId}`);
    expect(await handle.query(syncProgressQuery)).toMatchObject({ mailboxId, phase: 'LIVE', messagesIndexed: 30 });
    const description = await handle.describe();
    expect(description.searchAttributes).toMatchObject({ AccountId: [accountId], MailboxId: [mailboxId] });

    await rig.api.request(`/v1/mailboxes/${mailboxId}/pause`, { method: 'POST' });
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'PAUSED' && m.sync.progress?.requestsInFlight === 0);
    const before = (await rig.outlook.requests({ mailbox: address })).length;
    await rig.outlook.act(address, { type: 'newMail', subject: 'While paused' });
    await sleep(2_500); // more than two poll intervals: a paused mailbox makes no request
    expect((await rig.outlook.requests({ mailbox: address })).length).toBe(before);
    await rig.api.request(`/v1/mailboxes/${mailboxId}/resume`, { method: 'POST' });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
  }, 60_000);

  it('runs a full resync on request: every folder read afresh, the same documents, nothing duplicated', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 60 });
    await rig.waitForMirror(address, accountId);
    const before = await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resync`, { method: 'POST' })).status).toBe(202);
    await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesIndexed >= before.sync.messagesIndexed + 60 && m.status === 'LIVE');
    expect(await rig.waitForMirror(address, accountId)).toHaveLength(60);
  }, 60_000);

  it('unlinks: the workflow ends, the documents, token cache and mailbox go, and the same mailbox can be linked again', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 25 });
    await rig.waitForMirror(address, accountId);
    expect((await rig.api.request(`/v1/mailboxes/${mailboxId}`, { method: 'DELETE' })).status).toBe(202);
    await until('the mailbox to be unlinked', async () => (await rig.api.request(`/v1/mailboxes/${mailboxId}`)).status === 404);
    await rig.api.deps.mailIndex.refresh();
    expect(await rig.api.deps.mailIndex.countMessages(mailboxId)).toBe(0);
    expect(await rig.api.deps.mailIndex.getMailbox(mailboxId)).toBeUndefined();
    expect(
      await rig.api.deps.db
        .select()
        .from(secrets)
        .where(eq(secrets.name, tokenCacheName(mailboxId))),
    ).toEqual([]);
    // The mailbox row goes in the workflow's last activity; the run completes one workflow task later.
    const handle = rig.api.deps.temporal.workflow.getHandle(`mailbox-sync-${mailboxId}`);
    await until('the workflow to end', async () => (await handle.describe()).status.name !== 'RUNNING');
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await rig.messages(accountId)).toEqual([]);

    const again = await rig.link(accountId, address);
    expect(again.status).toBe(302);
    expect(again.location?.searchParams.get('mailboxId')).not.toBe(mailboxId);
    expect(await rig.waitForMirror(address, accountId)).toHaveLength(25);
  }, 60_000);
});
