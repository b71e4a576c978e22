// A move in the same second as the message's previous change: Graph's timestamps are whole seconds, so the
// source folder's page fetched before the move and the destination's fetched after it carry the same
// lastModifiedDateTime. Whichever page is applied first, the message ends in the destination folder, once,
// and the source's removal round does not delete it. The simulator's frozen clock makes the two changes
// share their second, and its answered-on-arrival hold makes the source's page stale but late.
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { mailboxFolders } from '../../db/schema/index.js';
import { until, useSyncRig } from '../helpers/mailbox-sync.js';

const rig = useSyncRig();

const folderCursor = async (mailboxId: string, folderId: string) => {
  const [row] = await rig.api.deps.db
    .select({ cursor: mailboxFolders.cursor })
    .from(mailboxFolders)
    .where(and(eq(mailboxFolders.mailboxId, mailboxId), eq(mailboxFolders.folderId, folderId)));
  return row?.cursor ?? null;
};
const indexedFolder = async (mailboxId: string, messageId: string) => {
  await rig.api.deps.mailIndex.refresh();
  return (await rig.api.deps.mailIndex.getMessage(mailboxId, messageId))?.folderId;
};
/** The folder's next recorded page: its cursor moves (one page of a folder is in flight at a time). */
const nextPageRecorded = async (mailboxId: string, folderId: string, after: string | null) => {
  let cursor = after;
  await until("the folder's next page to be recorded", async () => (cursor = await folderCursor(mailboxId, folderId)) !== after, 30_000);
  return cursor;
};

/**
 * A mailbox whose first inbox message was just changed in second S (the clock frozen there), and whose inbox
 * page showing that change was answered on arrival and is held, not yet delivered.
 */
async function staleInboxPageHeld() {
  const { address, accountId, mailboxId } = await rig.linkNew({ messages: 10 });
  await rig.waitForMirror(address, accountId);
  await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
  const sim = await rig.outlook.mailbox(address);
  const inbox = sim.wellKnownFolders.inbox;
  const archive = sim.wellKnownFolders.archive;
  const [m] = await rig.outlook.messages(address, 'inbox');
  await rig.outlook.configure({ clockFrozenAt: new Date().toISOString() });
  expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/pause`, { method: 'POST' })).status).toBe(202);
  await rig.waitForMailbox(mailboxId, (x) => x.status === 'PAUSED' && x.sync.progress?.requestsInFlight === 0);
  const read = await rig.outlook.act(address, { type: 'markRead', id: m!.id, isRead: !m!.isRead });
  await rig.outlook.configure({ holdAnsweredFolders: ['inbox'] });
  const heldFrom = await folderCursor(mailboxId, inbox);
  expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resume`, { method: 'POST' })).status).toBe(202);
  await until('the inbox page to be answered and held', async () => (await rig.outlook.stats()).heldAnswers >= 1);
  return { address, accountId, mailboxId, inbox, archive, id: m!.id, readAt: read.lastModifiedDateTime as string, heldFrom };
}

/** After the source's removal round has been recorded and resolved, the message is in the archive, once. */
async function survivesTheRemovalRound(held: Awaited<ReturnType<typeof staleInboxPageHeld>>, staleRecorded: string | null) {
  await nextPageRecorded(held.mailboxId, held.inbox, staleRecorded); // the round that reports the move as @removed
  await until('the removal to be resolved', async () => (await rig.pendingRemovals(held.mailboxId, held.id)).length === 0, 30_000);
  expect(await indexedFolder(held.mailboxId, held.id)).toBe(held.archive);
  const mirrored = await rig.waitForMirror(held.address, held.accountId);
  expect(mirrored).toHaveLength(10);
  expect(mirrored.filter((x) => x.id === held.id).map((x) => x.folder.id)).toEqual([held.archive]);
}

describe('a move in the same second as the change before it', () => {
  it("ends in the destination when the source's stale page is applied after the destination's", async () => {
    try {
      const held = await staleInboxPageHeld();
      const moved = await rig.outlook.act(held.address, { type: 'move', id: held.id, to: 'archive' });
      expect(moved.lastModifiedDateTime).toBe(held.readAt); // one version, two views
      await until("the destination's page to be applied", async () => (await indexedFolder(held.mailboxId, held.id)) === held.archive);
      await rig.outlook.configure({ holdAnsweredFolders: [] });
      const staleRecorded = await nextPageRecorded(held.mailboxId, held.inbox, held.heldFrom);
      expect(await indexedFolder(held.mailboxId, held.id)).toBe(held.archive);
      await survivesTheRemovalRound(held, staleRecorded);
    } finally {
      await rig.outlook.configure({ holdAnsweredFolders: [], holdFolders: [], clockFrozenAt: null });
    }
  }, 90_000);

  it("ends in the destination when the source's stale page is applied before the destination's", async () => {
    try {
      const held = await staleInboxPageHeld();
      // The destination is not read until the source's stale page is in.
      await rig.outlook.configure({ holdFolders: ['archive'] });
      const moved = await rig.outlook.act(held.address, { type: 'move', id: held.id, to: 'archive' });
      expect(moved.lastModifiedDateTime).toBe(held.readAt);
      await rig.outlook.configure({ holdAnsweredFolders: [] });
      const staleRecorded = await nextPageRecorded(held.mailboxId, held.inbox, held.heldFrom);
      expect(await indexedFolder(held.mailboxId, held.id)).toBe(held.inbox);
      await rig.outlook.configure({ holdFolders: [] });
      await until("the destination's page to be applied", async () => (await indexedFolder(held.mailboxId, held.id)) === held.archive);
      await survivesTheRemovalRound(held, staleRecorded);
    } finally {
      await rig.outlook.configure({ holdAnsweredFolders: [], holdFolders: [], clockFrozenAt: null });
    }
  }, 90_000);
});
