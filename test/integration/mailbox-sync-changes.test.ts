// What kind of change each message the sync wrote was, as the live feed records it (mailbox_events): created,
// updated with the fields that changed, moved with where from, or nothing for mail listed again unchanged;
// and, in a folder's first listing, created only for mail that arrived since the mailbox was linked.
import { describe, expect, it } from 'vitest';
import { SMALL_PAGE } from '../../activities/mailbox-sync/pages.js';
import type { MessageChange } from '../../lib/mailbox-sync/events.js';
import { changesIn, useSyncRig } from '../helpers/mailbox-sync.js';
import { waitUntil } from '../helpers/wait.js';

// Pages of up to 200: a folder's first listing of more than SMALL_PAGE messages is recorded as a reload.
const rig = useSyncRig({ env: { SYNC_PAGE_SIZE: '200' } });

const lastSeq = async (mailboxId: string) => (await rig.feed(mailboxId)).at(-1)?.seq ?? 0;

/** Waits until the mailbox's feed after `afterSeq` names a change to the message, and answers it. */
function changeOf(mailboxId: string, afterSeq: number, messageId: string): Promise<MessageChange> {
  return waitUntil(`a change of ${messageId} on the feed`, async () => changesIn(await rig.feed(mailboxId, afterSeq)).find((c) => c.message.id === messageId));
}

describe('changes on the live feed', () => {
  it('names a message that arrives during the initial sync, in a folder still listing, created, and the imported mail not at all', async () => {
    await rig.outlook.configure({ holdFolders: ['inbox'] });
    try {
      const { address, accountId, mailboxId } = await rig.linkNew({ messages: 150 });
      // Every folder but the held inbox has listed its mail; the inbox has not been read at all.
      await rig.waitForMailbox(mailboxId, (m) => m.folders.length >= 6 && m.folders.filter((f) => !f.synced).length === 1);
      const arrived = await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject: 'Arrived while listing' });
      expect((await rig.outlook.messages(address, 'inbox')).length).toBeGreaterThan(SMALL_PAGE);
      await rig.outlook.configure({ holdFolders: [] });
      await rig.waitForMirror(address, accountId);
      await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');

      const described = (await rig.feed(mailboxId)).filter((e) => e.data.changes);
      expect(described).toHaveLength(1);
      // The inbox's listing is one big page: a reload, with its one change.
      expect(described[0]).toMatchObject({
        type: 'reload',
        data: { changes: [{ kind: 'created', message: { id: arrived.id, subject: 'Arrived while listing' } }] },
      });
      expect(described[0]!.data.changes).toHaveLength(1);
    } finally {
      await rig.outlook.configure({ holdFolders: [] });
    }
  }, 90_000);

  it('names live changes: new mail created, a read updated with isRead, a flag with flagStatus, a move moved from its folder', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 20 });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const folders = (await rig.outlook.mailbox(address)).wellKnownFolders;
    const [read, flagged, moved] = await rig.outlook.messages(address, 'inbox');
    const start = await lastSeq(mailboxId);

    const created = await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject: 'Brand new' });
    expect(await changeOf(mailboxId, start, created.id)).toMatchObject({ kind: 'created', message: { subject: 'Brand new', folder: { id: folders.inbox } } });

    await rig.outlook.act(address, { type: 'markRead', id: read!.id, isRead: !read!.isRead });
    expect(await changeOf(mailboxId, start, read!.id)).toMatchObject({ kind: 'updated', changed: ['isRead'], message: { isRead: !read!.isRead } });

    await rig.outlook.act(address, { type: 'flag', id: flagged!.id, flagStatus: flagged!.flagStatus === 'flagged' ? 'complete' : 'flagged' });
    expect(await changeOf(mailboxId, start, flagged!.id)).toMatchObject({ kind: 'updated', changed: ['flagStatus'] });

    await rig.outlook.act(address, { type: 'move', id: moved!.id, to: 'archive' });
    expect(await changeOf(mailboxId, start, moved!.id)).toEqual({
      kind: 'moved',
      message: expect.objectContaining({ id: moved!.id, folder: { id: folders.archive, name: 'Archive' } }) as unknown,
      from: { id: folders.inbox, name: 'Inbox' },
      changed: [],
    });

    await rig.waitForMirror(address, accountId);
    // One change each, in order, and nothing else (the move's removal from the inbox deletes nothing).
    const changes = changesIn(await rig.feed(mailboxId, start));
    expect(changes.map((c) => [c.kind, c.message.id])).toEqual([
      ['created', created.id],
      ['updated', read!.id],
      ['updated', flagged!.id],
      ['moved', moved!.id],
    ]);
  }, 90_000);

  it('names nothing for mail listed again unchanged: a full resync, and expired delta tokens but for the one read meanwhile', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 60 });
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    // Mail that arrived since the link: listed again, it is still not new.
    const arrived = await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject: 'Arrived after the link' });
    expect(await changeOf(mailboxId, 0, arrived.id)).toMatchObject({ kind: 'created' });
    const live = await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesIndexed >= 61);

    const beforeResync = await lastSeq(mailboxId);
    expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resync`, { method: 'POST' })).status).toBe(202);
    const resynced = await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesIndexed >= live.sync.messagesIndexed + 61 && m.status === 'LIVE');
    const relisted = await rig.feed(mailboxId, beforeResync);
    expect(relisted.some((e) => e.type === 'messages' || e.type === 'reload')).toBe(true);
    expect(changesIn(relisted)).toEqual([]);

    const beforeExpiry = await lastSeq(mailboxId);
    await rig.outlook.configure({ expireDeltaTokens: true });
    const [read] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'markRead', id: read!.id, isRead: !read!.isRead });
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.sync.messagesIndexed >= resynced.sync.messagesIndexed + 61);
    expect(changesIn(await rig.feed(mailboxId, beforeExpiry)).map((c) => [c.kind, c.message.id, c.kind === 'created' ? [] : c.changed])).toEqual([
      ['updated', read!.id, ['isRead']],
    ]);
  }, 90_000);
});
